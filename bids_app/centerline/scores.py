"""Per-slice cord scores on a stack of axial-ish slices (the detector's working grid).

Two cues, both ratios ``(a - b) / (a + b)`` that a multiplicative bias field does not change:

- ``ring_score``: the cord is enclosed by CSF. From each pixel, rays in 12 directions look for
  the brightest value (T2-like) or darkest (T1-like) between the cord's edge and the dural sac's
  wall (elliptical search band, wider left-right); its contrast with the mean of a small ellipse
  at the pixel is averaged over the rays, leaving out the 3 weakest (the cord may touch the canal
  wall on one side). The cord must not be darker than a tenth of its CSF (air, cortical bone)
  and the CSF must be among the brightest tissue of the image (T2-like).
- ``canal_score``: the spinal canal (CSF and cord together, about 18 x 13 mm) is brighter than
  the bone and ligaments around it on T2-like images. Where the field of view cuts the template,
  the parts outside the image give no evidence either way.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

#: (left-right, anterior-posterior) radii in mm between which rays look for the CSF.
RAY_BAND_LR_MM = (4.0, 12.0)
RAY_BAND_AP_MM = (3.0, 9.0)
#: (left-right, anterior-posterior) semi-axes of the spinal canal ellipse, in mm.
CANAL_SEMI_AXES_MM = (9.0, 6.5)
#: Thickness of the ring of bone and ligament around the canal, in mm.
CANAL_RING_MM = 5.0
#: Fraction of a part of the canal template that must lie inside the image for it to count.
MIN_PART_COVERAGE = 0.5
_EPS = 0.05


def normalise(volume: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Intensities divided by their 99th percentile, NaN set to 0; and the coverage mask."""
    valid = np.isfinite(volume)
    values = np.where(valid, volume, 0.0).astype(np.float32)
    scale = float(np.percentile(values[valid], 99)) if np.any(valid) else 1.0
    return values / max(scale, 1e-12), valid


