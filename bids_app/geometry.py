"""Small pure helpers on voxel grids and 4x4 affines.

Every affine here is a NIfTI ``vox2world`` matrix: voxel indices ``ijk`` to world millimetres
``xyz_mm`` in nibabel's RAS+ frame (x towards the right, y towards anterior, z towards superior).
A voxel ``i`` covers ``[i - 0.5, i + 0.5]``: an image's field of view runs from ``-0.5`` to
``n - 0.5`` along each axis, and :func:`sample_world` uses that rule for "inside the image".
"""

from __future__ import annotations

import numpy as np
from nibabel.affines import apply_affine
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

# Slack, in voxels, when deciding whether a point lies inside a field of view (float round-off).
_EDGE_TOL = 1e-4


def translate_grid(vox2world: ArrayLike, offset_ijk: ArrayLike) -> NDArray[np.float64]:
    """Affine of the same grid with its first voxel moved to ``offset_ijk``.

    Parameters
    ----------
    vox2world : (4, 4) array-like
        NIfTI affine of the original grid.
    offset_ijk : (3,) array-like
        Voxel of the original grid that becomes voxel ``(0, 0, 0)``; may be negative.

    Returns
    -------
    (4, 4) float64 array
        ``vox2world @ T(offset_ijk)``.

    Examples
    --------
    >>> translate_grid(np.diag([2.0, 2.0, 2.0, 1.0]), [-1, 0, 3])[:3, 3].tolist()
    [-2.0, 0.0, 6.0]
    """
    shift = np.eye(4)
    shift[:3, 3] = np.asarray(offset_ijk, dtype=float)
    return np.asarray(vox2world, dtype=float) @ shift


def fov_corners(shape: tuple[int, ...], vox2world: ArrayLike) -> NDArray[np.float64]:
    """World positions of the eight outer corners of a grid's field of view.

    Parameters
    ----------
    shape : tuple of int
        Grid shape; the first three entries are used.
    vox2world : (4, 4) array-like
        NIfTI affine.

    Returns
    -------
    (8, 3) float64 array
        Corner ``xyz_mm`` (voxel edges, not centres), RAS+.

    Examples
    --------
    >>> c = fov_corners((2, 3, 4), np.eye(4))
    >>> c.min(axis=0).tolist(), c.max(axis=0).tolist()
    ([-0.5, -0.5, -0.5], [1.5, 2.5, 3.5])
    """
    lo = np.full(3, -0.5)
    hi = np.asarray(shape[:3], dtype=float) - 0.5
    corners_ijk = np.array(
        [[hi[0] if a else lo[0], hi[1] if b else lo[1], hi[2] if c else lo[2]]
         for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    )  # fmt: skip
    return apply_affine(np.asarray(vox2world, dtype=float), corners_ijk)


def superior_axis(vox2world: ArrayLike) -> int:
    """Index of the voxel axis closest to the world superior-inferior direction.

    Parameters
    ----------
    vox2world : (4, 4) array-like
        NIfTI affine.

    Returns
    -------
    int
        0, 1 or 2.

    Examples
    --------
    >>> superior_axis([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])  # PSR
    1
    """
    rot = np.asarray(vox2world, dtype=float)[:3, :3]
    return int(np.argmax(np.abs(rot[2]) / np.linalg.norm(rot, axis=0)))


def axis_permutation(vox2world: ArrayLike) -> tuple[int, int, int]:
    """World axis (0 = x, 1 = y, 2 = z) each voxel axis runs along, ignoring its sign.

    Two grids with the same permutation differ at most by flips and small obliquity, so one can
    be resampled onto the other without mixing slice directions.

    Parameters
    ----------
    vox2world : (4, 4) array-like
        NIfTI affine.

    Returns
    -------
    tuple of int
        For voxel axes ``i``, ``j``, ``k``.

    Examples
    --------
    >>> axis_permutation([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])  # PSR
    (1, 2, 0)
    """
    rot = np.abs(np.asarray(vox2world, dtype=float)[:3, :3])
    return tuple(int(a) for a in np.argmax(rot / np.linalg.norm(rot, axis=0), axis=0))


def sample_voxels(
    data: NDArray[np.floating], ijk: NDArray[np.floating], *, order: int = 1
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Interpolate a volume at fractional voxel coordinates, zero outside its field of view.

    A point is inside when every coordinate lies in ``[-0.5, n - 0.5]``; between the outer voxel
    centres and the field-of-view edge the edge voxel's value is used (half a voxel), so a thick
    slice covers its whole thickness.

    Parameters
    ----------
    data : (I, J, K) array
        Volume to sample.
    ijk : (3, ...) array
        Fractional voxel coordinates of the sample points.
    order : int
        Spline order for :func:`scipy.ndimage.map_coordinates` (0 nearest, 1 linear, 3 cubic).

    Returns
    -------
    values : (...) float32 array
        Interpolated values, 0 outside.
    inside : (...) bool array
        True where the point lies inside the field of view.

    Examples
    --------
    >>> v, inside = sample_voxels(np.array([[[0.0, 10.0]]]), np.array([[0, 0, 0], [0, 0, 0],
    ...                                                              [0.25, 1.4, 1.6]]))
    >>> v.tolist(), inside.tolist()
    ([2.5, 10.0, 0.0], [True, True, False])
    """
    shape = np.asarray(data.shape[:3], dtype=float).reshape((3,) + (1,) * (ijk.ndim - 1))
    inside = np.all((ijk >= -0.5 - _EDGE_TOL) & (ijk <= shape - 0.5 + _EDGE_TOL), axis=0)
    coords = np.clip(ijk, 0.0, shape - 1.0)
    values = ndimage.map_coordinates(
        np.asarray(data, dtype=np.float32), coords, order=order, mode='nearest', output=np.float32
    )
    values[~inside] = 0.0
    return values, inside


def sample_world(
    data: NDArray[np.floating],
    vox2world: ArrayLike,
    xyz_mm: NDArray[np.floating],
    *,
    order: int = 1,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Interpolate a volume at world points, zero outside its field of view.

    Parameters
    ----------
    data : (I, J, K) array
        Volume to sample.
    vox2world : (4, 4) array-like
        Its NIfTI affine.
    xyz_mm : (..., 3) array
        World points, RAS+ mm.
    order : int
        Spline order (0 nearest, 1 linear, 3 cubic).

    Returns
    -------
    values : (...) float32 array
        Interpolated values, 0 outside (see :func:`sample_voxels`).
    inside : (...) bool array
        True where the point lies inside the field of view.

    Examples
    --------
    >>> aff = np.diag([-2.0, 1.0, 1.0, 1.0])  # LAS, 2 mm along x
    >>> vol = np.arange(3.0).reshape(3, 1, 1)
    >>> sample_world(vol, aff, np.array([[-3.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))[0].tolist()
    [1.5, 0.0]
    """
    world2vox = np.linalg.inv(np.asarray(vox2world, dtype=float))
    ijk = apply_affine(world2vox, xyz_mm)
    return sample_voxels(data, np.moveaxis(ijk, -1, 0), order=order)
