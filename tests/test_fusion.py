"""Chunk fusion: hand-computed overlap weights, gaps, registration of shifted sagittal slabs."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from nibabel.affines import apply_affine
from numpy.testing import assert_allclose, assert_array_equal

from bids_app.errors import GeometryError
from bids_app.fusion import FusedImage, fuse_chunks, fuse_label_chunks, register_rigid


def _ras(z0: float, zoom_z: float = 1.0) -> np.ndarray:
    """RAS affine, 1 mm in-plane, first slice at world z = ``z0``."""
    affine = np.diag([1.0, 1.0, zoom_z, 1.0])
    affine[2, 3] = z0
    return affine


def test_overlap_is_a_linear_ramp():
    upper = (np.full((4, 4, 20), 100.0), _ras(10.0))  # slices at z = 10..29, FOV [9.5, 29.5]
    lower = (np.full((4, 4, 20), 20.0), _ras(0.0))  # slices at z = 0..19, FOV [-0.5, 19.5]
    fused = fuse_chunks([lower, upper], register=False)
    assert fused.data.shape == (4, 4, 30)
    assert_allclose(fused.affine, _ras(0.0))
    assert fused.coverage.all()
    z = np.arange(30)
    # upper weight (z - 9.5) / 10 inside the overlap: 24 at z = 10, 40 at z = 12, 96 at z = 19
    expected = np.where(z < 10, 20.0, np.where(z > 19, 100.0, 20.0 + 8.0 * (z - 9.5)))
    assert_allclose(fused.data[2, 1], expected, rtol=1e-6)
    assert fused.data[0, 0, 12] == pytest.approx(40.0)
    assert all(np.array_equal(t, np.eye(4)) for t in fused.world_to_chunk)


def test_output_grid_follows_upper_chunk():
    upper_affine = np.diag([-0.5, 0.5, 2.0, 1.0])  # LAS, 2 mm slices
    upper_affine[2, 3] = 20.0
    lower_affine = np.diag([0.5, 0.5, 2.0, 1.0])  # RAS: same axes, x flipped
    lower_affine[0, 3] = -3.5
    fused = fuse_chunks(
        [(np.ones((8, 6, 5)), lower_affine), (np.full((8, 6, 5), 3.0), upper_affine)],
        register=False,
    )
    # upper covers x in [-3.75, 0.25] (LAS); lower x in [-3.75, 0.25] too; z from 0 to 28
    assert fused.data.shape == (8, 6, 15)
    assert_allclose(fused.affine[:3, :3], upper_affine[:3, :3])
    assert_allclose(fused.affine[:3, 3], [0.0, 0.0, 0.0])
    assert_allclose(fused.data[:, :, 0], 1.0)
    assert_allclose(fused.data[:, :, -1], 3.0)


def test_axial_gap_stays_uncovered(caplog):
    upper = (np.full((3, 3, 10), 5.0), _ras(10.0))  # z = 10..19
    lower = (np.full((3, 3, 8), 7.0), _ras(0.0))  # z = 0..7: gap over (7.5, 9.5)
    with caplog.at_level(logging.WARNING, logger='bids_app.fusion'):
        fused = fuse_chunks([upper, lower], register=False, names=['up.nii.gz', 'low.nii.gz'])
    assert 'low.nii.gz and up.nii.gz: gap of 2.0 mm' in caplog.text
    assert fused.data.shape == (3, 3, 20)
    assert_array_equal(fused.coverage[1, 1], [True] * 8 + [False] * 2 + [True] * 10)
    assert_array_equal(fused.data[1, 1], [7.0] * 8 + [0.0] * 2 + [5.0] * 10)


def test_sagittal_slabs_without_overlap_raise():
    upper = (np.ones((3, 3, 10)), _ras(30.0))
    lower = (np.ones((3, 3, 10)), _ras(0.0))
    with pytest.raises(GeometryError, match=r'low\.nii\.gz and up\.nii\.gz: .*gap of 20\.0 mm'):
        fuse_chunks([upper, lower], register=True, names=['up.nii.gz', 'low.nii.gz'])


def test_mixed_orientations_raise():
    sagittal = np.array([[0, 0, 3, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float)
    with pytest.raises(GeometryError, match=r'ax\.nii\.gz and sag\.nii\.gz have different slice'):
        fuse_chunks(
            [(np.ones((4, 4, 4)), sagittal), (np.ones((4, 4, 4)), _ras(0.0))],
            register=False,
            names=['sag.nii.gz', 'ax.nii.gz'],
        )


def test_labels_follow_the_transform():
    fused = FusedImage(
        np.zeros((10, 10, 10), dtype=np.float32),
        np.eye(4),
        np.ones((10, 10, 10), dtype=bool),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 2], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float),),
    )
    label = np.zeros((10, 10, 10))
    label[5, 5, 5] = 1  # chunk world (5, 5, 5) = fused world (5, 3, 5)
    union = fuse_label_chunks([(label, np.eye(4))], fused)
    assert_array_equal(np.argwhere(union), [[5, 3, 5]])


def test_label_union_on_overlapping_chunks():
    upper_label = np.zeros((4, 4, 20))
    upper_label[1, 1, 15] = 1  # world z = 25
    lower_label = np.zeros((4, 4, 20))
    lower_label[2, 2, 5] = 1  # world z = 5
    images = [(np.ones((4, 4, 20)), _ras(10.0)), (np.ones((4, 4, 20)), _ras(0.0))]
    fused = fuse_chunks(images, register=False)
    union = fuse_label_chunks([(upper_label, _ras(10.0)), (lower_label, _ras(0.0))], fused)
    assert union.dtype == np.uint8
    assert_array_equal(np.argwhere(union), [[1, 1, 25], [2, 2, 5]])


def _field(xyz: np.ndarray) -> np.ndarray:
    """A smooth texture: 30 Gaussian blobs (sigma 4 mm) at fixed pseudo-random places."""
    rng = np.random.default_rng(7)
    centres = rng.uniform([-14, -28, -50], [14, 28, 60], size=(30, 3))
    heights = rng.uniform(0.5, 2.0, size=30)
    out = np.zeros(xyz.shape[:-1])
    for c, h in zip(centres, heights, strict=True):
        out += h * np.exp(-np.sum((xyz - c) ** 2, axis=-1) / (2 * 4.0**2))
    return out.astype(np.float32)


def _sagittal_slab(
    z_lo: float, z_hi: float, shift_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """PSR slab, 2 mm left-right slices, 1 mm in-plane; voxel at world q shows field(q + shift)."""
    shape = (57, int(z_hi - z_lo) + 1, 15)
    affine = np.array(
        [[0, 0, 2.0, -14.0], [-1.0, 0, 0, 28.0], [0, 1.0, 0, z_lo], [0, 0, 0, 1]], dtype=float
    )
    ijk = np.stack(np.meshgrid(*(np.arange(s) for s in shape), indexing='ij'), axis=-1)
    return _field(apply_affine(affine, ijk) + shift_mm), affine


def test_registration_recovers_known_shift():
    shift = np.array([0.0, 2.0, -1.0])  # the lower slab sees the anatomy 2 mm posterior, 1 mm up
    upper = _sagittal_slab(0.0, 60.0, np.zeros(3))
    lower = _sagittal_slab(-50.0, 20.0, shift)
    transform = register_rigid(*upper, *lower)
    # lower(q) = field(q + shift) = upper(p) when q = p - shift
    assert_allclose(transform[:3, 3], -shift, atol=0.3)
    assert_allclose(transform[:3, :3], np.eye(3), atol=0.01)
    fused = fuse_chunks([upper, lower], register=True)
    assert_allclose(fused.world_to_chunk[1], transform)
    # where only the lower slab exists, the fused image shows the true anatomy again
    ijk = np.argwhere(fused.coverage)
    xyz = apply_affine(fused.affine, ijk)
    lower_only = (xyz[:, 2] < -5) & (np.abs(xyz[:, 1]) < 20) & (np.abs(xyz[:, 0]) < 10)
    error = fused.data[tuple(ijk[lower_only].T)] - _field(xyz[lower_only])
    assert np.abs(error).mean() < 0.05 * np.abs(_field(xyz[lower_only])).mean()


def test_single_chunk_is_returned_unchanged():
    data = np.arange(60.0).reshape(3, 4, 5)
    affine = np.array([[0, 0, 3.0, 1], [-0.5, 0, 0, 2], [0, 0.5, 0, 3], [0, 0, 0, 1]])
    fused = fuse_chunks([(data, affine)], register=True)
    assert_array_equal(fused.data, data)
    assert_allclose(fused.affine, affine)
    assert fused.coverage.all()
