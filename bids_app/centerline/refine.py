"""Re-centre a rough centreline on the cord itself, slice by slice, from the cord's edges.

In every axial-ish slice, rays leave the current centre in ``N_RAYS`` directions. Along each
ray the cord's edge is where the intensity first crosses half-way between the cord (the median
near the centre) and the CSF (the extreme of that ray within the canal): the edge definition that
blur and partial volume move symmetrically. The cord is centrally symmetric to first order, so
the centre bisects every chord through it: the in-plane shift ``d`` that makes each pair of
opposite edges equidistant solves a small robust least-squares problem, ``(r(a) - r(a + pi)) / 2
= d . (cos a, sin a)``. Rays that leave the image, find no CSF or an implausible edge give no
evidence. Three passes move the centre onto the cord.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

#: Ray directions per slice (even: rays come in opposite pairs).
N_RAYS = 32
#: Radial step along the rays, in mm.
RAY_STEP_MM = 0.25
#: Radius range, in mm, in which a cord edge is plausible (cord semi-axes 3 to 8 mm).
EDGE_RANGE_MM = (1.5, 9.0)
#: Farthest radius, in mm, at which a ray looks for the CSF beyond the edge.
CSF_REACH_MM = 12.0
#: Radius, in mm, of the disc around the centre whose median is the cord's level.
CORE_MM = 1.5
#: Smallest contrast ``(csf - cord) / (csf + cord)`` for a ray to count.
MIN_CONTRAST = 0.08


@dataclass(frozen=True)
class EdgeFit:
    """Result of re-centring: per slice, the centre and how clearly a cord was seen.

    Attributes
    ----------
    xyz_mm : (W, 3) array of float64
        Re-centred points, world ``xyz_mm`` (RAS+), one per slice of the input.
    support : (W,) array of float64
        Fraction of opposite ray pairs that both found a cord edge, in [0, 1].
    contrast : (W,) array of float64
        Median contrast ``(csf - cord) / (csf + cord)`` over the rays with an edge.
    csf : (W,) array of float64
        Median intensity of the CSF (the extreme beyond each edge) over the rays with an edge,
        in the image's units; 0 where no ray found an edge.
    """

    xyz_mm: NDArray[np.float64]
    support: NDArray[np.float64]
    contrast: NDArray[np.float64]
    csf: NDArray[np.float64]


def _row_median(values: NDArray[np.floating]) -> NDArray[np.float64]:
    """Median of each row of a 2D array, ignoring NaN; NaN for a row without any number.

    Examples
    --------
    >>> _row_median(np.array([[1.0, np.nan, 3.0, 4.0], [np.nan] * 4])).tolist()
    [3.0, nan]
    """
    ordered = np.sort(np.where(np.isnan(values), np.inf, values), axis=1)
    count = np.isfinite(ordered).sum(axis=1)
    lo = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(count // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(count > 0, 0.5 * (lo + hi), np.nan)


def _profiles(
    image: NDArray[np.float32],
    world_to_vox: NDArray[np.float64],
    centres: NDArray[np.float64],
    axes: NDArray[np.float64],
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Intensities along the rays, NaN outside the image.

    Returns a (W, N_RAYS, R) array of samples and the (R,) radii in mm.
    """
    radii = np.arange(0.0, CSF_REACH_MM + 1e-9, RAY_STEP_MM)
    angles = np.arange(N_RAYS) * 2 * np.pi / N_RAYS
    directions = np.cos(angles)[:, None] * axes[0] + np.sin(angles)[:, None] * axes[1]
    world = centres[:, None, None, :] + radii[None, None, :, None] * directions[None, :, None, :]
    ijk = world @ world_to_vox[:3, :3].T + world_to_vox[:3, 3]
    flat = ijk.reshape(-1, 3).T
    upper = np.asarray(image.shape)[:, None] - 0.5
    inside = np.all((flat >= -0.5) & (flat <= upper), axis=0)
    values = ndimage.map_coordinates(image, flat, order=1, mode='nearest')
    values = np.where(inside, values, np.nan).astype(np.float32)
    return values.reshape(world.shape[:3]), radii


