"""Cord frame: analytic crops for every voxel order, crop/inverse round trips, real headers."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nibabel.affines import apply_affine
from numpy.testing import assert_allclose, assert_array_equal

from bids_app.config import CordFrameConfig
from bids_app.errors import GeometryError
from bids_app.frame_geometry import (
    crop_affine,
    crop_to_native,
    mask_z_extent,
    reference_z_range,
    sample_crop,
)
from bids_app.geometry import superior_axis, translate_grid

_CODE_AXIS = {'R': (0, 1), 'L': (0, -1), 'A': (1, 1), 'P': (1, -1), 'S': (2, 1), 'I': (2, -1)}


def _rotation(axis: int, degrees: float) -> np.ndarray:
    """3x3 rotation about world axis ``axis``."""
    t = np.deg2rad(degrees)
    a, b = [k for k in range(3) if k != axis]
    rot = np.eye(3)
    rot[a, a] = rot[b, b] = np.cos(t)
    rot[a, b], rot[b, a] = -np.sin(t), np.sin(t)
    return rot


def _grid(axcodes: str, zooms, box_mm, rotation=None) -> tuple[tuple[int, ...], np.ndarray]:
    """Shape and affine of a grid in ``axcodes`` order covering the world box ``box_mm``."""
    linear = np.zeros((4, 4))
    linear[3, 3] = 1
    for a, code in enumerate(axcodes):
        world, sign = _CODE_AXIS[code]
        linear[world, a] = sign * zooms[a]
    if rotation is not None:
        linear[:3, :3] = rotation @ linear[:3, :3]
    corners = np.array([[x, y, z] for x in box_mm[0] for y in box_mm[1] for z in box_mm[2]])
    ijk = apply_affine(np.linalg.inv(linear), corners)
    lo, hi = np.floor(ijk.min(axis=0)), np.ceil(ijk.max(axis=0))
    return tuple(int(s) for s in hi - lo + 1), translate_grid(linear, lo)


def _world(shape, affine) -> np.ndarray:
    """(I, J, K, 3) world coordinates of every voxel centre."""
    ijk = np.stack(np.meshgrid(*(np.arange(s) for s in shape), indexing='ij'), axis=-1)
    return apply_affine(affine, ijk)


def _curved(z_mm: np.ndarray) -> np.ndarray:
    """A curved centreline (RAS+ mm): 3 mm lateral swing, forward lean of 0.1 mm per mm."""
    return np.stack([2.0 + 3.0 * np.sin(z_mm / 15.0), -1.0 + 0.1 * z_mm], axis=1)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


GRIDS = {
    'RAS': ('RAS', (0.8, 0.8, 1.0), np.eye(3)),
    'LAS': ('LAS', (0.7, 0.9, 1.1), np.eye(3)),
    'PSR': ('PSR', (0.6, 0.6, 2.5), np.eye(3)),  # sagittal, thick left-right slices
    'LPI': ('LPI', (0.9, 0.8, 1.2), np.eye(3)),
    'ASL': ('ASL', (1.0, 0.7, 0.8), np.eye(3)),
    'oblique-LAS': ('LAS', (0.6, 0.6, 2.0), _rotation(0, 12.0) @ _rotation(2, -8.0)),
}
BOX = ((-20.0, 20.0), (-22.0, 20.0), (-32.0, 32.0))


def test_reference_z_range_hand_computed():
    frame = CordFrameConfig(voxel_mm=0.5, z_margin_mm=10.0)
    # union (-3.3, 12.1), minus/plus 10 mm: (-13.3, 22.1); snapped start -13.5, last 22.5
    z = reference_z_range([(0.0, 12.1), (-3.3, 5.0)], frame=frame)
    assert z[0] == -13.5
    assert z[-1] == 22.5
    assert z.size == 73
    assert_allclose(np.diff(z), 0.5)


def test_reference_z_range_rejects_empty_and_reversed():
    with pytest.raises(GeometryError, match='no finite cord extent'):
        reference_z_range([])
    with pytest.raises(GeometryError, match='z_min <= z_max'):
        reference_z_range([(5.0, 1.0)])


def test_mask_z_extent_on_psr_grid():
    affine = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 2, 0, -10], [0, 0, 0, 1]], dtype=float)
    mask = np.zeros((3, 6, 2))
    mask[1, 2:5, 0] = 1  # j = 2..4 -> z = -10 + 2 j
    assert mask_z_extent(mask, affine) == (-6.0, -2.0)


@pytest.mark.parametrize('name', sorted(GRIDS))
def test_crop_of_linear_field_is_analytic(name):
    axcodes, zooms, rotation = GRIDS[name]
    shape, affine = _grid(axcodes, zooms, BOX, rotation)
    xyz = _world(shape, affine)
    field = (2.0 * xyz[..., 0] - 3.0 * xyz[..., 1] + 0.5 * xyz[..., 2] + 7.0).astype(np.float32)
    z_mm = np.arange(-25.0, 25.01, 0.5)
    centerline = _curved(z_mm)
    crop, coverage = sample_crop(field, affine, centerline, z_mm)
    assert crop.shape == coverage.shape == (48, 48, z_mm.size)
    assert coverage.all()
    offsets = 0.5 * (np.arange(48) - 23.5)
    x = centerline[None, None, :, 0] - offsets[:, None, None]  # i grows towards the left
    y = centerline[None, None, :, 1] + offsets[None, :, None]  # j grows towards anterior
    expected = 2.0 * x - 3.0 * y + 0.5 * z_mm + 7.0
    assert_allclose(crop, expected, atol=2e-3)


def test_crop_axes_are_las():
    """A blob 5 mm to the subject's right of the centreline lands at i = 23.5 - 10."""
    shape, affine = _grid('RAS', (0.5, 0.5, 0.5), ((-15, 15), (-15, 15), (-3, 3)))
    xyz = _world(shape, affine)
    blob = np.exp(-((xyz[..., 0] - 5.0) ** 2 + (xyz[..., 1] - 3.0) ** 2) / 2.0)
    crop, _ = sample_crop(blob, affine, np.zeros((1, 2)), np.array([0.0]))
    i, j = np.unravel_index(np.argmax(crop[..., 0]), (48, 48))
    assert (i, j) in {(13, 29), (14, 29), (13, 30), (14, 30)}  # peak at (13.5, 29.5)
    assert_allclose(crop[13, 29, 0], crop[14, 30, 0], rtol=1e-5)


