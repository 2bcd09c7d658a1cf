"""Built-in centreline detector for spinal-cord MRI of any contrast and orientation (numpy/scipy).

1. Resample onto a working grid of axial-ish slices at 1 mm in-plane (thick axial slices are
   kept as they are), in the image's own rotation snapped to R, A, S (:mod:`.grid`).
2. Score every pixel as the centre of a cord: dark ellipse inside a bright ring, or the reverse
   for T1-like contrast (:mod:`.scores`), less a penalty away from the body's left-right mirror
   line (:mod:`.symmetry`) and one just under the skin (:mod:`.body`), plus the edge grades of
   the score's best peaks (:mod:`.candidates`).
3. Choose one pixel per slice by dense dynamic programming (Viterbi): the path maximises the
   summed score minus an elastic penalty on its in-plane slope, so that it follows a continuous
   cord through noisy or ambiguous slices.
4. Re-centre each slice on the cord's own edges (:mod:`.refine`); per-slice confidence = how
   cord-like those edges are (:func:`.candidates.edge_grade`); the z extent of the cord from
   where it is confident; robust smoothing along z (:func:`.smoothing.smooth_centerline`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.centerline.base import Centerline
from bids_app.centerline.body import skin_penalty
from bids_app.centerline.candidates import edge_grade, edge_grades
from bids_app.centerline.grid import WorkingGrid, sample_on_grid, working_grid
from bids_app.centerline.refine import recentre
from bids_app.centerline.scores import canal_score, normalise, ring_score
from bids_app.centerline.smoothing import resample_centerline, smooth_centerline
from bids_app.centerline.symmetry import midline
from bids_app.errors import InputImageError

logger = logging.getLogger(__name__)

#: How far (mm) the cord may lie from the body's left-right mirror line without penalty.
MIDLINE_TOLERANCE_MM = 6.0
#: Mirror correlation below which a slice's midline is not trusted.
MIN_SYMMETRY = 0.2
#: Weight of the edge grades of the dense score's peaks (:mod:`.candidates`) in the score.
GRADE_WEIGHT = 1.0
#: Around a prior centreline (the sagittal T2w's, in world space) the cord is searched freely
#: within this in-plane distance (mm): real shifts between series are a few mm, patient motion
#: between them up to about a centimetre. The penalty then rises to its full weight at twice it.
CORRIDOR_MM = 12.0
PRIOR_WEIGHT = 3.0
#: Working-grid slices scored at a time (:func:`by_slabs`).
SLAB_SLICES = 8
#: Weight of the penalty for lying just under the skin (:mod:`.body`).
SKIN_WEIGHT = 2.0
#: Confidence above which a slice counts as showing the cord (for the z extent).
VISIBLE_CONFIDENCE = 0.5


def _min_shift(
    cost: NDArray[np.float64], axis: int, reach: int, weight: float
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Min over shifts ``d`` in [-reach, reach] along ``axis`` of ``cost[p - d] + weight d**2``.

    Returns the minimum at each pixel and the arg-min shift ``d``.
    """
    best = np.full(cost.shape, np.inf)
    arg = np.zeros(cost.shape, dtype=np.int8)
    padded = np.pad(
        cost, [(reach, reach) if a == axis else (0, 0) for a in range(2)], constant_values=np.inf
    )
    n = cost.shape[axis]
    for d in range(-reach, reach + 1):
        window = [slice(None), slice(None)]
        window[axis] = slice(reach - d, reach - d + n)
        candidate = padded[tuple(window)] + weight * d * d
        better = candidate < best
        best[better] = candidate[better]
        arg[better] = d
    return best, arg


def _optimal_path(
    score: NDArray[np.float32],
    step_mm: tuple[float, float, float],
    stiffness: float,
    max_slope: float,
) -> NDArray[np.intp]:
    """Pixel (u, v) of the path through every slice, by dense dynamic programming (Viterbi).

    Energy = sum over slices of ``-score * hw`` plus, between consecutive slices,
    ``stiffness * d**2 / hw`` for an in-plane move of ``d`` mm: the elastic energy of the path
    per mm of cord, independent of the slice spacing. Moves along u or v longer than
    ``max_slope * hw`` plus three pixels are not considered. The quadratic penalty is separable,
    so the minimum over moves is taken along u, then along v.

    Returns
    -------
    (nw, 2) array of int
        Grid indices (u, v) of the path in each slice.
    """
    hu, _, hw = step_mm
    nu, nv, nw = score.shape
    reach = min(int(np.ceil(max_slope * hw / hu)) + 3, 127, max(nu, nv))
    weight = stiffness * hu**2 / hw
    cost = -score[:, :, 0].astype(np.float64) * hw
    back_u, back_v = [], []
    for w in range(1, nw):
        along_u, arg_u = _min_shift(cost, 0, reach, weight)
        along_v, arg_v = _min_shift(along_u, 1, reach, weight)
        cost = along_v - score[:, :, w] * hw
        back_u.append(arg_u)
        back_v.append(arg_v)
    path = np.zeros((nw, 2), dtype=np.intp)
    path[-1] = np.unravel_index(int(np.argmin(cost)), cost.shape)
    for w in range(nw - 1, 0, -1):
        u, v = path[w]
        v = v - back_v[w - 1][u, v]
        u = u - back_u[w - 1][u, v]
        path[w - 1] = (u, v)
    return path


