"""How deep inside the body each pixel lies: the cord is never just under the skin.

A whole-neck axial field of view holds many "dark disc in a bright ring" look-alikes of the cord
(the airway, fat-wrapped muscle under the posterior skin). The cord lies deep in the body: at
least two or three centimetres from the air outside it in the neck, more in the thorax. Air is
what is dark after light smoothing and connected to the edge of the slice's field of view; images
without such a background (small fields of view inside the body, the MP2RAGE uniform image whose
background is noise) get no penalty.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

#: Smoothed intensity, as a fraction of the image's 99th percentile, below which a pixel is air.
AIR_LEVEL = 0.08
#: Gaussian sigma (mm) of the smoothing before the air threshold.
AIR_SMOOTH_MM = 2.0
#: The cord lies at least this deep (mm): full penalty within half of it, none beyond it.
SKIN_DEPTH_MM = 15.0
#: Slices whose outside air covers less than this share of the slice get no penalty.
MIN_AIR_SHARE = 0.02


def outside_air(values: NDArray[np.float32], valid: NDArray[np.bool_], step_mm: float) -> NDArray:
    """Air outside the body in one slice: dark, connected to the field of view's edge.

    Parameters
    ----------
    values : (nu, nv) float32
        Intensities divided by the image's 99th percentile.
    valid : (nu, nv) bool
        Where the image covers the slice.
    step_mm : float
        Pixel size.

    Returns
    -------
    (nu, nv) bool
    """
    smooth = ndimage.gaussian_filter(np.where(valid, values, 0.0), AIR_SMOOTH_MM / step_mm)
    dark = (smooth < AIR_LEVEL) & valid
    edge = valid & ~ndimage.binary_erosion(valid, border_value=0)
    labels, n = ndimage.label(dark)
    if n == 0:
        return dark
    touching = np.unique(labels[edge & dark])
    return np.isin(labels, touching[touching > 0])


def skin_penalty(
    values: NDArray[np.float32], valid: NDArray[np.bool_], step_mm: tuple[float, float, float]
) -> NDArray[np.float32]:
    """(nu, nv, nw) score penalty, 0 to 1, for lying within :data:`SKIN_DEPTH_MM` of outside air.

    Examples
    --------
    >>> values = np.zeros((60, 60, 1), np.float32); values[10:50, 10:50] = 1.0  # a 40 mm body
    >>> penalty = skin_penalty(values, np.ones_like(values, bool), (1.0, 1.0, 1.0))
    >>> float(penalty[30, 30, 0]), float(penalty[12, 30, 0])
    (0.0, 1.0)
    """
    hu, hv, _ = step_mm
    out = np.zeros(values.shape, np.float32)
    for w in range(values.shape[2]):
        air = outside_air(values[:, :, w], valid[:, :, w], hu)
        if air.mean() < MIN_AIR_SHARE:
            continue
        depth = ndimage.distance_transform_edt(~air, sampling=(hu, hv))
        out[:, :, w] = np.clip((SKIN_DEPTH_MM - depth) / (SKIN_DEPTH_MM / 2), 0.0, 1.0)
    return out