def test_crop_zero_outside_image():
    shape, affine = _grid('RAS', (1.0, 1.0, 1.0), ((-5, 5), (-30, 30), (-10, 10)))
    image = np.ones(shape, dtype=np.float32)
    z_mm = np.array([-20.0, 0.0, 20.0])
    crop, coverage = sample_crop(image, affine, np.zeros((3, 2)), z_mm)
    assert_array_equal(coverage.any(axis=(0, 1)), [False, True, False])
    assert_array_equal(crop[..., 0], 0.0)
    # x covers [-5.5, 5.5]: crop voxels with |0.5 (i - 23.5)| <= 5.5 are inside (i = 13..34)
    assert_array_equal(np.flatnonzero(coverage[:, 24, 1]), np.arange(13, 35))
    assert_array_equal(crop[:, 24, 1], coverage[:, 24, 1].astype(np.float32))


def test_crop_affine_exact_for_tilted_straight_line():
    z_mm = np.arange(-10.0, 10.01, 0.5)
    centerline = np.stack([1.0 + 0.2 * z_mm, -4.0 - 0.1 * z_mm], axis=1)
    affine = crop_affine(centerline, z_mm)
    assert nib.aff2axcodes(affine) == ('L', 'A', 'S')
    ijk = np.array([[0, 0, 0], [47, 10, 5], [23.5, 23.5, 40], [5, 40, 17]])
    k = ijk[:, 2].astype(int)
    expected = np.stack(
        [
            centerline[k, 0] - 0.5 * (ijk[:, 0] - 23.5),
            centerline[k, 1] + 0.5 * (ijk[:, 1] - 23.5),
            z_mm[k],
        ],
        axis=1,
    )
    assert_allclose(apply_affine(affine, ijk), expected, atol=1e-9)


