"""Fixtures shared by the whole suite: the real datasets in ../shared, and tiny BIDS trees."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / 'shared' / 'data'


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(
            f'{path} is absent (it sits beside the repository only on the project machines)'
        )
    return path


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """``../shared/data``: every real dataset (skips when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f'{SHARED_DATA} is absent (it sits beside the repository only on the project machines)'
        )
    return SHARED_DATA


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread inside the test: tiny tensors gain nothing from two on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def sct_example() -> Path:
    """``../shared/data/sct-example``: real headers and anatomy (skips when absent)."""
    return _shared('sct-example')


@pytest.fixture(scope='session')
def gm_challenge() -> Path:
    """``../shared/data/gm-challenge-t2s``: real axial T2*w, three scanners (skips when absent)."""
    return _shared('gm-challenge-t2s')


@pytest.fixture(scope='session')
def axial_extra() -> Path:
    """``../shared/data/axial-extra``: whole-neck and 7 T axial images (skips when absent)."""
    return _shared('axial-extra')


#: Voxel sizes and axis codes of typical spine acquisitions, for tiny header-only test images.
GEOMETRIES = {
    'sagittal': ((3.0, 0.7, 0.7), 'RAS'),
    'axial': ((0.5, 0.5, 4.0), 'RAS'),
    'isotropic': ((1.0, 1.0, 1.0), 'RAS'),
    'coronal': ((0.7, 3.0, 0.7), 'RAS'),
    'sagittal-psr': ((0.7, 0.7, 3.0), 'PSR'),
}


def _affine(zooms: tuple[float, float, float], axcodes: str) -> np.ndarray:
    """A 4x4 affine whose voxel axes point along ``axcodes`` (nibabel's convention)."""
    world = {'R': (0, 1), 'L': (0, -1), 'A': (1, 1), 'P': (1, -1), 'S': (2, 1), 'I': (2, -1)}
    affine = np.eye(4)
    affine[:3, :3] = 0
    for voxel_axis, code in enumerate(axcodes):
        world_axis, sign = world[code]
        affine[world_axis, voxel_axis] = sign * zooms[voxel_axis]
    affine[:3, 3] = (-30, -30, -100)
    return affine


def write_bids_tree(root: Path, files: Mapping[str, str], *, sessions: bool = False) -> Path:
    """Write a minimal BIDS dataset: ``files`` maps relative paths to a key of ``GEOMETRIES``.

    Images are tiny (4 x 4 x 4) with the header of the named acquisition; non-NIfTI paths are
    written as empty JSON sidecars.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 'test', 'BIDSVersion': '1.10.0'})
    )
    for relative, geometry in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        zooms, axcodes = GEOMETRIES[geometry]
        data = np.zeros((4, 4, 4), dtype=np.int16)
        nib.Nifti1Image(data, _affine(zooms, axcodes)).to_filename(path)
    return root


@pytest.fixture
def bids_tree(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``bids_tree({'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal'})``."""

    def make(files: Mapping[str, str], name: str = 'bids') -> Path:
        return write_bids_tree(tmp_path / name, files)

    return make


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory) -> Path:
    """A random mean-imputation model with tiny widths: fast, says nothing of accuracy."""
    import torch

    from bids_app.model.card import save_model_dir
    from bids_app.model.config import variant_config
    from bids_app.model.network import MultiSequenceUNet

    torch.manual_seed(0)
    config = variant_config('mean-imputation', widths=(4, 8, 8, 8, 8), patch_size=(48, 48, 64))
    path = tmp_path_factory.mktemp('models') / 'tiny'
    save_model_dir(path, MultiSequenceUNet(config), config, {'training': {'note': 'random'}})
    return path


@pytest.fixture(scope='session')
def small_phantoms(tmp_path_factory) -> Path:
    """Two small phantom subjects with every sequence, and their labels (written once)."""
    from bids_app.phantoms.dataset import write_dataset

    root = tmp_path_factory.mktemp('phantoms') / 'bids'
    write_dataset(root, 2, seed=5, small=True, all_sequences=True)
    return root


#: Writes label 3 (C2/C3) at the centre voxel and 4 (C3/C4) 20 voxels below it, on -i's grid;
#: exits 1 when FAKE_SCT_FAIL is set, as SCT does when it finds no C2/C3.
FAKE_LABEL_VERTEBRAE = """#!/usr/bin/env python3
import os, sys
import nibabel as nib, numpy as np
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
open({log!r}, 'a').write(' '.join(sys.argv) + '\\n')
if os.environ.get('FAKE_SCT_FAIL'):
    print('ERROR: disc C2/C3 not found', file=sys.stderr)
    sys.exit(1)
img = nib.load(args['-i'])
labels = np.zeros(img.shape[:3], np.uint8)
sup = int(np.argmax(np.abs(img.affine[2, :3])))
centre = [s // 2 for s in img.shape[:3]]
labels[tuple(centre)] = 3
below = list(centre)
below[sup] -= 20 * int(np.sign(img.affine[2, sup]))
labels[tuple(below)] = 4
stem = os.path.basename(args['-s']).removesuffix('.nii.gz')
out = os.path.join(args['-ofolder'], stem + '_labeled_discs.nii.gz')
nib.Nifti1Image(labels, img.affine).to_filename(out)
"""


@pytest.fixture
def fake_label_vertebrae(tmp_path, monkeypatch):
    """A fake ``sct_label_vertebrae`` on PATH; returns the log of its calls."""
    bin_dir, log = tmp_path / 'bin-label-vertebrae', tmp_path / 'sct_label_vertebrae.log'
    bin_dir.mkdir()
    script = bin_dir / 'sct_label_vertebrae'
    text = FAKE_LABEL_VERTEBRAE.format(log=str(log))
    script.write_text(text.replace('/usr/bin/env python3', sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    return log
