"""Smooth a centreline and extend it over any z range, for the cord frame's reference slices."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import PchipInterpolator

from bids_app.centerline.base import Centerline
from bids_app.errors import GeometryError


def _local_linear(
    z: NDArray[np.float64],
    values: NDArray[np.float64],
    weights: NDArray[np.float64],
    z_eval: NDArray[np.float64],
    sigma_mm: float,
) -> NDArray[np.float64]:
    """Gaussian-weighted local-linear regression of ``values`` (N, D) at ``z_eval`` (M,)."""
    dz = z[None, :] - z_eval[:, None]
    k = np.exp(-0.5 * (dz / sigma_mm) ** 2) * weights[None, :] + 1e-12
    s0 = k.sum(axis=1)
    s1 = (k * dz).sum(axis=1)
    s2 = (k * dz**2).sum(axis=1) + 1e-10 * s0 * sigma_mm**2
    det = s0 * s2 - s1**2
    t0 = k @ values
    t1 = (k * dz) @ values
    return (s2[:, None] * t0 - s1[:, None] * t1) / det[:, None]


def smooth_centerline(
    centerline: Centerline,
    sigma_mm: float = 8.0,
    *,
    outlier_mm: float = 4.0,
    n_iter: int = 3,
) -> Centerline:
    """Robustly smooth the in-plane position of a centreline along z.

    Local-linear regression of x(z) and y(z) with a Gaussian kernel in world z, each point
    weighted by its confidence; points far from the fit (Tukey biweight with ``outlier_mm`` as
    cut-off) lose their weight over ``n_iter`` passes. A straight line is left unchanged.

    Parameters
    ----------
    centerline : Centerline
        Points to smooth, world ``xyz_mm``.
    sigma_mm : float
        Standard deviation of the Gaussian kernel along z, in mm.
    outlier_mm : float
        In-plane distance from the fit, in mm, beyond which a point gets no weight.
    n_iter : int
        Number of reweighting passes (0: plain weighted smoothing).

    Returns
    -------
    Centerline
        Same z, confidence and z extent; smoothed x and y.

    Examples
    --------
    >>> z = np.arange(0.0, 50.0, 5.0)
    >>> pts = np.stack([3 + 0.2 * z, np.zeros(10), z], axis=1)
    >>> pts[4, 0] += 10.0  # one outlier
    >>> out = smooth_centerline(Centerline(pts, np.ones(10), (0.0, 45.0)), 10.0)
    >>> bool(np.allclose(out.xyz_mm[:, 0], 3 + 0.2 * z, atol=0.05))
    True
    """
    if sigma_mm <= 0 or outlier_mm <= 0:
        raise GeometryError(
            f'sigma_mm and outlier_mm must be positive, got {sigma_mm}, {outlier_mm}'
        )
    z = centerline.z_mm
    xy = centerline.xyz_mm[:, :2]
    base = np.clip(centerline.confidence, 0.0, 1.0) + 1e-3
    weights = base.copy()
    fit = _local_linear(z, xy, weights, z, sigma_mm)
    for _ in range(n_iter):
        residual = np.linalg.norm(xy - fit, axis=1)
        weights = base * np.clip(1.0 - (residual / outlier_mm) ** 2, 0.0, None) ** 2 + 1e-6
        fit = _local_linear(z, xy, weights, z, sigma_mm)
    xyz = np.column_stack([fit, z])
    return Centerline(xyz, centerline.confidence.copy(), centerline.z_extent_mm)


def _end_slope(
    z: NDArray[np.float64], xy: NDArray[np.float64], window_mm: float, max_slope: float
) -> NDArray[np.float64]:
    """dx/dz, dy/dz of a least-squares line through the points within ``window_mm`` of z[0]."""
    near = np.abs(z - z[0]) <= window_mm
    if near.sum() < 2:
        return np.zeros(2)
    zc = z[near] - z[near].mean()
    slope = (zc @ (xy[near] - xy[near].mean(axis=0))) / (zc @ zc)
    norm = np.linalg.norm(slope)
    return slope * min(1.0, max_slope / norm) if norm > 0 else slope


def resample_centerline(
    centerline: Centerline,
    z_mm: ArrayLike,
    *,
    hold_mm: float = 20.0,
    slope_window_mm: float = 15.0,
    max_slope: float = 1.0,
) -> NDArray[np.float64]:
    """Centreline points at the requested world z, extended beyond the ends if needed.

    Inside the points' z range: shape-preserving cubic (PCHIP) interpolation of x(z) and y(z).
    Beyond an end: the end slope (a line fitted over ``slope_window_mm``, at most ``max_slope``
    mm per mm) is held for ``hold_mm``, then the position is clamped.

    Parameters
    ----------
    centerline : Centerline
        Points, world ``xyz_mm``, usually from :func:`smooth_centerline`.
    z_mm : (M,) array_like
        World z in mm where the centreline is wanted, in any order.
    hold_mm : float
        How far beyond each end the end slope is followed, in mm.
    slope_window_mm : float
        Length of centreline at each end used to estimate its slope, in mm.
    max_slope : float
        Largest in-plane displacement per mm of z allowed for the extension.

    Returns
    -------
    (M, 3) array of float64
        World ``xyz_mm`` at each requested z (third column equals ``z_mm``).

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 10.0], [2.0, 0.0, 20.0]])
    >>> cl = Centerline(pts, np.ones(3), (0.0, 20.0))
    >>> resample_centerline(cl, [5.0, 30.0, 100.0], hold_mm=20.0)[:, 0].round(6).tolist()
    [0.5, 3.0, 4.0]
    """
    z_new = np.asarray(z_mm, dtype=np.float64).reshape(-1)
    if hold_mm < 0 or slope_window_mm <= 0 or max_slope < 0:
        raise GeometryError('hold_mm, slope_window_mm and max_slope must not be negative')
    z = centerline.z_mm
    xy = centerline.xyz_mm[:, :2]
    if len(z) == 1:
        out_xy = np.repeat(xy, len(z_new), axis=0)
    else:
        out_xy = PchipInterpolator(z, xy, axis=0, extrapolate=False)(z_new)
        below = z_new < z[0]
        above = z_new > z[-1]
        slope_lo = _end_slope(z, xy, slope_window_mm, max_slope)
        slope_hi = _end_slope(z[::-1], xy[::-1], slope_window_mm, max_slope)
        d_lo = np.clip(z_new[below] - z[0], -hold_mm, 0.0)
        d_hi = np.clip(z_new[above] - z[-1], 0.0, hold_mm)
        out_xy[below] = xy[0] + d_lo[:, None] * slope_lo
        out_xy[above] = xy[-1] + d_hi[:, None] * slope_hi
    return np.column_stack([out_xy, z_new])