def _refine(score: NDArray[np.float32], u: int, v: int, w: int) -> tuple[float, float]:
    """Sub-pixel peak position by a parabola through the 3 neighbours along u and along v."""
    out = []
    for axis, pos in ((0, u), (1, v)):
        lo, hi = pos - 1, pos + 1
        if lo < 0 or hi >= score.shape[axis]:
            out.append(float(pos))
            continue
        idx = [u, v, w]
        idx[axis] = lo
        a = score[tuple(idx)]
        idx[axis] = hi
        c = score[tuple(idx)]
        b = score[u, v, w]
        denom = a - 2 * b + c
        out.append(pos + (float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) if denom < 0 else 0.0))
    return out[0], out[1]


def _off_midline_penalty(
    u_mid: NDArray[np.float64],
    strength: NDArray[np.float64],
    shape: tuple[int, int, int],
    step_mm: tuple[float, float, float],
) -> NDArray[np.float32]:
    """(nu, 1, nw) score penalty for leaving the body's left-right mirror line, 0 to 1.

    ``u_mid`` and ``strength`` come from :func:`.symmetry.midline`. The penalty is 0 within
    ``MIDLINE_TOLERANCE_MM`` of the line, rising linearly to 1 at twice that; 0 in slices too
    asymmetric to tell (mirror correlation below ``MIN_SYMMETRY``).
    """
    distance = np.abs(np.arange(shape[0])[:, None] - u_mid[None, :]) * step_mm[0]
    ramp = np.clip(distance / MIDLINE_TOLERANCE_MM - 1.0, 0.0, 1.0)
    return (ramp * (strength >= MIN_SYMMETRY))[:, None, :].astype(np.float32)


def by_slabs(
    score_fn: Callable[..., NDArray[np.float32]],
    values: NDArray[np.float32],
    valid: NDArray[np.bool_],
    *args: object,
) -> NDArray[np.float32]:
    """An in-plane score computed :data:`SLAB_SLICES` working slices at a time.

    The ring and canal scores hold a dozen temporaries the size of their input; slab by slab
    they need memory for the output and one slab only. Each slice's score depends on that slice
    alone, so the result is the same.
    """
    out = np.empty(values.shape, np.float32)
    for start in range(0, values.shape[2], SLAB_SLICES):
        part = slice(start, start + SLAB_SLICES)
        out[:, :, part] = score_fn(values[:, :, part], valid[:, :, part], *args)
    return out


def off_prior_penalty(prior: Centerline, grid: WorkingGrid) -> NDArray[np.float32]:
    """(nu, nv, nw) penalty, 0 to 1, for lying far from a prior centreline in the axial plane.

    0 within :data:`CORRIDOR_MM` of the prior's ``(x, y)`` at the slice's world z (the prior is
    extended beyond its ends as :func:`.smoothing.resample_centerline` does), 1 at twice that.
    """
    nu, nv, nw = grid.shape
    u, v = np.meshgrid(np.arange(nu, dtype=float), np.arange(nv, dtype=float), indexing='ij')
    out = np.empty(grid.shape, np.float32)
    centres = np.column_stack(
        [np.full(nw, (nu - 1) / 2), np.full(nw, (nv - 1) / 2), np.arange(nw)]
    )
    z = (centres @ grid.vox2world[:3, :3].T + grid.vox2world[:3, 3])[:, 2]
    prior_xy = resample_centerline(prior, z)[:, :2]
    for w in range(nw):
        x = grid.vox2world[0, 0] * u + grid.vox2world[0, 1] * v + grid.vox2world[0, 2] * w
        y = grid.vox2world[1, 0] * u + grid.vox2world[1, 1] * v + grid.vox2world[1, 2] * w
        distance = np.hypot(x + grid.vox2world[0, 3] - prior_xy[w, 0],
                            y + grid.vox2world[1, 3] - prior_xy[w, 1])  # fmt: skip
        out[:, :, w] = np.clip(distance / CORRIDOR_MM - 1.0, 0.0, 1.0)
    return out


def _visible_extent(
    z: NDArray[np.float64], confidence: NDArray[np.float64]
) -> tuple[float, float]:
    """World z range of the longest run of visible slices (short gaps of 2 slices bridged)."""
    visible = ndimage.binary_closing(
        confidence >= VISIBLE_CONFIDENCE, structure=np.ones(3), border_value=1
    ) & (confidence > 0)
    if not np.any(visible):
        return float(z[0]), float(z[-1])
    labels, n = ndimage.label(visible)
    sizes = ndimage.sum_labels(np.ones_like(z), labels, index=np.arange(1, n + 1))
    run = np.nonzero(labels == 1 + int(np.argmax(sizes)))[0]
    return float(z[run[0]]), float(z[run[-1]])


