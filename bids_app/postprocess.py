"""From lesion probabilities in the cord frame to a mask: threshold, near the cord, minimum size.

Pure functions on cord-frame arrays (48 x 48 x Z, axes LAS, 0.5 mm); the options are recorded in
the outputs' sidecars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


@dataclass(frozen=True)
class PostprocessOptions:
    """How lesion probabilities become a mask (recorded in the sidecars).

    Parameters
    ----------
    threshold : float
        A voxel is lesion when its probability is at least this.
    min_lesion_mm3 : float
        Connected lesions (26-connectivity) smaller than this are removed.
    cord_margin_mm : float
        Where a cord mask is known, keep voxels within this distance of it.
    centreline_radius_mm : float
        Without a cord mask, keep voxels within this in-plane distance of the crop's centre
        column (the centreline).
    """

    threshold: float = 0.5
    min_lesion_mm3: float = 1.0
    cord_margin_mm: float = 3.0
    centreline_radius_mm: float = 8.0


def remove_small_lesions(mask: NDArray[np.bool_], min_voxels: int) -> NDArray[np.bool_]:
    """Drop 26-connected components with fewer than ``min_voxels`` voxels.

    Examples
    --------
    >>> m = np.zeros((5, 1, 1), bool); m[0] = m[2:5] = True
    >>> remove_small_lesions(m, 2)[:, 0, 0].tolist()
    [False, False, True, True, True]
    """
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if n == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_voxels
    keep[0] = False
    return keep[labels]


def near_cord(
    cord_mask: NDArray[np.bool_], margin_mm: float, voxel_mm: float = 0.5
) -> NDArray[np.bool_]:
    """Voxels within ``margin_mm`` (Euclidean, in mm) of a cord mask in the cord frame."""
    if not cord_mask.any():
        return np.zeros(cord_mask.shape, bool)
    distance = ndimage.distance_transform_edt(~cord_mask, sampling=voxel_mm)
    return distance <= margin_mm


def near_centreline(
    shape: tuple[int, int, int], radius_mm: float, voxel_mm: float = 0.5
) -> NDArray[np.bool_]:
    """Voxels within ``radius_mm`` in-plane of the crop's centre column, shape ``(X, Y, Z)``.

    The crop is centred on the centreline: voxel ``(i, j)`` is ``((i - (X - 1) / 2) * voxel_mm,
    (j - (Y - 1) / 2) * voxel_mm)`` from it.

    Examples
    --------
    >>> near_centreline((4, 4, 1), 0.75)[:, :, 0].astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    i = (np.arange(shape[0]) - (shape[0] - 1) / 2) * voxel_mm
    j = (np.arange(shape[1]) - (shape[1] - 1) / 2) * voxel_mm
    disk = i[:, None] ** 2 + j[None, :] ** 2 <= radius_mm**2
    return np.broadcast_to(disk[:, :, None], shape).copy()


def postprocess(
    probability: NDArray[np.floating],
    options: PostprocessOptions = PostprocessOptions(),
    cord_mask: NDArray[np.bool_] | None = None,
    voxel_mm: float = 0.5,
) -> NDArray[np.bool_]:
    """Threshold, keep what lies near the cord, then drop lesions below the minimum size.

    Parameters
    ----------
    probability : ndarray, shape (X, Y, Z)
        Lesion probability in the cord frame.
    options : PostprocessOptions
    cord_mask : ndarray of bool, shape (X, Y, Z), optional
        Cord mask in the same frame; without it the centreline distance applies.
    voxel_mm : float
        Isotropic voxel size of the frame.

    Returns
    -------
    ndarray of bool, shape (X, Y, Z)
    """
    mask = np.asarray(probability) >= options.threshold
    if cord_mask is not None:
        mask &= near_cord(np.asarray(cord_mask, bool), options.cord_margin_mm, voxel_mm)
    else:
        mask &= near_centreline(mask.shape, options.centreline_radius_mm, voxel_mm)
    min_voxels = math.ceil(options.min_lesion_mm3 / voxel_mm**3 - 1e-9)
    return remove_small_lesions(mask, min_voxels)
