"""Rebin a sagittal image into thick slices, as a clinical 2D sagittal T2w or STIR is acquired.

Clinical sagittal sequences have slices 2.5-4 mm thick left-right, while the healthy scans a
site has with cord masks are often 3D at 1 mm. Averaging the 1 mm voxels into thick slices (each
source voxel weighted by its overlap with the slice) gives the anatomy the partial volume of a
thick slice; lesions are then inserted on that grid, so they have it too.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bids_app.geometry import axis_permutation, translate_grid


def left_right_axis(affine: NDArray) -> int:
    """Index of the voxel axis closest to the world left-right direction.

    Examples
    --------
    >>> left_right_axis(np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]))  # PSR
    2
    """
    return axis_permutation(affine).index(0)


def box_weights(n_voxels: int, factor: float) -> NDArray[np.float64]:
    """``(n_slices, n_voxels)`` overlap of each thick slice with each voxel, rows summing to 1.

    Slices are ``factor`` voxels thick, the first starting at the first voxel's edge; the voxels
    left over at the far end (less than one slice) are dropped.

    Examples
    --------
    >>> box_weights(5, 2.5).tolist()
    [[0.4, 0.4, 0.2, 0.0, 0.0], [0.0, 0.0, 0.2, 0.4, 0.4]]
    """
    n_slices = int(np.floor(n_voxels / factor + 1e-9))
    start = np.arange(n_slices)[:, None] * factor
    voxel = np.arange(n_voxels)[None, :]
    overlap = np.minimum(start + factor, voxel + 1) - np.maximum(start, voxel)
    return np.clip(overlap, 0.0, None) / factor


def thick_sagittal(
    data: NDArray, cord: NDArray[np.bool_], affine: NDArray, slice_mm: float
) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.float64]]:
    """An image and its cord mask rebinned into ``slice_mm`` thick slices left-right.

    The cord mask keeps the slices at least half covered by cord.

    Returns
    -------
    data, cord, affine
        On the thick grid; unchanged when the voxels are already at least ``slice_mm`` thick.
    """
    axis = left_right_axis(affine)
    voxel_mm = float(np.linalg.norm(np.asarray(affine, float)[:3, axis]))
    factor = slice_mm / voxel_mm
    # thinner slices than the voxels would be an upsampling, not a thick-slice acquisition
    weights = box_weights(data.shape[axis], factor) if factor > 1.0 else np.empty((0, 0))
    if len(weights) == 0:
        return data.astype(np.float32), cord, np.asarray(affine, float)

    def rebin(volume: NDArray) -> NDArray:
        moved = np.moveaxis(np.asarray(volume, np.float64), axis, 0)
        return np.moveaxis(np.tensordot(weights, moved, axes=1), 0, axis)

    offset = np.zeros(3)
    offset[axis] = (factor - 1) / 2  # the first slice's centre, in source voxels
    new_affine = translate_grid(affine, offset)
    new_affine[:3, axis] *= factor
    return rebin(data).astype(np.float32), rebin(cord) >= 0.5, new_affine