def test_bad_centreline_shapes_raise():
    z_mm = np.arange(5) * 0.5
    with pytest.raises(GeometryError, match='expected \\(5, 2\\)'):
        sample_crop(np.zeros((4, 4, 4)), np.eye(4), np.zeros((4, 2)), z_mm)
    with pytest.raises(GeometryError, match='uniform steps'):
        crop_affine(np.zeros((3, 2)), np.array([0.0, 0.5, 1.5]))
    with pytest.raises(GeometryError, match='NaN'):
        crop_affine(np.full((5, 2), np.nan), z_mm)
    with pytest.raises(GeometryError, match='expected \\(48, 48, 5\\)'):
        crop_to_native(np.zeros((48, 48, 4)), np.zeros((5, 2)), z_mm, (4, 4, 4), np.eye(4))


@pytest.mark.parametrize('name', sorted(GRIDS))
def test_round_trip_of_curved_cylinder_keeps_dice(name):
    axcodes, zooms, rotation = GRIDS[name]
    shape, affine = _grid(axcodes, zooms, BOX, rotation)
    xyz = _world(shape, affine)
    z_mm = np.arange(-30.0, 30.01, 0.5)
    centerline = _curved(z_mm)
    cx = np.interp(xyz[..., 2], z_mm, centerline[:, 0])
    cy = np.interp(xyz[..., 2], z_mm, centerline[:, 1])
    cord = ((xyz[..., 0] - cx) ** 2 + (xyz[..., 1] - cy) ** 2 <= 4.0**2) & (
        np.abs(xyz[..., 2]) <= 25.0
    )
    crop, _ = sample_crop(cord.astype(np.float32), affine, centerline, z_mm)
    back = crop_to_native(crop, centerline, z_mm, shape, affine)
    assert back.shape == shape
    assert _dice(back >= 0.5, cord) >= 0.95
    # far from the cord the inverse is exactly zero
    far = np.hypot(xyz[..., 0] - cx, xyz[..., 1] - cy) > 13.0
    assert_array_equal(back[far], 0.0)


def test_inverse_of_crop_index_field_returns_indices():
    """Crop values = their own i index; mapped back, a native voxel gets its crop i coordinate."""
    shape, affine = _grid('PSR', (0.5, 0.5, 1.0), ((-8, 8), (-8, 8), (-4, 4)))
    z_mm = np.arange(-6.0, 6.01, 0.5)
    centerline = np.tile([1.0, -0.5], (z_mm.size, 1))
    crop = np.broadcast_to(np.arange(48.0)[:, None, None], (48, 48, z_mm.size))
    back = crop_to_native(np.ascontiguousarray(crop), centerline, z_mm, shape, affine)
    xyz = _world(shape, affine)
    expected = 23.5 - (xyz[..., 0] - 1.0) / 0.5
    inside = (np.abs(xyz[..., 0] - 1.0) <= 11.5) & (np.abs(xyz[..., 1] + 0.5) <= 11.5)
    assert_allclose(back[inside], expected[inside], atol=1e-4)


def _centroid_centerline(mask: np.ndarray, affine: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
    """Mask centroid per native slice along the S-I voxel axis, interpolated onto ``z_mm``."""
    axis = superior_axis(affine)
    points = []
    for s in range(mask.shape[axis]):
        ijk = np.argwhere(np.take(mask, s, axis=axis) > 0)
        if ijk.size:
            ijk = np.insert(ijk, axis, s, axis=1)
            points.append(apply_affine(affine, ijk).mean(axis=0))
    points = np.array(sorted(points, key=lambda p: p[2]))
    return np.stack([np.interp(z_mm, points[:, 2], points[:, a]) for a in (0, 1)], axis=1)


@pytest.mark.parametrize(
    'stem', ['sub-errsm30_T2w', 'sub-errsm30_T1w', 'sub-errsm30_acq-ax_T2starw']
)
def test_real_cord_mask_round_trip(sct_example, stem):
    path = sct_example / 'derivatives/labels/sub-errsm30/anat' / f'{stem}_label-SC_seg.nii.gz'
    img = nib.load(path)
    mask = np.asarray(img.dataobj) > 0
    z_mm = reference_z_range([mask_z_extent(mask, img.affine)])
    centerline = _centroid_centerline(mask, img.affine, z_mm)
    crop, coverage = sample_crop(mask.astype(np.float32), img.affine, centerline, z_mm)
    assert crop.sum() > 0
    assert coverage.any(axis=(0, 1)).sum() > 10
    back = crop_to_native(crop, centerline, z_mm, mask.shape, img.affine)
    assert _dice(back >= 0.5, mask) >= 0.95
