"""The body's left-right mirror plane in each slice: the cord lies in the mid-sagittal plane.

In every working slice, the detail of the image (its intensities minus a local mean) is
compared with its own left-right mirror image about every candidate line ``u = m``; the line
with the highest correlation, normalised by the whole slice's detail energy (so that a line
near the edge, where little of the slice overlaps its mirror image, cannot win on a few
pixels), is the slice's midline. The correlations for every
``m`` at once are one autoconvolution along u, done by FFT. Single slices can be fooled (the
shoulders, a slice with little anatomy), so the midline is then median-filtered along z.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

#: Size, in mm, of the local mean removed before comparing (keeps edges, drops shading).
DETAIL_MM = 15.0
#: Length along z, in mm, of the running median over the slices' midlines.
MEDIAN_MM = 20.0


def midline(
    values: NDArray[np.float32],
    valid: NDArray[np.bool_],
    step_mm: tuple[float, float, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Left-right mirror line of each slice.

    Parameters
    ----------
    values : (nu, nv, nw) array of float32
        Normalised intensities on the working grid (u towards R, v towards A).
    valid : (nu, nv, nw) array of bool
        Where the image covers the grid.
    step_mm : tuple of float
        ``(hu, hv, hw)``: grid steps in mm.

    Returns
    -------
    u_mid : (nw,) array of float64
        Grid u index of the mirror line in each slice (half-integer steps), median-filtered
        along z.
    strength : (nw,) array of float64
        Correlation of each slice with its mirror image about its own best line, divided by the
        slice's detail energy, in [-1, 1] (1: perfectly symmetric).

    Examples
    --------
    >>> values = np.zeros((20, 9, 3), dtype=np.float32)
    >>> values[[4, 12], 3:6, :] = 1.0  # two bars mirror images about u = 8
    >>> u_mid, strength = midline(values, np.ones_like(values, bool), (1.0, 1.0, 1.0))
    >>> u_mid.tolist(), bool(np.all(strength > 0.9))
    ([8.0, 8.0, 8.0], True)
    """
    nu = values.shape[0]
    size = (max(1, round(DETAIL_MM / step_mm[0])), max(1, round(DETAIL_MM / step_mm[1])), 1)
    detail = np.where(valid, values - ndimage.uniform_filter(values, size), 0.0)
    length = fft.next_fast_len(2 * nu)
    spectrum = fft.rfft(detail, n=length, axis=0)
    # Sum over u of f(u) g(s - u), for every s = 2 m, summed over v.
    mirrored = fft.irfft(spectrum * spectrum, n=length, axis=0).sum(axis=1)[: 2 * nu - 1]
    ncc = mirrored / np.maximum((detail**2).sum(axis=(0, 1)), 1e-12)
    best = np.argmax(ncc, axis=0)
    strength = np.clip(ncc[best, np.arange(ncc.shape[1])], -1.0, 1.0)
    window = 2 * max(0, round(0.5 * MEDIAN_MM / step_mm[2])) + 1
    u_mid = ndimage.median_filter(best.astype(np.float64), size=window, mode='nearest') / 2.0
    return u_mid, strength
