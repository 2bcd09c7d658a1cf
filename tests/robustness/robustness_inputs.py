"""How each bad input of the robustness battery is made (the registry is ``robustness_cases``).

Shared cases write one subject into a dataset that also holds a good subject
(``make(root, label, good) -> str``, the string the user's line must name); some also need
something to hold while the run lasts (``during(out, label)``: another process holding the
lock, a disk that fills up). Own runs are in ``robustness_scenarios``.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

#: Label of the subject every shared case runs beside: it must always be processed.
GOOD = 'good'


@dataclass(frozen=True)
class Good:
    """A small dataset with one good subject, from which the bad inputs are made."""

    root: Path
    t2sag: Path
    cord_mask: Path

    def image(self) -> nib.Nifti1Image:
        return nib.load(self.t2sag)

    def data(self) -> np.ndarray:
        return np.asanyarray(self.image().dataobj)


def write_good(root: Path) -> Good:
    """A cervical phantom with its sagittal T2w only, cut to 105 mm along S-I (a fast run)."""
    from bids_app.phantoms.dataset import write_subject
    from bids_app.phantoms.subject import make_subject
    from bids_app.slots import Slot

    root.mkdir(parents=True)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 'robustness', 'BIDSVersion': '1.10.0'})
    )
    subject = make_subject(5, label=GOOD, small=True, slots=[Slot.T2Sag])
    images, labels = write_subject(subject, root)
    for path in [*images, *labels]:
        img = nib.load(path)
        cut = img.slicer[:, 77:227, :]  # voxel axes P, I, R: keep the middle 150 of 304
        save(np.asanyarray(cut.dataobj), cut.affine, path)
    t2sag = root / f'sub-{GOOD}' / 'anat' / f'sub-{GOOD}_acq-sag_T2w.nii.gz'
    mask = root / 'derivatives' / 'labels' / f'sub-{GOOD}' / 'anat'
    return Good(root, t2sag, mask / f'sub-{GOOD}_acq-sag_T2w_label-SC_seg.nii.gz')


# -- helpers ----------------------------------------------------------------------------------


def anat(root: Path, label: str, name: str) -> Path:
    """``root/sub-<label>/anat/sub-<label>_<name>``, its folder created."""
    path = root / f'sub-{label}' / 'anat' / f'sub-{label}_{name}'
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def t2sag(root: Path, label: str) -> Path:
    return anat(root, label, 'acq-sag_T2w.nii.gz')


def save(data: np.ndarray, affine: np.ndarray, path: Path) -> Path:
    """Write a NIfTI with qform and sform both set to ``affine``, as DICOM converters do."""
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.to_filename(path)
    return path


def save_sform_only(data: np.ndarray, affine: np.ndarray, path: Path) -> Path:
    """Write a NIfTI whose only affine is its sform (a qform cannot hold a broken matrix)."""
    img = nib.Nifti1Image(data, None)
    img.set_sform(affine, code=2)
    img.set_qform(None, code=0)
    img.to_filename(path)
    return path


def copy_good(root: Path, label: str, good: Good) -> Path:
    """Subject ``label`` with a copy of the good T2Sag."""
    return Path(shutil.copyfile(good.t2sag, t2sag(root, label)))


# -- file cases -------------------------------------------------------------------------------


def make_truncated(root: Path, label: str, good: Good) -> str:
    path = t2sag(root, label)
    content = good.t2sag.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return str(path)


def make_zero_byte(root: Path, label: str, good: Good) -> str:
    path = t2sag(root, label)
    path.write_bytes(b'')
    return str(path)


def make_not_nifti(root: Path, label: str, good: Good) -> str:
    """A web server's error page saved under the image's name (a failed download)."""
    path = t2sag(root, label)
    with gzip.open(path, 'wt') as handle:
        handle.write('<html><body><h1>404 Not Found</h1></body></html>\n')
    return str(path)


def make_broken_link(root: Path, label: str, good: Good) -> str:
    """A DataLad (git-annex) link whose content was never fetched."""
    path = t2sag(root, label)
    key = 'MD5E-s472990--0123456789abcdef0123456789abcdef.nii.gz'
    os.symlink(f'../../.git/annex/objects/Xx/Yy/{key}/{key}', path)
    return str(path)


def make_4d(root: Path, label: str, good: Good) -> str:
    data = good.data()
    return str(save(np.stack([data] * 3, axis=-1), good.image().affine, t2sag(root, label)))


def make_2d(root: Path, label: str, good: Good) -> str:
    data = good.data()
    return str(save(data[:, :, data.shape[2] // 2], good.image().affine, t2sag(root, label)))


def make_nan_inf(root: Path, label: str, good: Good) -> str:
    data = good.data().astype(np.float32)
    data[10, 10, 2], data[20, 20, 3] = np.nan, np.inf
    return str(save(data, good.image().affine, t2sag(root, label)))


def make_all_zero(root: Path, label: str, good: Good) -> str:
    return str(save(np.zeros_like(good.data()), good.image().affine, t2sag(root, label)))


def make_uint16_max(root: Path, label: str, good: Good) -> str:
    """The image scaled to fill uint16 up to 65535: any sum in the stored type would wrap."""
    data = good.data().astype(np.float64)
    scaled = np.round(data / data.max() * 65535).astype(np.uint16)
    return str(save(scaled, good.image().affine, t2sag(root, label)))


def make_singular_affine(root: Path, label: str, good: Good) -> str:
    affine = good.image().affine.copy()
    affine[:3, 2] = 0  # the slice axis points nowhere
    return str(save_sform_only(good.data(), affine, t2sag(root, label)))


def make_nonfinite_affine(root: Path, label: str, good: Good) -> str:
    affine = good.image().affine.copy()
    affine[0, 3] = np.nan
    return str(save_sform_only(good.data(), affine, t2sag(root, label)))


def make_qform_sform(root: Path, label: str, good: Good) -> str:
    """The sform 20 mm above the qform: which one places the image?"""
    affine = good.image().affine
    shifted = affine.copy()
    shifted[2, 3] += 20.0
    img = nib.Nifti1Image(good.data(), affine)
    img.set_qform(affine, code=1)
    img.set_sform(shifted, code=1)
    path = t2sag(root, label)
    img.to_filename(path)
    return str(path)


def make_anisotropic(root: Path, label: str, good: Good) -> str:
    """The sagittal image resampled to 0.3 x 0.3 mm in plane and 10 mm slices (L-R)."""
    img = good.image()
    zooms = np.asarray(img.header.get_zooms()[:3], dtype=float)
    wanted = np.array([0.3, 0.3, 10.0])  # voxel axes P, I, R of the phantom's sagittal grid
    data = ndimage.zoom(good.data().astype(np.float32), zooms / wanted, order=1)
    affine = img.affine.copy()
    affine[:3, :3] = affine[:3, :3] / zooms * wanted
    return str(save(np.round(data).astype(np.int16), affine, t2sag(root, label)))


#: Voxels of the oversized image: more than ``bids_app.image_checks.MAX_VOXELS``.
HUGE_SHAPE = (1024, 1024, 520)


def make_huge(root: Path, label: str, good: Good) -> str:
    """An uncompressed 545 M-voxel image, written sparse (no disk used): it must never be read."""
    path = anat(root, label, 'acq-sag_T2w.nii')
    header = nib.Nifti1Header()
    header.set_data_shape(HUGE_SHAPE)
    header.set_data_dtype(np.uint8)
    header.set_zooms((0.1, 0.1, 0.1))
    header.set_qform(np.diag([0.1, 0.1, 0.1, 1.0]), code=1)
    header.set_sform(np.diag([0.1, 0.1, 0.1, 1.0]), code=1)
    offset = int(header['vox_offset'])
    with path.open('wb') as handle:
        handle.write(header.binaryblock)
        handle.write(b'\0' * (offset - len(header.binaryblock)))
        handle.truncate(offset + int(np.prod(HUGE_SHAPE)))
    return str(path)


# -- dataset cases of one subject -------------------------------------------------------------


def make_only_brain(root: Path, label: str, good: Good) -> str:
    """A brain protocol: a 3D T1w and a FLAIR, no spinal-cord sagittal T2w."""
    volume = np.zeros((32, 32, 32), np.int16)
    volume[8:24, 8:24, 8:24] = 100
    save(volume, np.eye(4), anat(root, label, 'T1w.nii.gz'))
    save(volume, np.eye(4), anat(root, label, 'FLAIR.nii.gz'))
    return f'sub-{label}_FLAIR.nii.gz, sub-{label}_T1w.nii.gz'


def make_unreadable_no_t2w(root: Path, label: str, good: Good) -> str:
    """No T2w at all, and the only image (a T1w) is a failed download."""
    path = anat(root, label, 'T1w.nii.gz')
    with gzip.open(path, 'wt') as handle:
        handle.write('<html><body><h1>404 Not Found</h1></body></html>\n')
    return path.name


def make_two_runs(root: Path, label: str, good: Good) -> str:
    first = anat(root, label, 'acq-sag_run-1_T2w.nii.gz')
    shutil.copyfile(good.t2sag, first)
    shutil.copyfile(good.t2sag, anat(root, label, 'acq-sag_run-2_T2w.nii.gz'))
    return first.name


def make_chunk_gap(root: Path, label: str, good: Good) -> str:
    """Two sagittal slabs, the lower one ending 20 mm below the upper one."""
    data, affine = good.data(), good.image().affine
    save(data, affine, anat(root, label, 'acq-sag_chunk-1_T2w.nii.gz'))
    height = np.abs(affine[2, :3] @ (np.array(data.shape) - 1))
    lower = affine.copy()
    lower[2, 3] -= height + 20.0
    return save(data, lower, anat(root, label, 'acq-sag_chunk-2_T2w.nii.gz')).name


def make_mask_other_grid(root: Path, label: str, good: Good) -> str:
    """A cord mask for ``--cord-masks`` resampled to 1 mm instead of lying on the T2Sag grid."""
    copy_good(root, label, good)
    mask = nib.load(good.cord_mask)
    zooms = np.asarray(mask.header.get_zooms()[:3], dtype=float)
    data = ndimage.zoom(np.asanyarray(mask.dataobj).astype(np.float32), zooms, order=0)
    affine = mask.affine.copy()
    affine[:3, :3] = affine[:3, :3] / zooms
    folder = root / 'derivatives' / 'labels' / f'sub-{label}' / 'anat'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'sub-{label}_acq-sag_T2w_label-SC_seg.nii.gz'
    return str(save(data.astype(np.uint8), affine, path))


# -- environment cases of one subject ---------------------------------------------------------


def make_disk_full(root: Path, label: str, good: Good) -> str:
    copy_good(root, label, good)
    return f'sub_{label}_wf/preproc_wf/fuse_T2Sag/T2Sag.nii.gz'


def make_locked(root: Path, label: str, good: Good) -> str:
    copy_good(root, label, good)
    return f'sub-{label}/.sclesion.lock'


@contextmanager
def disk_full(out: Path, label: str) -> Iterator[None]:
    """Every NIfTI written for subject ``label`` stops half-way with ``ENOSPC``, as on a full disk.

    The run is in this process (``--nprocs 1``), so patching nibabel's writer reaches it. The
    half-written file stays behind, as a full disk leaves it.
    """
    original = nib.Nifti1Image.to_filename

    def to_filename(self, filename, **kwargs):
        original(self, filename, **kwargs)
        if f'sub_{label}_wf' in str(filename) or f'sub-{label}' in str(filename):
            with open(filename, 'r+b') as handle:
                handle.truncate(os.path.getsize(filename) // 2)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    nib.Nifti1Image.to_filename = to_filename
    try:
        yield
    finally:
        nib.Nifti1Image.to_filename = original


_HOLD = (
    'import fcntl, sys, time\n'
    'handle = open(sys.argv[1], "a")\n'
    'fcntl.flock(handle, fcntl.LOCK_EX)\n'
    'print("held", flush=True)\n'
    'time.sleep(600)\n'
)


@contextmanager
def lock_held(out: Path, label: str) -> Iterator[None]:
    """Another process holds subject ``label``'s lock while the run lasts (a second sclesion)."""
    with _held(out / f'sub-{label}' / '.sclesion.lock'):
        yield


def make_shared_work(root: Path, label: str, good: Good) -> str:
    copy_good(root, label, good)
    return f'sub_{label}_wf.lock'


@contextmanager
def work_lock_held(out: Path, label: str) -> Iterator[None]:
    """A sclesion run into another output folder, with the same ``-w``, holds ``label``."""
    from bids_app.workflows.base import workflow_name

    with _held(out.parent / 'work' / workflow_name() / f'sub_{label}_wf.lock'):
        yield


@contextmanager
def _held(lock: Path) -> Iterator[None]:
    """Another process holds ``lock`` (``flock``) while the context lasts."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, '-c', _HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        if holder.stdout.readline().strip() != 'held':
            raise RuntimeError('the lock holder did not start')
        yield
    finally:
        holder.kill()
        holder.wait()
