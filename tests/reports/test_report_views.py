"""Known-answer tests of the report's views: orientation, outlines, mosaics, lesion slices."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from bids_app.frame import CordFrame
from bids_app.reports.canvas import NOT_COVERED_GREY, load_canonical, world_to_view_mm
from bids_app.reports.mosaics import lesion_slices, patch_rgb
from bids_app.reports.native import is_axial
from bids_app.reports.views import (
    axial_view,
    crop_axial_patch,
    mosaic_origins,
    mosaic_shape,
    outline_segments,
    sagittal_view,
    slices_every,
)
from bids_app.slots import Slot


def test_sagittal_view_puts_anterior_left_and_superior_top():
    data = np.zeros((3, 4, 5))
    data[1, 3, 4] = 1  # most anterior, most superior
    data[1, 0, 0] = 2  # most posterior, most inferior
    view = sagittal_view(data, (1.0, 0.5, 2.0), 1)
    assert view.image.shape == (5, 4)
    assert view.image[0, 0] == 1
    assert view.image[-1, -1] == 2
    assert view.extent == (1.75, -0.25, -1.0, 9.0)  # A-P: 4 x 0.5 mm, S-I: 5 x 2 mm
    assert view.letters == ('A', 'P', 'S', 'I')


def test_axial_view_is_radiological():
    data = np.zeros((3, 4, 2))
    data[2, 3, 1] = 1  # patient's right, anterior
    view = axial_view(data, (0.5, 0.5, 4.0), 1)
    assert view.image.shape == (4, 3)
    assert view.image[0, 0] == 1  # viewer's top left
    assert view.letters == ('R', 'L', 'A', 'P')


def test_crop_patch_is_radiological():
    crop = np.zeros((48, 48, 3))
    crop[0, 47, 2] = 1  # LAS crop: i = 0 is the right-most column, j = 47 the most anterior
    patch = crop_axial_patch(crop, 2)
    assert patch[0, 0] == 1
    assert patch.sum() == 1


def test_canonical_reorientation_of_psr_storage(tmp_path: Path):
    """A voxel stored P-S-R shows where its world point says, after as_closest_canonical."""
    affine = np.array([[0, 0, 1.0, -5], [-0.7, 0, 0, 10], [0, 0.7, 0, -20], [0, 0, 0, 1]])
    data = np.zeros((30, 40, 11), dtype=np.float32)
    data[4, 25, 7] = 9
    nib.Nifti1Image(data, affine).to_filename(tmp_path / 'psr.nii.gz')
    canonical, vox2world, zooms = load_canonical(tmp_path / 'psr.nii.gz')
    world = affine @ np.array([4, 25, 7, 1.0])
    ijk = np.rint(world_to_view_mm(world[None, :3], vox2world, zooms)[0] / zooms).astype(int)
    assert canonical[tuple(ijk)] == 9
    assert_allclose(zooms, (1.0, 0.7, 0.7))


def test_is_axial():
    assert is_axial((0.5, 0.5, 4.0))
    assert not is_axial((3.0, 0.8, 0.8))
    assert not is_axial((1.0, 1.0, 1.2))


def test_outline_of_a_square_has_its_perimeter():
    mask = np.zeros((5, 5))
    mask[1:3, 2:4] = 1  # 2 x 2 block
    segments = outline_segments(mask)
    lengths = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    assert len(segments) == 8
    assert lengths.sum() == pytest.approx(8.0)
    assert segments[..., 0].min() == 1.5  # left edge of column 2
    assert segments[..., 1].max() == 2.5  # bottom edge of row 2


def test_outline_in_millimetre_extent():
    segments = outline_segments(np.ones((2, 4)), extent=(0.0, 8.0, 4.0, 0.0))
    assert len(segments) == 12
    assert_allclose(np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1).sum(), 24.0)


def test_outline_of_empty_mask_is_empty():
    assert outline_segments(np.zeros((3, 3))).shape == (0, 2, 2)


def test_mosaic_layout():
    origins = mosaic_origins(5, 2, (48, 48), 2)
    assert origins[:3] == [(2, 2), (2, 52), (52, 2)]
    assert mosaic_shape(5, 2, (48, 48), 2) == (152, 102)


def test_slices_every_keeps_the_covered_range():
    z = np.arange(-20.0, 20.0, 0.5)
    picked = slices_every(z, z >= 0, 5.0, 40)
    assert_array_equal(z[picked], [19.5, 14.5, 9.5, 4.5])
    assert len(slices_every(z, np.zeros_like(z, bool), 1.0, 10)) == 10


def test_not_covered_patch_is_grey():
    crop = np.full((4, 4, 2), 50.0)
    covered = np.ones((4, 4, 2), bool)
    covered[:, :, 1] = False
    assert_allclose(patch_rgb(crop, covered, 1, (0.0, 100.0)), NOT_COVERED_GREY)
    assert_allclose(patch_rgb(crop, covered, 0, (0.0, 100.0)), 0.5)


def test_lesion_slice_area_and_level(synthetic_unit):
    """Lesion 1 (2.4 mm ball at z = 20 on 3 x 0.8 x 0.8 mm voxels) is 6 x 10 frame pixels."""
    unit = synthetic_unit()
    frame = CordFrame.load(unit.cordframe)
    labels, affine, _ = load_canonical(unit.dseg)
    picked = lesion_slices(
        np.rint(labels), affine, frame.centerlines[Slot.T2Sag], frame.z_mm,
        [(1, 17.6, 22.4), (2, -27.4, -22.6)],
    )  # fmt: skip
    assert [p.index for p in picked] == [1, 2]
    assert abs(picked[0].z_mm - 20.0) <= 1.2
    assert abs(picked[1].z_mm + 25.0) <= 1.2
    assert picked[0].outline.sum() == 60
    rows, cols = np.nonzero(picked[0].outline)
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (21, 26, 19, 28)
    assert not frame.coverage[Slot.T2starAx][:, :, picked[1].k].any()
    assert frame.coverage[Slot.T2starAx][:, :, picked[0].k].any()
