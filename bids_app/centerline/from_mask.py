"""Centreline of the spinal cord from a cord mask: the mask's centroid in each axial slice."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from bids_app.centerline.base import Centerline
from bids_app.errors import GeometryError, InputImageError
from bids_app.geometry import superior_axis

logger = logging.getLogger(__name__)


def centerline_from_mask(mask: NDArray, affine: NDArray[np.float64]) -> Centerline:
    """Centroid of a cord mask in each axial slice, in world millimetres.

    The slices are the image's own slices across the voxel axis closest to world z (for an
    oblique image they are tilted by its obliquity). A soft mask weights each voxel by its value.

    Parameters
    ----------
    mask : (I, J, K) array
        Cord mask (binary or soft, values in [0, 1]) on the grid of ``affine``.
    affine : (4, 4) array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).

    Returns
    -------
    Centerline
        One point per slice that holds some of the mask, confidence 1, and the mask's z extent
        (centres of its lowest and highest slices).

    Raises
    ------
    InputImageError
        If the mask is not 3D or is empty.

    Examples
    --------
    >>> m = np.zeros((5, 5, 3)); m[1:4, 2, :] = 1
    >>> centerline_from_mask(m, np.diag([2.0, 2.0, 3.0, 1.0])).xyz_mm.tolist()
    [[4.0, 4.0, 0.0], [4.0, 4.0, 3.0], [4.0, 4.0, 6.0]]
    """
    weights = np.asarray(mask, dtype=np.float64)
    if weights.ndim != 3:
        raise InputImageError(f'cord mask must be 3D, got shape {weights.shape}')
    if affine.shape != (4, 4):
        raise GeometryError(f'affine must be 4x4, got {affine.shape}')
    weights = np.where(np.isfinite(weights), np.clip(weights, 0.0, None), 0.0)
    if not np.any(weights > 0):
        raise InputImageError('cord mask is empty: give a mask with the cord labelled')
    axis = superior_axis(affine)
    ijk = np.nonzero(weights > 0)
    w = weights[ijk]
    xyz = np.asarray(ijk, dtype=np.float64).T @ affine[:3, :3].T + affine[:3, 3]
    slices = ijk[axis]
    order = np.unique(slices)
    totals = np.bincount(slices, weights=w)[order]
    centroids = np.stack(
        [np.bincount(slices, weights=w * xyz[:, d])[order] / totals for d in range(3)], axis=1
    )
    centroids = centroids[np.argsort(centroids[:, 2])]
    if np.any(np.diff(centroids[:, 2]) <= 0):
        raise GeometryError('cord mask slices do not map to increasing world z: check the affine')
    logger.debug('mask centreline: %d slices', len(centroids))
    return Centerline(centroids, np.ones(len(centroids)), (centroids[0, 2], centroids[-1, 2]))
