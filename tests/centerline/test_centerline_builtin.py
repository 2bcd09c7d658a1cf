from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

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


def test_tilted_cord_in_3d(cord_phantom):
    # 1 mm isotropic, cord leaning 0.3 mm right and 0.2 mm back per mm up; noise 10 % of CSF.
    affine = _grid((1.0, 1.0, 1.0), (70, 60, 60), (-35.0, -30.0, 0.0))
    truth = lambda z: (-9.0 + 0.3 * z, 5.0 - 0.2 * z)  # noqa: E731
    image, _ = cord_phantom(affine, (70, 60, 60), truth, noise=0.1)
    cl = detect_centerline(image, affine, 'T2')
    z = np.arange(5.0, 55.0, 1.0)
    # Away from the ends (5 mm), within 0.5 mm (half the working pixel).
    assert _errors(cl, truth, z).max() <= 0.5


def test_oblique_thick_axial_slices(cord_phantom):
    # 0.5 x 0.5 x 4 mm slices tilted 15 degrees about x; straight vertical cord at x = -4, y = 6.
    angle = np.deg2rad(15.0)
    rotation = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.5, 0.5, 4.0])
    affine[:3, 3] = rotation @ np.array([-30.0, -30.0, 0.0])
    truth = lambda z: (-4.0 + 0 * z, 6.0 + 0 * z)  # noqa: E731
    image, _ = cord_phantom(affine, (120, 120, 12), truth, noise=0.05)
    cl = detect_centerline(image, affine, 'T2')
    # Each slice's in-plane centre is exact; resampling along a tilted slice adds no error on a
    # vertical cord. Tolerance 0.5 mm.
    z = np.linspace(cl.z_mm[0], cl.z_mm[-1], 20)
    assert _errors(cl, truth, z).max() <= 0.5


def test_confidence_is_low_without_a_cord():
    # Smooth noise, no cord: the edges around the path are not cord-like anywhere.
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.standard_normal((60, 60, 30)), 3.0) + 10.0
    cl = detect_centerline(image, np.eye(4), 'T2')
    assert np.median(cl.confidence) < 0.5


def test_off_prior_penalty_is_a_corridor():
    """0 within CORRIDOR_MM of the prior, 1 from twice that; the prior held beyond its ends."""
    from bids_app.centerline.base import Centerline
    from bids_app.centerline.builtin import CORRIDOR_MM, off_prior_penalty
    from bids_app.centerline.grid import WorkingGrid

    vox2world = np.eye(4)
    vox2world[:3, 3] = (-50.0, -50.0, 0.0)
    grid = WorkingGrid(vox2world, (101, 101, 3), (1.0, 1.0, 1.0))
    prior = Centerline(np.array([[10.0, 0.0, 1.0]]), np.ones(1), (1.0, 1.0))
    penalty = off_prior_penalty(prior, grid)
    assert penalty[60, 50, 0] == 0.0  # on the prior (x = 10 mm)
    assert penalty[60 + int(CORRIDOR_MM) - 1, 50, 2] == 0.0
    assert penalty[60 + int(1.5 * CORRIDOR_MM), 50, 1] == pytest.approx(0.5)
    assert penalty[60 - 2 * int(CORRIDOR_MM) - 1, 50, 1] == 1.0


@pytest.mark.parametrize('contrast', ['T2', 'T1'])
def test_scores_by_slabs_equal_the_whole(contrast):
    """Slab by slab (bounded memory), the in-plane scores are those of the whole volume."""
    from bids_app.centerline.builtin import SLAB_SLICES, by_slabs
    from bids_app.centerline.scores import canal_score, ring_score

    rng = np.random.default_rng(0)
    values = rng.random((30, 26, 2 * SLAB_SLICES + 3), dtype=np.float32)
    valid = rng.random(values.shape) > 0.1
    np.testing.assert_array_equal(
        by_slabs(ring_score, values, valid, 1.0, contrast),
        ring_score(values, valid, 1.0, contrast),
    )
    np.testing.assert_allclose(
        by_slabs(canal_score, values, valid, 1.0), canal_score(values, valid, 1.0), atol=1e-6
    )
