"""Rebinning sagittal images into thick slices: known averages, grids and cord masks."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.insertion.thick_slices import box_weights, left_right_axis, thick_sagittal

PSR = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)


@pytest.mark.parametrize(('n', 'factor'), [(9, 3.0), (10, 2.5), (52, 3.0), (7, 1.4)])
def test_weights_average_whole_slices(n, factor):
    weights = box_weights(n, factor)
    assert weights.shape == (int(n // factor + 1e-9), n)
    assert np.allclose(weights.sum(1), 1.0)
    # every voxel inside the slices counts with its whole width, those left over not at all
    covered = weights.sum(0) * factor
    inside = int(weights.shape[0] * factor + 1e-9)
    assert np.allclose(covered[:inside], 1.0)
    assert np.allclose(covered[inside:], 0.0)


def test_ramp_averages_by_threes_along_left_right_of_a_psr_grid():
    """PSR: left-right is voxel axis 2; 1 mm voxels 0..8 averaged by 3 give 1, 4, 7."""
    data = np.broadcast_to(np.arange(9.0), (2, 3, 9)).copy()
    cord = np.zeros((2, 3, 9), bool)
    cord[..., 2:7] = True
    affine = PSR.copy()
    affine[:3, 3] = [5.0, -2.0, 7.0]
    assert left_right_axis(affine) == 2
    thick, thick_cord, new = thick_sagittal(data, cord, affine, 3.0)
    assert thick.shape == (2, 3, 3)
    assert thick[0, 0].tolist() == [1.0, 4.0, 7.0]
    # only the middle slice (voxels 3-5) is at least half cord; 2 and 6 are a third of theirs
    assert thick_cord[0, 0].tolist() == [False, True, False]
    # each slice's centre lies where its middle source voxel's did, 3 mm apart, along world x
    for k, middle in enumerate((1, 4, 7)):
        assert np.allclose(new @ [0, 0, k, 1], affine @ [0, 0, middle, 1])
    assert np.allclose(np.linalg.norm(new[:3, :3], axis=0), [1.0, 1.0, 3.0])


def test_fractional_thickness_and_already_thick_images():
    data = np.arange(5.0).reshape(5, 1, 1)
    thick, _, new = thick_sagittal(data, data > 0, np.eye(4), 2.5)
    assert thick.ravel().tolist() == pytest.approx([0.4 + 0.4, 0.4 + 1.2 + 1.6])
    assert new[0, 3] == pytest.approx(0.75)  # the centre of the first slice, [-0.5, 2.0) mm
    same, _, affine = thick_sagittal(data, data > 0, np.diag([3.0, 1, 1, 1]), 2.5)
    assert same.shape == data.shape
    assert np.array_equal(affine, np.diag([3.0, 1, 1, 1]))