def ring_score(
    values: NDArray[np.float32],
    valid: NDArray[np.bool_],
    step_mm: float,
    contrast: Literal['T2', 'T1'],
    n_rays: int = 12,
) -> NDArray[np.float32]:
    """Score of "a cord enclosed by CSF" centred on each pixel.

    Parameters
    ----------
    values : (nu, nv, nw) array of float32
        Normalised intensities (:func:`normalise`); u towards R, v towards A.
    valid : (nu, nv, nw) array of bool
        Where the image covers the grid.
    step_mm : float
        In-plane pixel size, in mm.
    contrast : {'T2', 'T1'}
        'T2': CSF brighter than the cord; 'T1': darker.
    n_rays : int
        Number of ray directions.

    Returns
    -------
    (nu, nv, nw) array of float32
        Score in [-1, 1]; -1 outside the coverage.
    """
    sign = 1.0 if contrast == 'T2' else -1.0
    smooth = ndimage.gaussian_filter(values, (0.7 / step_mm, 0.7 / step_mm, 0))
    inner = ndimage.uniform_filter(
        smooth, size=(max(1, round(5 / step_mm)), max(1, round(3 / step_mm)), 1)
    )
    reach = int(np.ceil(RAY_BAND_LR_MM[1] / step_mm)) + 1
    padded = np.pad(
        np.where(valid, sign * smooth, np.nan),
        ((reach, reach), (reach, reach), (0, 0)),
        constant_values=np.nan,
    )
    nu, nv, _ = values.shape
    contrasts = []
    for angle in np.arange(n_rays) * 2 * np.pi / n_rays:
        c, s = np.cos(angle), np.sin(angle)
        lo = np.hypot(RAY_BAND_LR_MM[0] * c, RAY_BAND_AP_MM[0] * s)
        hi = np.hypot(RAY_BAND_LR_MM[1] * c, RAY_BAND_AP_MM[1] * s)
        offsets = {
            (round(r * c / step_mm), round(r * s / step_mm))
            for r in np.arange(lo, hi + 1e-6, step_mm)
        }
        extreme = np.full(values.shape, -np.inf, dtype=np.float32)
        for du, dv in offsets:
            np.fmax(
                extreme,
                padded[reach + du : reach + du + nu, reach + dv : reach + dv + nv],
                out=extreme,
            )
        csf = sign * extreme
        with np.errstate(invalid='ignore'):  # rays wholly outside the coverage: -inf / inf
            contrasts.append(sign * (csf - inner) / (np.abs(csf) + inner + _EPS))
    stacked = np.nan_to_num(np.stack(contrasts), nan=-1.0, neginf=-1.0, posinf=-1.0)
    stacked.sort(axis=0)
    score = stacked[n_rays // 4 :].mean(axis=0)
    if contrast == 'T2':
        csf_level = np.median(
            np.clip(inner[None] * (1 + stacked) / (1 - stacked + 1e-3), 0, 2), axis=0
        )
        score *= np.clip((inner / np.maximum(csf_level, 1e-6) - 0.05) / 0.1, 0.0, 1.0)
        score *= np.clip(csf_level, 0.0, 1.0)
    score[~valid] = -1.0
    return score.astype(np.float32)


def _ellipse_kernels(
    semi_axes_mm: tuple[float, float], ring_mm: float, step_mm: float
) -> NDArray[np.float32]:
    """Averaging kernels (each sums to 1) of an ellipse and of 4 sectors of the ring around it.

    Returns a (5, P, P) array: the ellipse, then the sectors centred on +u, +v, -u, -v.

    Examples
    --------
    >>> k = _ellipse_kernels((4.0, 3.0), 2.5, 1.0)
    >>> k.shape, bool(np.allclose(k.sum(axis=(1, 2)), 1.0))
    ((5, 15, 15), True)
    """
    a, b = semi_axes_mm
    half = int(np.ceil((a + ring_mm) / step_mm))
    offsets = np.arange(-half, half + 1) * step_mm
    u, v = np.meshgrid(offsets, offsets, indexing='ij')
    inner = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    outer = (u / (a + ring_mm)) ** 2 + (v / (b + ring_mm)) ** 2 <= 1.0
    ring = outer & ~inner
    sector = np.round(np.arctan2(v / (b + ring_mm), u / (a + ring_mm)) / (np.pi / 2)) % 4
    masks = [inner] + [ring & (sector == s) for s in range(4)]
    return np.stack([m / m.sum() for m in masks]).astype(np.float32)


def canal_score(
    values: NDArray[np.float32], valid: NDArray[np.bool_], step_mm: float
) -> NDArray[np.float32]:
    """Score of "a bright spinal canal in darker bone" centred on each pixel (T2-like images).

    Each part of the template (the canal ellipse and the four sides of the ring around it) is
    averaged over its pixels inside the image's coverage. A part with less than
    ``MIN_PART_COVERAGE`` of its pixels inside gives no evidence: a small field of view that
    cuts the ring still shows the canal through the sides it does cover.

    Parameters
    ----------
    values : (nu, nv, nw) array of float32
        Normalised intensities (:func:`normalise`).
    valid : (nu, nv, nw) array of bool
        Where the image covers the grid.
    step_mm : float
        In-plane pixel size, in mm.

    Returns
    -------
    (nu, nv, nw) array of float32
        Contrast in [-1, 1] of the canal ellipse against each side of its ring, 0 for a side
        mostly outside the coverage, averaged over the three most contrasted of four sides; 0
        (no evidence) where the ellipse itself is mostly outside the coverage.

    Examples
    --------
    A bright canal (1.0) in dark bone (0.2), cut by the field of view 3 mm right of its centre:
    the left, anterior and posterior sides still give ``(1 - 0.2) / (1 + 0.2 + 0.05)``.

    >>> values = np.full((41, 41, 1), 0.2, dtype=np.float32)
    >>> u, v = np.meshgrid(np.arange(41) - 20.0, np.arange(41) - 20.0, indexing='ij')
    >>> values[(u / 9.0) ** 2 + (v / 6.5) ** 2 <= 1.0] = 1.0
    >>> valid = np.broadcast_to((u <= 3.0)[:, :, None], values.shape)
    >>> round(float(canal_score(values, valid, 1.0)[20, 20, 0]), 3)
    0.64
    """
    nu, nv, _ = values.shape
    kernels = _ellipse_kernels(CANAL_SEMI_AXES_MM, CANAL_RING_MM, step_mm)
    size = kernels.shape[1]
    shape = (fft.next_fast_len(nu + size), fft.next_fast_len(nv + size))
    spectra = [
        fft.rfft2(np.where(valid, values, 0.0).astype(np.float32), s=shape, axes=(0, 1)),
        fft.rfft2(valid.astype(np.float32), s=shape, axes=(0, 1)),
    ]
    sums, coverage = [], []
    for kernel in kernels:
        centred = np.zeros(shape, dtype=np.float32)
        centred[:size, :size] = kernel[::-1, ::-1]
        centred = np.roll(centred, (-(size // 2), -(size // 2)), axis=(0, 1))
        kernel_spectrum = fft.rfft2(centred)[:, :, None]
        total, covered = (
            fft.irfft2(spectrum * kernel_spectrum, s=shape, axes=(0, 1))[:nu, :nv]
            for spectrum in spectra
        )
        sums.append(total)
        coverage.append(covered)
    means = [
        total / np.maximum(covered, 1e-6) for total, covered in zip(sums, coverage, strict=True)
    ]
    inside = [covered >= MIN_PART_COVERAGE for covered in coverage]
    sides = np.stack(
        [
            np.where(seen, (means[0] - mean) / (means[0] + mean + _EPS), 0.0)
            for mean, seen in zip(means[1:], inside[1:], strict=True)
        ]
    )
    sides.sort(axis=0)
    score = sides[1:].mean(axis=0)
    score[~inside[0]] = 0.0
    return score.astype(np.float32)
