"""Image reading and writing shared by the interfaces: checks on read, atomic writes."""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from numpy.typing import NDArray

from bids_app.derivatives import atomic_write
from bids_app.errors import InputImageError
from bids_app.headers import load_nifti
from bids_app.image_checks import check_image


def load_image(
    path: str | Path, *, allow_constant: bool = False
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Read a NIfTI image as checked float32 3D data and its affine; ``InputImageError`` if bad."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputImageError(
            f'{path} is a broken link (a DataLad file never fetched?); run `datalad get` on it'
        )
    try:
        img = load_nifti(path)
        data = np.asanyarray(img.dataobj)
    except (OSError, ValueError, EOFError, zlib.error, ImageFileError) as exc:
        raise InputImageError(
            f'{path} cannot be read as NIfTI ({exc}); replace it with a valid image'
        ) from exc
    checked = check_image(data, img.affine, str(path), allow_constant=allow_constant)
    return checked, np.asarray(img.affine, dtype=np.float64)


def load_mask(path: str | Path) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Read a mask (binary or soft) as bool at 0.5, with its affine; it may be empty."""
    data, affine = load_image(path, allow_constant=True)
    return data >= 0.5, affine


def save_image(data: NDArray, affine: NDArray, path: str | Path, *, dtype=None) -> Path:
    """Write a NIfTI image atomically: to a temporary name in the same folder, then rename."""
    path = Path(path)
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype) if dtype else data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units('mm', 'sec')
    suffix = ''.join(path.suffixes[-2:]) if path.name.endswith('.nii.gz') else path.suffix
    atomic_write(path, img.to_filename, suffix=suffix)
    return path


def check_same_grid(
    shape: tuple[int, ...],
    affine: NDArray,
    image_shape: tuple[int, ...],
    image_affine: NDArray,
    path: Path,
    image_name: str,
) -> None:
    """A label must lie on its image's grid (same shape, affine within 1e-3 mm)."""
    if tuple(shape) != tuple(image_shape) or not np.allclose(affine, image_affine, atol=1e-3):
        raise InputImageError(
            f'{path}: its grid (shape {tuple(shape)}) differs from its image {image_name} '
            f'(shape {tuple(image_shape)}) or their affines differ; resample the label onto '
            'the image grid'
        )
