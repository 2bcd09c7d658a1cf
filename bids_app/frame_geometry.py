"""The cord frame: stacked axial crops centred on each sequence's centreline, and the way back.

The frame has one slice per reference height ``z_mm[k]`` (world z, RAS+ mm, uniform steps, see
:func:`reference_z_range`). Crop voxel ``(i, j, k)`` sits at the world point::

    x = cx[k] - v * (i - c)      (RAS+ x: i grows towards the subject's left)
    y = cy[k] + v * (j - c)      (j grows towards anterior)
    z = z_mm[k]                  (k grows towards superior)

with ``v = CordFrameConfig.voxel_mm`` (0.5 mm), ``c = (crop_size - 1) / 2`` (23.5) and
``(cx, cy) = centerline_xy_mm[k]`` given in **RAS+ world mm**, the numbers of the centreline TSV.
The crop axes are therefore nibabel ``LAS`` (SCT RPI (= nibabel LAS)); in an LAS world frame the
same point reads ``(-cx + v (i - c), cy + v (j - c), z)``, the formula of ARCHITECTURE.md.

:func:`sample_crop` samples a native image at these points in one interpolation;
:func:`crop_to_native` inverts the mapping for every voxel of a native grid; :func:`crop_affine`
gives the affine a QC NIfTI of the crop stack carries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
from nibabel.affines import apply_affine
from numpy.typing import ArrayLike, NDArray

from bids_app.config import CordFrameConfig
from bids_app.errors import GeometryError
from bids_app.geometry import sample_voxels, translate_grid

logger = logging.getLogger(__name__)

DEFAULT_FRAME = CordFrameConfig()

# Reference slices handled together by crop_to_native; each block touches one native sub-box.
_BLOCK_SLICES = 32


def reference_z_range(
    extents_mm: Iterable[tuple[float, float]], *, frame: CordFrameConfig = DEFAULT_FRAME
) -> NDArray[np.float64]:
    """Heights of the reference slices: the union of the cord extents plus a margin.

    The first height is snapped down to a multiple of ``frame.voxel_mm`` so that frames built
    from similar extents share their slices.

    Parameters
    ----------
    extents_mm : iterable of (float, float)
        ``(z_min, z_max)`` of each sequence's cord, world z in RAS+ mm.
    frame : CordFrameConfig
        ``voxel_mm`` is the step and ``z_margin_mm`` the margin added at each end.

    Returns
    -------
    (Z,) float64 array
        Increasing world z of every reference slice, in mm.

    Examples
    --------
    >>> reference_z_range([(0.2, 10.0), (-3.0, 4.0)]).tolist()[:3]
    [-13.0, -12.5, -12.0]
    >>> reference_z_range([(0.2, 10.0), (-3.0, 4.0)])[-1].item()
    20.0
    """
    extents = np.asarray(list(extents_mm), dtype=float).reshape(-1, 2)
    if extents.shape[0] == 0 or not np.all(np.isfinite(extents)):
        raise GeometryError('no finite cord extent to build the reference z range from')
    if np.any(extents[:, 0] > extents[:, 1]):
        raise GeometryError(f'cord extents must be (z_min, z_max) with z_min <= z_max: {extents}')
    step = frame.voxel_mm
    z_lo = extents[:, 0].min() - frame.z_margin_mm
    z_hi = extents[:, 1].max() + frame.z_margin_mm
    z0 = math.floor(z_lo / step + 1e-9) * step
    n = math.ceil((z_hi - z0) / step - 1e-9) + 1
    return z0 + step * np.arange(n)


def mask_z_extent(mask: NDArray, vox2world: ArrayLike) -> tuple[float, float]:
    """World z range of a mask's voxel centres.

    Parameters
    ----------
    mask : (I, J, K) array
        Cord mask; voxels > 0 count.
    vox2world : (4, 4) array-like
        Its NIfTI affine.

    Returns
    -------
    (float, float)
        Lowest and highest world z (RAS+ mm) of a mask voxel centre.

    Examples
    --------
    >>> m = np.zeros((2, 2, 5)); m[1, 1, 1:4] = 1
    >>> mask_z_extent(m, np.diag([1.0, 1.0, 2.0, 1.0]))
    (2.0, 6.0)
    """
    ijk = np.argwhere(np.asarray(mask) > 0)
    if ijk.size == 0:
        raise GeometryError('the cord mask is empty: it has no extent along z')
    z = apply_affine(np.asarray(vox2world, dtype=float), ijk)[:, 2]
    return float(z.min()), float(z.max())


def _frame_step(centerline_xy_mm: NDArray, z_mm: NDArray, frame: CordFrameConfig) -> float:
    """Check a centreline against its reference heights; return the z step in mm."""
    if z_mm.ndim != 1 or z_mm.size == 0:
        raise GeometryError(f'z_mm must be a non-empty 1D array, got shape {z_mm.shape}')
    if centerline_xy_mm.shape != (z_mm.size, 2):
        raise GeometryError(
            f'centreline has shape {centerline_xy_mm.shape}, expected ({z_mm.size}, 2): '
            'one (x, y) per reference slice'
        )
    if not (np.all(np.isfinite(z_mm)) and np.all(np.isfinite(centerline_xy_mm))):
        raise GeometryError('centreline or z_mm holds NaN/Inf: extend it over the whole z range')
    if z_mm.size == 1:
        return frame.voxel_mm
    steps = np.diff(z_mm)
    step = float(steps.mean())
    if step <= 0 or np.ptp(steps) > 1e-3:
        raise GeometryError('z_mm must increase in uniform steps')
    return step


def sample_crop(
    image: NDArray[np.floating],
    vox2world: ArrayLike,
    centerline_xy_mm: ArrayLike,
    z_mm: ArrayLike,
    *,
    order: int = 1,
    frame: CordFrameConfig = DEFAULT_FRAME,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Sample a native image into the cord frame (one interpolation, zero outside the image).

    Parameters
    ----------
    image : (I, J, K) array
        Native image, any voxel order and obliquity.
    vox2world : (4, 4) array-like
        Its NIfTI affine (RAS+ mm).
    centerline_xy_mm : (Z, 2) array-like
        Centreline ``(x, y)`` of this sequence at each reference slice, RAS+ world mm.
    z_mm : (Z,) array-like
        World z of the reference slices, RAS+ mm, increasing in uniform steps.
    order : int
        Spline order (0 for labels, 1 linear, 3 cubic).
    frame : CordFrameConfig
        ``voxel_mm`` and ``crop_size`` of the frame.

    Returns
    -------
    crop : (N, N, Z) float32 array
        The stacked crops, axes ``LAS``, ``N = frame.crop_size``, 0 outside the image.
    coverage : (N, N, Z) bool array
        True where the crop voxel lies inside the image's field of view;
        ``coverage.any(axis=(0, 1))`` is the per-slice coverage.
    """
    centerline = np.asarray(centerline_xy_mm, dtype=float)
    z = np.asarray(z_mm, dtype=float)
    _frame_step(centerline, z, frame)
    if image.ndim != 3:
        raise GeometryError(f'sample_crop needs a 3D image, got shape {image.shape}')
    offsets = frame.voxel_mm * (np.arange(frame.crop_size) - (frame.crop_size - 1) / 2)
    x = centerline[None, None, :, 0] - offsets[:, None, None]  # (N, 1, Z)
    y = centerline[None, None, :, 1] + offsets[None, :, None]  # (1, N, Z)
    world2vox = np.linalg.inv(np.asarray(vox2world, dtype=float))
    ijk = np.stack(
        [world2vox[a, 0] * x + world2vox[a, 1] * y + world2vox[a, 2] * z + world2vox[a, 3]
         for a in range(3)]
    )  # fmt: skip
    return sample_voxels(image, ijk, order=order)


