from __future__ import annotations

import numpy as np
import pytest

from bids_app.centerline.base import Centerline
from bids_app.centerline.smoothing import resample_centerline, smooth_centerline
from bids_app.errors import GeometryError


def _line(z, slope=(0.2, -0.1), start=(3.0, 1.0)):
    return np.column_stack([start[0] + slope[0] * z, start[1] + slope[1] * z, z])


def test_straight_tilted_line_is_unchanged_by_smoothing():
    z = np.arange(0.0, 60.0, 1.0)
    cl = Centerline(_line(z), np.ones(len(z)), (0.0, 59.0))
    out = smooth_centerline(cl, sigma_mm=8.0)
    np.testing.assert_allclose(out.xyz_mm, cl.xyz_mm, atol=1e-6)
    assert out.z_extent_mm == cl.z_extent_mm


def test_smoothing_ignores_outliers_and_low_confidence():
    z = np.arange(0.0, 60.0, 1.0)
    pts = _line(z)
    pts[30, 0] += 15.0  # far outlier, full confidence: rejected by the robust weights
    pts[10, 1] -= 3.0  # closer outlier with zero confidence: ignored
    confidence = np.ones(len(z))
    confidence[10] = 0.0
    out = smooth_centerline(Centerline(pts, confidence, (0.0, 59.0)), sigma_mm=6.0)
    np.testing.assert_allclose(out.xyz_mm, _line(z), atol=0.05)


def test_resample_interpolates_then_holds_slope_then_clamps():
    z = np.arange(0.0, 41.0, 5.0)
    cl = Centerline(_line(z), np.ones(len(z)), (0.0, 40.0))
    z_new = np.array([-50.0, -10.0, 2.5, 40.0, 50.0, 100.0])
    out = resample_centerline(cl, z_new, hold_mm=20.0)
    # Inside: exact on a line; 10 mm below: slope held; 50 mm below/60 mm above: 20 mm of slope.
    expected_z = np.array([-20.0, -10.0, 2.5, 40.0, 50.0, 60.0])
    np.testing.assert_allclose(out[:, :2], _line(expected_z)[:, :2], atol=1e-9)
    np.testing.assert_array_equal(out[:, 2], z_new)


def test_resample_limits_extrapolated_slope_and_handles_one_point():
    z = np.array([0.0, 1.0, 2.0])
    cl = Centerline(_line(z, slope=(3.0, 0.0)), np.ones(3), (0.0, 2.0))
    out = resample_centerline(cl, [12.0], hold_mm=20.0, max_slope=1.0)
    np.testing.assert_allclose(out[0, :2], [3.0 + 6.0 + 10.0, 1.0])
    single = Centerline(np.array([[1.0, 2.0, 3.0]]), np.ones(1), (3.0, 3.0))
    np.testing.assert_allclose(resample_centerline(single, [0.0, 9.0]), [[1, 2, 0], [1, 2, 9]])


def test_invalid_centerlines_are_refused():
    with pytest.raises(GeometryError, match='increasing z'):
        Centerline(np.array([[0.0, 0, 1], [0, 0, 1]]), np.ones(2), (1.0, 1.0))
    with pytest.raises(GeometryError, match='confidence'):
        Centerline(np.array([[0.0, 0, 0], [0, 0, 1]]), np.ones(3), (0.0, 0.0))