def _edges(
    profiles: NDArray[np.float32], radii: NDArray[np.float64], sign: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Edge radius (mm), contrast and CSF intensity of every ray (NaN if no edge).

    ``profiles`` is (W, N_RAYS, R); each output is (W, N_RAYS).
    """
    signed = sign * profiles
    core = radii <= CORE_MM
    cord = _row_median(signed[:, :, core].reshape(len(signed), -1))[:, None]
    band = (radii >= EDGE_RANGE_MM[0]) & (radii <= CSF_REACH_MM)
    far = np.where(np.isnan(signed[:, :, band]), -np.inf, signed[:, :, band])
    peak = far.max(axis=2)
    peak_at = radii[band][np.argmax(far, axis=2)]
    with np.errstate(invalid='ignore', divide='ignore'):
        contrast = (peak - cord) / (np.abs(peak) + np.abs(cord))
    half = 0.5 * (cord + peak)
    above = (signed >= half[:, :, None]) & (radii >= EDGE_RANGE_MM[0])
    first = np.argmax(above, axis=2)
    found = np.take_along_axis(above, first[:, :, None], axis=2)[:, :, 0]
    prev = np.take_along_axis(signed, np.maximum(first - 1, 0)[:, :, None], axis=2)[:, :, 0]
    here = np.take_along_axis(signed, first[:, :, None], axis=2)[:, :, 0]
    with np.errstate(invalid='ignore', divide='ignore'):
        frac = np.clip((half - prev) / (here - prev), 0.0, 1.0)
    edge = radii[first] - (1.0 - frac) * RAY_STEP_MM
    good = (
        found
        & (contrast >= MIN_CONTRAST)
        & (edge <= EDGE_RANGE_MM[1])
        & (edge <= peak_at)
        & np.isfinite(here)
        & np.isfinite(prev)
    )
    return (
        np.where(good, edge, np.nan),
        np.where(good, contrast, np.nan),
        np.where(good, sign * peak, np.nan),
    )


def _shift(edge: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """In-plane shift (W, 2), in ray coordinates, that bisects the opposite edges; support."""
    half = N_RAYS // 2
    angles = np.arange(half) * 2 * np.pi / N_RAYS
    basis = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    mismatch = 0.5 * (edge[:, :half] - edge[:, half:])
    paired = np.isfinite(mismatch)
    weights = paired.astype(np.float64)
    target = np.where(paired, mismatch, 0.0)
    shift = np.zeros((len(edge), 2))
    for _ in range(3):
        normal = np.einsum('wk,ki,kj->wij', weights, basis, basis) + 1e-3 * np.eye(2)
        rhs = np.einsum('wk,wk,ki->wi', weights, target, basis)
        shift = np.linalg.solve(normal, rhs[:, :, None])[:, :, 0]
        residual = np.abs(target - shift @ basis.T)
        scale = 1.0 + np.nan_to_num(_row_median(np.where(paired, residual, np.nan)))[:, None]
        weights = paired * np.clip(1.0 - (residual / (3.0 * scale)) ** 2, 0.0, None) ** 2
    return shift, paired.mean(axis=1)


def recentre(
    image: NDArray[np.float32],
    affine: NDArray[np.float64],
    centres_mm: NDArray[np.float64],
    axes: NDArray[np.float64],
    contrast: Literal['T2', 'T1'],
    *,
    max_shift_mm: float = 6.0,
    n_pass: int = 3,
) -> EdgeFit:
    """Move each slice's centreline point onto the centre of the cord's edges.

    Parameters
    ----------
    image : (I, J, K) array of float32
        Intensities on the grid of ``affine`` (lightly smoothed if noisy).
    affine : (4, 4) array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    centres_mm : (W, 3) array
        Rough centre of the cord in each slice, world ``xyz_mm``.
    axes : (2, 3) array
        Orthonormal in-plane directions of the slices (towards R and A), world.
    contrast : {'T2', 'T1'}
        'T2': CSF brighter than the cord; 'T1': darker.
    max_shift_mm : float
        Largest in-plane move from the rough centre, in mm.
    n_pass : int
        Number of re-centring passes.

    Returns
    -------
    EdgeFit
        Re-centred points (the rough centre where no cord edge was found) and, from the last
        pass, the support, contrast and CSF intensity.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> disc = np.where((xx - 22.0) ** 2 + (yy - 17.0) ** 2 <= 25, 0.3, 1.0)
    >>> image = np.repeat(disc.T[:, :, None], 3, axis=2).astype(np.float32)
    >>> axes = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    >>> fit = recentre(image, np.eye(4), np.array([[19.0, 19.0, 1.0]]), axes, 'T2')
    >>> np.round(fit.xyz_mm, 1).tolist()
    [[22.0, 17.0, 1.0]]
    """
    sign = 1.0 if contrast == 'T2' else -1.0
    world_to_vox = np.linalg.inv(affine)
    start = np.asarray(centres_mm, dtype=np.float64)
    centres = start.copy()
    for _ in range(max(n_pass, 1)):
        profiles, radii = _profiles(image, world_to_vox, centres, axes)
        edge, ray_contrast, ray_csf = _edges(profiles, radii, sign)
        shift, support = _shift(edge)
        centres = centres + shift[:, :1] * axes[0] + shift[:, 1:] * axes[1]
        offset = centres - start
        length = np.linalg.norm(offset, axis=1, keepdims=True)
        centres = start + offset * np.minimum(1.0, max_shift_mm / np.maximum(length, 1e-9))
    level = _row_median(ray_contrast)
    csf = _row_median(ray_csf)
    return EdgeFit(centres, support, np.nan_to_num(level, nan=0.0), np.nan_to_num(csf, nan=0.0))
