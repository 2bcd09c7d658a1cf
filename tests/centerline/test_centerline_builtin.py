from __future__ import annotations

import numpy as np
import pytest

from bids_app.centerline import detect_centerline, resample_centerline
from bids_app.errors import InputImageError


def _grid(spacing, shape, origin):
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


def _errors(cl, truth_xy, z):
    fit = resample_centerline(cl, z)
    return np.linalg.norm(fit[:, :2] - np.column_stack(truth_xy(z)), axis=1)


@pytest.mark.parametrize('order', ['RAS', 'LPI', 'PSR'])
@pytest.mark.parametrize('contrast', ['T2', 'T1'])
def test_straight_cord_at_x3(order, contrast, cord_phantom, reorient):
    # 3D image, 1 mm isotropic, 60 x 50 x 40 mm, cord at x = 3, y = -2 mm; noise 10 % of CSF.
    affine = _grid((1.0, 1.0, 1.0), (60, 50, 40), (-30.0, -25.0, 0.0))
    truth = lambda z: (3.0 + 0 * z, -2.0 + 0 * z)  # noqa: E731
    image, _ = cord_phantom(affine, (60, 50, 40), truth, contrast=contrast, noise=0.1)
    orders = {'RAS': ((0, 1, 2), (False,) * 3), 'LPI': ((0, 1, 2), (True,) * 3)}
    orders['PSR'] = ((1, 2, 0), (True, False, False))
    image, affine = reorient(image, affine, *orders[order])
    cl = detect_centerline(image, affine, contrast)
    z = np.arange(0.0, 39.5, 0.5)
    # Tolerance: 0.5 mm (half the working pixel) everywhere the image covers.
    assert _errors(cl, truth, z).max() <= 0.5
    assert cl.z_extent_mm[0] <= 1.0
    assert cl.z_extent_mm[1] >= 38.0


def test_bad_images_are_refused():
    with pytest.raises(InputImageError, match='NaN'):
        detect_centerline(np.full((5, 5, 5), np.nan), np.eye(4), 'T2')
    with pytest.raises(InputImageError, match='constant'):
        detect_centerline(np.zeros((5, 5, 5)), np.eye(4), 'T2')
    with pytest.raises(InputImageError, match='3D'):
        detect_centerline(np.zeros((5, 5, 5, 2)), np.eye(4), 'T2')
    with pytest.raises(InputImageError, match='contrast'):
        detect_centerline(np.zeros((5, 5, 5)), np.eye(4), 'PD')
