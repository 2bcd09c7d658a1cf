from __future__ import annotations

import numpy as np
import pytest

from bids_app.centerline.from_mask import centerline_from_mask, superior_axis
from bids_app.errors import InputImageError

VOXEL_ORDERS = {
    'RAS': ((0, 1, 2), (False, False, False)),
    'LPI': ((0, 1, 2), (True, True, True)),
    'PSR': ((1, 2, 0), (True, False, False)),
    'ASL': ((1, 2, 0), (False, False, True)),
}


def _straight_cord(cord_phantom):
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    affine[:3, 3] = (-20.0, -15.0, 0.0)
    return cord_phantom(affine, (40, 30, 10), lambda z: (3.0 + 0 * z, -2.0 + 0 * z)), affine


@pytest.mark.parametrize('order', sorted(VOXEL_ORDERS))
def test_straight_cord_any_voxel_order(order, cord_phantom, reorient):
    (_, mask), affine = _straight_cord(cord_phantom)
    mask, affine = reorient(mask, affine, *VOXEL_ORDERS[order])
    cl = centerline_from_mask(mask, affine)
    # Ellipse centred on a voxel centre: the centroid is exact; one point per 2 mm slice.
    np.testing.assert_allclose(cl.xyz_mm[:, 0], 3.0, atol=1e-9)
    np.testing.assert_allclose(cl.xyz_mm[:, 1], -2.0, atol=1e-9)
    np.testing.assert_allclose(cl.z_mm, np.arange(0.0, 20.0, 2.0))
    assert cl.z_extent_mm == (0.0, 18.0)
    np.testing.assert_array_equal(cl.confidence, 1.0)


def test_soft_mask_weights_voxels():
    mask = np.zeros((4, 1, 2))
    mask[0, 0, :] = 1.0
    mask[3, 0, :] = 0.5
    cl = centerline_from_mask(mask, np.eye(4))
    # (0 * 1 + 3 * 0.5) / 1.5 = 1
    np.testing.assert_allclose(cl.xyz_mm[:, 0], 1.0)


def test_oblique_affine_tilted_slices():
    # Slices tilted 10 degrees about x; a mask column along the slice axis at i = 5.
    angle = np.deg2rad(10.0)
    affine = np.eye(4)
    affine[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    mask = np.zeros((11, 11, 6))
    mask[4:7, 4:7, :] = 1
    cl = centerline_from_mask(mask, affine)
    assert superior_axis(affine) == 2
    k = np.arange(6.0)
    np.testing.assert_allclose(cl.xyz_mm[:, 0], 5.0)
    np.testing.assert_allclose(cl.xyz_mm[:, 1], 5 * np.cos(angle) - k * np.sin(angle))
    np.testing.assert_allclose(cl.z_mm, 5 * np.sin(angle) + k * np.cos(angle))


def test_empty_or_4d_mask_is_refused():
    with pytest.raises(InputImageError, match='empty'):
        centerline_from_mask(np.zeros((3, 3, 3)), np.eye(4))
    with pytest.raises(InputImageError, match='3D'):
        centerline_from_mask(np.ones((3, 3, 3, 2)), np.eye(4))