def detect_centerline(
    image: NDArray,
    affine: NDArray[np.float64],
    contrast: Literal['T2', 'T1'],
    *,
    inplane_mm: float = 1.0,
    stiffness: float = 0.5,
    max_slope: float = 1.5,
    smoothing_mm: float = 8.0,
    prior: Centerline | None = None,
) -> Centerline:
    """Find the spinal cord's centreline in an image of any orientation, without any model.

    Parameters
    ----------
    image : (I, J, K) array
        Intensities; any voxel order, any (oblique) affine, sagittal, axial or 3D.
    affine : (4, 4) array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    contrast : {'T2', 'T1'}
        'T2' when the CSF is brighter than the cord (T2w, STIR, T2*w); 'T1' when it is darker
        (T1w, MP2RAGE).
    inplane_mm : float
        In-plane pixel size of the working grid, in mm.
    stiffness : float
        Weight of the elastic penalty on the path's in-plane slope, per mm of cord.
    max_slope : float
        Steepest in-plane move per mm of z the path may make.
    smoothing_mm : float
        Gaussian sigma along z of the final robust smoothing, in mm.
    prior : Centerline, optional
        Where the cord is expected (the sagittal T2w's centreline, world space): the search
        stays within about :data:`CORRIDOR_MM` of it.

    Returns
    -------
    Centerline
        One point per working slice that the image covers, world ``xyz_mm``; confidence per
        point; z extent of the cord where it is confidently visible.

    Raises
    ------
    InputImageError
        If the image is not 3D, has NaN or infinite values, or is constant.
    """
    data = np.asarray(image)
    if contrast not in ('T2', 'T1'):
        raise InputImageError(f"contrast must be 'T2' or 'T1', got {contrast!r}")
    if data.ndim != 3:
        raise InputImageError(f'image must be 3D, got shape {data.shape}: give one volume')
    if not np.all(np.isfinite(data)):
        raise InputImageError('image has NaN or infinite values: fix or re-export the image')
    if np.ptp(data) == 0:
        raise InputImageError('image is constant (e.g. all zero): it shows no cord')
    grid = working_grid(affine, data.shape, inplane_mm=inplane_mm)
    volume = sample_on_grid(data, affine, grid)
    values, valid = normalise(volume)
    scale = float(np.percentile(volume[valid], 99))
    score = by_slabs(ring_score, values, valid, inplane_mm, contrast)
    if contrast == 'T2':
        score += by_slabs(canal_score, values, valid, inplane_mm)
    hw = grid.spacing_mm[2]
    sigma_w = 1.5 / hw if hw < 3.0 else 0.0
    score = ndimage.gaussian_filter(score, (1.5 / inplane_mm, 1.5 / inplane_mm, sigma_w))
    u_mid, strength = midline(values, valid, grid.spacing_mm)
    score = score - _off_midline_penalty(u_mid, strength, grid.shape, grid.spacing_mm)
    score = score - SKIN_WEIGHT * skin_penalty(values, valid, grid.spacing_mm)
    if prior is not None:
        score = score - PRIOR_WEIGHT * off_prior_penalty(prior, grid)
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    smoothed = ndimage.gaussian_filter(data.astype(np.float32), 0.5 / sizes, mode='nearest')
    score = score + GRADE_WEIGHT * edge_grades(
        score, valid, grid, smoothed, affine, contrast, scale
    )
    path = _optimal_path(score, grid.spacing_mm, stiffness, max_slope)
    slices = np.arange(grid.shape[2])
    values = score[path[:, 0], path[:, 1], slices]
    covered = np.any(valid, axis=(0, 1)) & (values > -1.0)
    if not np.any(covered):
        raise InputImageError(
            'no slice of the image could hold a cord: is it a spinal-cord image?'
        )
    refined = np.array([_refine(score, u, v, w) for (u, v), w in zip(path, slices, strict=True)])
    index = np.column_stack([refined, slices, np.ones(len(slices))])[covered]
    rough = (index @ grid.vox2world.T)[:, :3]
    axes = (grid.vox2world[:3, :2] / np.asarray(grid.spacing_mm[:2])).T
    fit = recentre(smoothed, affine, rough, axes, contrast)
    xyz = fit.xyz_mm
    confidence = np.clip(edge_grade(fit, contrast, scale), 0.0, 1.0)
    order = np.argsort(xyz[:, 2])
    xyz, confidence = xyz[order], confidence[order]
    extent = _visible_extent(xyz[:, 2], confidence)
    logger.info(
        'built-in centreline: %d slices, mean confidence %.2f, cord z %.1f to %.1f mm',
        len(xyz),
        confidence.mean(),
        *extent,
    )
    raw = Centerline(xyz, confidence, extent)
    return smooth_centerline(raw, smoothing_mm)
