"""Built-in centreline detector for spinal-cord MRI of any contrast and orientation (numpy/scipy).

1. Resample onto a working grid of axial-ish slices at 1 mm in-plane (thick axial slices are
   kept as they are), in the image's own rotation snapped to R, A, S (:mod:`.grid`).
2. Score every pixel as the centre of a cord: dark ellipse inside a bright ring, or the reverse
   for T1-like contrast (:mod:`.scores`).
3. Keep the best local maxima of each slice as candidates and choose one per slice by dynamic
   programming (Viterbi): the path maximises the summed score minus an elastic penalty on its
   in-plane slope, so that it follows a continuous cord through noisy or ambiguous slices.
4. Per-slice confidence from the score; the z extent of the cord from where it is confident;
   robust smoothing along z (:func:`.smoothing.smooth_centerline`).
"""

from __future__ import annotations

import itertools
import logging
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.centerline.base import Centerline
from bids_app.centerline.grid import sample_on_grid, working_grid
from bids_app.centerline.scores import cord_score
from bids_app.centerline.smoothing import smooth_centerline
from bids_app.errors import InputImageError

logger = logging.getLogger(__name__)

#: Score at which a slice's confidence reaches 1.
FULL_CONFIDENCE_SCORE = 0.3
#: Confidence above which a slice counts as showing the cord (for the z extent).
VISIBLE_CONFIDENCE = 0.5


def _candidates(
    score: NDArray[np.float32], step_mm: float, n_best: int, radius_mm: float
) -> list[NDArray[np.float64]]:
    """Per slice, the ``n_best`` highest local maxima of the score, as (K, 3) rows (u, v, s)."""
    size = 2 * round(radius_mm / step_mm) + 1
    peaks = score == ndimage.maximum_filter(score, size=(size, size, 1), mode='nearest')
    found = []
    for w in range(score.shape[2]):
        u, v = np.nonzero(peaks[:, :, w] & (score[:, :, w] > -1.0))
        values = score[u, v, w]
        keep = np.argsort(values)[::-1][:n_best]
        found.append(np.column_stack([u[keep], v[keep], values[keep]]).astype(np.float64))
    return found


def _viterbi(
    candidates: list[NDArray[np.float64]],
    step_mm: tuple[float, float, float],
    stiffness: float,
    max_slope: float,
) -> list[int]:
    """Index of the chosen candidate in each slice with candidates (-1 where none).

    Energy = sum over slices of ``-score * hw`` plus, between consecutive slices with candidates
    (gap ``dz`` mm), ``stiffness * d**2 / dz`` for an in-plane move of ``d`` mm; moves steeper
    than ``max_slope`` are forbidden.
    """
    hu, _, hw = step_mm
    slices = [w for w, c in enumerate(candidates) if len(c)]
    choice = [-1] * len(candidates)
    if not slices:
        return choice
    cost = -candidates[slices[0]][:, 2] * hw
    back: list[NDArray[np.intp]] = []
    for prev, cur in itertools.pairwise(slices):
        dz = (cur - prev) * hw
        d2 = ((candidates[cur][:, None, :2] - candidates[prev][None, :, :2]) ** 2).sum(
            axis=2
        ) * hu**2
        step = stiffness * d2 / dz
        step[d2 > (max_slope * dz) ** 2] = np.inf
        total = cost[None, :] + step
        best = np.argmin(total, axis=1)
        cost = total[np.arange(len(best)), best] - candidates[cur][:, 2] * hw
        if not np.any(np.isfinite(cost)):
            cost = -candidates[cur][:, 2] * hw
            best = np.full(len(best), -1)
        back.append(best)
    k = int(np.argmin(cost))
    choice[slices[-1]] = k
    for i in range(len(slices) - 1, 0, -1):
        k = int(back[i - 1][k])
        if k < 0:
            k = int(np.argmax(candidates[slices[i - 1]][:, 2]))
        choice[slices[i - 1]] = k
    return choice


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
    stiffness: float = 1.0,
    max_slope: float = 1.5,
    n_candidates: int = 12,
    smoothing_mm: float = 8.0,
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
    n_candidates : int
        Cord candidates kept per slice.
    smoothing_mm : float
        Gaussian sigma along z of the final robust smoothing, in mm.

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
    score = cord_score(volume, inplane_mm, contrast)
    hw = grid.spacing_mm[2]
    if hw < 3.0:
        score = ndimage.gaussian_filter1d(score, 1.5 / hw, axis=2, mode='nearest')
    candidates = _candidates(score, inplane_mm, n_candidates, radius_mm=3.0)
    choice = _viterbi(candidates, grid.spacing_mm, stiffness, max_slope)
    points = []
    values = []
    for w, k in enumerate(choice):
        if k < 0:
            continue
        u, v, s = candidates[w][k]
        fu, fv = _refine(score, int(u), int(v), w)
        points.append(grid.vox2world @ np.array([fu, fv, w, 1.0]))
        values.append(s)
    if not points:
        raise InputImageError(
            'no slice of the image could hold a cord: is it a spinal-cord image?'
        )
    xyz = np.array(points)[:, :3]
    confidence = np.clip(np.array(values) / FULL_CONFIDENCE_SCORE, 0.0, 1.0)
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