def crop_affine(
    centerline_xy_mm: ArrayLike, z_mm: ArrayLike, *, frame: CordFrameConfig = DEFAULT_FRAME
) -> NDArray[np.float64]:
    """A NIfTI affine for the crop stack, for QC images.

    The centreline is replaced by its least-squares straight line in z, so the affine is exact
    when the centreline is straight (tilted or not: the tilt becomes a shear of the ``k`` column)
    and approximate, off by the centreline's distance from that line, when the cord curves.

    Parameters
    ----------
    centerline_xy_mm : (Z, 2) array-like
        Centreline ``(x, y)`` at each reference slice, RAS+ world mm.
    z_mm : (Z,) array-like
        World z of the reference slices, RAS+ mm, uniform steps.
    frame : CordFrameConfig
        ``voxel_mm`` and ``crop_size`` of the frame.

    Returns
    -------
    (4, 4) float64 array
        ``vox2world`` of the ``(N, N, Z)`` crop, axes ``LAS``.

    Examples
    --------
    >>> aff = crop_affine(np.array([[3.0, -2.0], [3.0, -2.0]]), np.array([10.0, 10.5]))
    >>> aff[:3].tolist()
    [[-0.5, 0.0, 0.0, 14.75], [0.0, 0.5, 0.0, -13.75], [0.0, 0.0, 0.5, 10.0]]
    """
    centerline = np.asarray(centerline_xy_mm, dtype=float)
    z = np.asarray(z_mm, dtype=float)
    step = _frame_step(centerline, z, frame)
    k = np.arange(z.size, dtype=float) - (z.size - 1) / 2  # centred slice index
    mean = centerline.mean(axis=0)
    slope = (k @ (centerline - mean)) / max(float(k @ k), 1.0)
    intercept = mean - slope * (z.size - 1) / 2  # the fitted line at k = 0
    c = (frame.crop_size - 1) / 2
    v = frame.voxel_mm
    return np.array(
        [
            [-v, 0.0, slope[0], intercept[0] + v * c],
            [0.0, v, slope[1], intercept[1] - v * c],
            [0.0, 0.0, step, z[0]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def crop_to_native(
    crop_values: NDArray[np.floating],
    centerline_xy_mm: ArrayLike,
    z_mm: ArrayLike,
    native_shape: tuple[int, int, int],
    native_affine: ArrayLike,
    *,
    order: int = 1,
    frame: CordFrameConfig = DEFAULT_FRAME,
) -> NDArray[np.float32]:
    """Map cord-frame values back onto a native grid (the inverse of :func:`sample_crop`).

    Each native voxel centre at world ``(x, y, z)`` has crop coordinates
    ``k = (z - z_mm[0]) / dz``, ``i = c - (x - cx(z)) / v``, ``j = c + (y - cy(z)) / v``, with the
    centreline linearly interpolated between reference slices; the crop is interpolated there.
    Only native voxels in the boxes around each block of reference slices are visited, so the
    cost follows the cord's length, not the native grid's size.

    Parameters
    ----------
    crop_values : (N, N, Z) array
        Values in the cord frame (probabilities, labels), axes ``LAS``.
    centerline_xy_mm : (Z, 2) array-like
        The centreline the crop was sampled with, RAS+ world mm.
    z_mm : (Z,) array-like
        World z of the reference slices, RAS+ mm, uniform steps.
    native_shape : tuple of int
        Shape ``(I, J, K)`` of the native grid.
    native_affine : (4, 4) array-like
        Its NIfTI affine (RAS+ mm).
    order : int
        Spline order (0 for labels, 1 for probabilities).
    frame : CordFrameConfig
        ``voxel_mm`` and ``crop_size`` of the frame.

    Returns
    -------
    (I, J, K) float32 array
        The values on the native grid, 0 outside the crop.
    """
    centerline = np.asarray(centerline_xy_mm, dtype=float)
    z = np.asarray(z_mm, dtype=float)
    step = _frame_step(centerline, z, frame)
    n = frame.crop_size
    if crop_values.shape != (n, n, z.size):
        raise GeometryError(f'crop has shape {crop_values.shape}, expected ({n}, {n}, {z.size})')
    crop = np.asarray(crop_values, dtype=np.float32)
    shape = tuple(int(s) for s in native_shape[:3])
    vox2world = np.asarray(native_affine, dtype=float)
    world2vox = np.linalg.inv(vox2world)
    out = np.zeros(shape, dtype=np.float32)
    c = (n - 1) / 2
    v = frame.voxel_mm
    reach = v * n / 2  # centre to outer edge of the crop, mm
    for start in range(0, z.size, _BLOCK_SLICES):
        stop = min(start + _BLOCK_SLICES, z.size)
        near = centerline[max(start - 1, 0) : min(stop + 1, z.size)]
        box_world = np.array(
            [
                [near[:, 0].min() - reach, near[:, 0].max() + reach],
                [near[:, 1].min() - reach, near[:, 1].max() + reach],
                [z[start] - step / 2, z[stop - 1] + step / 2],
            ]
        )
        corners = np.array(
            [[a, b, d] for a in box_world[0] for b in box_world[1] for d in box_world[2]]
        )
        corners_ijk = apply_affine(world2vox, corners)
        lo = np.maximum(np.floor(corners_ijk.min(axis=0)).astype(int), 0)
        hi = np.minimum(np.ceil(corners_ijk.max(axis=0)).astype(int), np.array(shape) - 1)
        if np.any(hi < lo):
            continue
        sub_shape = tuple(hi - lo + 1)
        sub_affine = translate_grid(vox2world, lo)
        grids = np.meshgrid(*(np.arange(s, dtype=float) for s in sub_shape), indexing='ij')
        wx, wy, wz = (
            sub_affine[a, 0] * grids[0] + sub_affine[a, 1] * grids[1]
            + sub_affine[a, 2] * grids[2] + sub_affine[a, 3]
            for a in range(3)
        )  # fmt: skip
        cx = np.interp(wz, z, centerline[:, 0])
        cy = np.interp(wz, z, centerline[:, 1])
        crop_ijk = np.stack([c - (wx - cx) / v, c + (wy - cy) / v, (wz - z[0]) / step])
        values, _ = sample_voxels(crop, crop_ijk, order=order)
        out[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] = values
    return out
