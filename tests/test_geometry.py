"""Affine helpers and the half-voxel sampling rule, with hand-computed answers."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from bids_app.geometry import (
    axis_permutation,
    fov_corners,
    sample_voxels,
    sample_world,
    superior_axis,
    translate_grid,
)

PSR = np.array([[0, 0, 1, -32], [-1, 0, 0, 31], [0, 1, 0, -19], [0, 0, 0, 1]], dtype=float)


def test_translate_grid_keeps_world_points():
    moved = translate_grid(PSR, [2, -3, 1])
    assert_allclose(moved @ [0, 0, 0, 1], PSR @ [2, -3, 1, 1])


def test_fov_corners_of_psr_grid():
    corners = fov_corners((60, 55, 52), PSR)
    # x from k (R): -32 + [-0.5, 51.5]; y from -i (P): 31 - [-0.5, 59.5]; z from j (S)
    assert_allclose(corners.min(axis=0), [-32.5, -28.5, -19.5])
    assert_allclose(corners.max(axis=0), [19.5, 31.5, 35.5])


def test_axis_helpers_on_psr():
    assert superior_axis(PSR) == 1
    assert axis_permutation(PSR) == (1, 2, 0)
    assert axis_permutation(np.diag([-0.5, 0.5, 3.0, 1.0])) == (0, 1, 2)


def test_sample_voxels_half_voxel_rule():
    data = np.arange(4.0).reshape(1, 1, 4)  # values 0, 1, 2, 3 along k
    k = np.array([-0.6, -0.4, 0.5, 2.25, 3.4, 3.6])
    ijk = np.stack([np.zeros_like(k), np.zeros_like(k), k])
    values, inside = sample_voxels(data, ijk)
    assert_array_equal(inside, [False, True, True, True, True, False])
    assert_allclose(values, [0.0, 0.0, 0.5, 2.25, 3.0, 0.0])


def test_sample_world_nearest_on_psr():
    data = np.zeros((60, 55, 52), dtype=np.float32)
    data[10, 20, 30] = 5.0
    point = PSR @ [10, 20, 30, 1]
    values, inside = sample_world(
        data, PSR, np.array([point[:3], point[:3] + np.array([0.4, 0, 0])]), order=0
    )
    assert_array_equal(values, [5.0, 5.0])
    assert inside.all()
