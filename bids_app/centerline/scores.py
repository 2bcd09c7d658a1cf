"""Per-slice cord score: a dark ellipse inside a bright ring (T2-like), or the reverse (T1-like).

On a working grid of axial-ish slices at about 1 mm, every pixel gets the contrast between the
mean of an inner ellipse (the cord) and the means of four sectors of the ring around it (the
CSF: anterior, posterior, left, right), as a ratio ``(ring - cord) / (ring + cord)`` that a
multiplicative bias field does not change. Requiring contrast on most sides rejects edges and
flat regions; a few cord sizes cover thoracic to cervical cords.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft

#: (left-right, anterior-posterior) semi-axes of the cord ellipse, in mm, one per scale.
CORD_SEMI_AXES_MM: tuple[tuple[float, float], ...] = ((4.0, 3.0), (5.5, 4.0))
#: Thickness of the CSF ring around the cord, in mm.
RING_MM = 2.5


def template_kernels(
    semi_axes_mm: tuple[float, float], ring_mm: float, step_mm: float
) -> NDArray[np.float32]:
    """Normalised averaging kernels of the cord ellipse and the four ring sectors.

    Parameters
    ----------
    semi_axes_mm : tuple of float
        ``(a, b)``: semi-axes of the cord ellipse along u (left-right) and v (anterior-posterior).
    ring_mm : float
        Thickness of the ring around the ellipse, in mm.
    step_mm : float
        Pixel size of the working grid, in mm.

    Returns
    -------
    (5, P, P) array of float32
        Kernel 0 averages the ellipse; kernels 1-4 the ring sectors centred on +u, +v, -u, -v.
        Each sums to 1.

    Examples
    --------
    >>> k = template_kernels((4.0, 3.0), 2.5, 1.0)
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
    angle = np.arctan2(v / (b + ring_mm), u / (a + ring_mm))
    sector = np.round(angle / (np.pi / 2)).astype(int) % 4
    masks = [inner] + [ring & (sector == s) for s in range(4)]
    return np.stack([m / m.sum() for m in masks]).astype(np.float32)


def _filter_slices(
    spectrum: NDArray[np.complex64], kernel: NDArray[np.float32], padded: tuple[int, int]
) -> NDArray[np.float32]:
    """Correlate every slice (spectrum of the zero-padded stack) with a 2D kernel; same size."""
    half = kernel.shape[0] // 2
    shifted = np.zeros(padded, dtype=np.float32)
    flipped = kernel[::-1, ::-1]
    shifted[: kernel.shape[0], : kernel.shape[1]] = flipped
    shifted = np.roll(shifted, (-half, -half), axis=(0, 1))
    out = fft.irfft2(spectrum * fft.rfft2(shifted)[:, :, None], s=padded, axes=(0, 1))
    return out.astype(np.float32)


def cord_score(
    volume: NDArray[np.float32], step_mm: float, contrast: Literal['T2', 'T1']
) -> NDArray[np.float32]:
    """Cord likelihood score of every pixel of a stack of axial-ish slices.

    Parameters
    ----------
    volume : (nu, nv, nw) array of float32
        Intensities on the working grid (u towards R, v towards A, w the slice index); NaN
        outside the image's coverage.
    step_mm : float
        In-plane pixel size, in mm.
    contrast : {'T2', 'T1'}
        'T2': the cord is darker than the CSF around it (T2w, STIR, T2*w); 'T1': brighter
        (T1w, MP2RAGE).

    Returns
    -------
    (nu, nv, nw) array of float32
        Score in [-1, 1] (higher: more cord-like) of a cord centred on each pixel; -1 where the
        template leaves the image's coverage.
    """
    valid = np.isfinite(volume)
    values = np.where(valid, volume, 0.0).astype(np.float32)
    scale = float(np.percentile(values[valid], 99)) if np.any(valid) else 1.0
    values /= max(scale, 1e-12)
    eps = 0.05
    sign = 1.0 if contrast == 'T2' else -1.0
    nu, nv, _ = values.shape
    best = np.full(values.shape, -1.0, dtype=np.float32)
    for semi_axes in CORD_SEMI_AXES_MM:
        kernels = template_kernels(semi_axes, RING_MM, step_mm)
        pad = kernels.shape[1]
        padded = (fft.next_fast_len(nu + pad), fft.next_fast_len(nv + pad))
        spec_values = fft.rfft2(values, s=padded, axes=(0, 1))
        spec_valid = fft.rfft2(valid.astype(np.float32), s=padded, axes=(0, 1))
        coverage = _filter_slices(spec_valid, kernels.sum(axis=0) / 5.0, padded)[:nu, :nv]
        means = [_filter_slices(spec_values, k, padded)[:nu, :nv] for k in kernels]
        cord = means[0]
        contrasts = np.stack(
            [sign * (ring - cord) / (ring + cord + eps) for ring in means[1:]], axis=0
        )
        contrasts.sort(axis=0)
        score = 0.5 * contrasts[0] + 0.5 * contrasts[1:].mean(axis=0)
        score[coverage < 0.95] = -1.0
        np.maximum(best, score, out=best)
    return best
