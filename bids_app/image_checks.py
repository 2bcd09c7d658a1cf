"""Validation of a loaded image before any processing.

A failed check raises :class:`~bids_app.errors.InputImageError` with one line naming the file:
that subject fails and the others go on. Images with NaN or infinite voxels are refused rather
than patched: such values come from a broken conversion or a division upstream, and silently
replacing them would hide that from the user.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bids_app.errors import InputImageError

# Larger images are refused: about 2 GiB as float32, far beyond any spinal-cord MRI.
MAX_VOXELS = 512 * 1024**2


def check_affine(vox2world: ArrayLike, name: str) -> NDArray[np.float64]:
    """Check that a NIfTI affine is a finite, invertible 4x4 matrix.

    Parameters
    ----------
    vox2world : (4, 4) array-like
        The image's affine.
    name : str
        File name for messages.

    Returns
    -------
    (4, 4) float64 array
        The affine.

    Examples
    --------
    >>> check_affine(np.diag([0.5, 0.5, 3.0, 1.0]), 'a.nii.gz')[2, 2].item()
    3.0
    """
    affine = np.asarray(vox2world, dtype=float)
    if affine.shape != (4, 4):
        raise InputImageError(f'{name}: its affine has shape {affine.shape}, not (4, 4)')
    if not np.all(np.isfinite(affine)):
        raise InputImageError(f'{name}: its affine holds NaN/Inf; fix the qform/sform')
    zooms = np.linalg.norm(affine[:3, :3], axis=0)
    linear = affine[:3, :3] / np.where(zooms > 0, zooms, 1.0)
    if zooms.min() < 1e-4 or abs(np.linalg.det(linear)) < 1e-3:
        sizes = ', '.join(f'{z:.3g}' for z in zooms)
        raise InputImageError(
            f'{name}: singular affine (voxel sizes {sizes} mm); fix the qform/sform'
        )
    return affine


def check_shape(
    shape: tuple[int, ...], vox2world: ArrayLike, name: str, *, max_voxels: int = MAX_VOXELS
) -> tuple[int, int, int]:
    """Check what a header says (affine, dimensions, size) before any voxel is read.

    Parameters
    ----------
    shape : tuple of int
        The image's shape; trailing singleton dimensions past the third are dropped.
    vox2world : (4, 4) array-like
        The image's affine.
    name : str
        File name for messages.
    max_voxels : int
        Largest accepted number of voxels.

    Returns
    -------
    (I, J, K) tuple of int
        The 3D shape.

    Examples
    --------
    >>> check_shape((2, 3, 4, 1), np.eye(4), 'a.nii.gz')
    (2, 3, 4)
    """
    check_affine(vox2world, name)
    shape = tuple(int(s) for s in shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) < 3:
        raise InputImageError(f'{name}: is {len(shape)}D (shape {shape}); give a 3D volume')
    if len(shape) > 3:
        raise InputImageError(
            f'{name}: is {len(shape)}D (shape {shape}); give one 3D volume '
            '(e.g. extract one with fslroi)'
        )
    n_voxels = int(np.prod(shape))
    if n_voxels == 0:
        raise InputImageError(f'{name}: has no voxels (shape {shape})')
    if n_voxels > max_voxels:
        raise InputImageError(
            f'{name}: has {n_voxels:,} voxels, more than the {max_voxels:,} accepted; '
            'downsample or crop it'
        )
    return shape[0], shape[1], shape[2]


def check_image(
    data: ArrayLike,
    vox2world: ArrayLike,
    name: str,
    *,
    max_voxels: int = MAX_VOXELS,
    allow_constant: bool = False,
) -> NDArray[np.float32]:
    """Check a loaded image and return it as a 3D float32 array.

    Parameters
    ----------
    data : array-like
        The voxels; a nibabel ``dataobj`` works and is read only after the shape checks pass.
        Trailing singleton dimensions past the third (``(I, J, K, 1)``) are dropped.
    vox2world : (4, 4) array-like
        The image's affine.
    name : str
        File name for messages.
    max_voxels : int
        Largest accepted number of voxels.
    allow_constant : bool
        Accept a constant image: an empty mask (a lesion-free subject) is one.

    Returns
    -------
    (I, J, K) float32 array
        The image.

    Raises
    ------
    InputImageError
        A singular or non-finite affine; fewer than 3 or more than 3 non-trivial dimensions; an
        empty or oversized grid; complex values; NaN or infinite voxels; a constant image.

    Examples
    --------
    >>> check_image(np.arange(24.0).reshape(2, 3, 4, 1), np.eye(4), 'a.nii.gz').shape
    (2, 3, 4)
    """
    shape = check_shape(np.shape(data), vox2world, name, max_voxels=max_voxels)
    array = np.asarray(data)
    if np.iscomplexobj(array):
        raise InputImageError(f'{name}: holds complex values; give a magnitude image')
    volume = array.reshape(shape).astype(np.float32)
    n_bad = int(np.count_nonzero(~np.isfinite(volume)))
    if n_bad:
        raise InputImageError(
            f'{name}: {n_bad:,} of {volume.size:,} voxels are NaN or infinite; '
            'fix the image (e.g. fslmaths -nan) and rerun'
        )
    low, high = float(volume.min()), float(volume.max())
    if low == high and not allow_constant:
        what = 'zero' if low == 0 else f'equal to {low:g}'
        raise InputImageError(
            f'{name}: every voxel is {what}; the image holds no signal: convert it again from '
            'the scanner files, or leave it out (--bids-filter-file)'
        )
    return volume


def qform_sform_distance(shape: tuple[int, ...], qform: ArrayLike, sform: ArrayLike) -> float:
    """Largest distance, in mm, between where the qform and the sform put a corner voxel.

    Parameters
    ----------
    shape : tuple of int
        The image's shape (its first three dimensions are used).
    qform, sform : (4, 4) array-like
        The two affines of a NIfTI header.

    Examples
    --------
    >>> shifted = np.eye(4)
    >>> shifted[2, 3] = 20.0
    >>> qform_sform_distance((10, 10, 10), np.eye(4), shifted)
    20.0
    """
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in shape[:3]], indexing='ij'))
    ijk1 = np.vstack([corners.reshape(3, -1), np.ones((1, 8))])
    moved = (np.asarray(qform, float) @ ijk1 - np.asarray(sform, float) @ ijk1)[:3]
    return float(np.linalg.norm(moved, axis=0).max())
