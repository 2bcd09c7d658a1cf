"""Tests of bids_app.lesions: numbering and per-lesion measures, answers computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.errors import GeometryError
from bids_app.lesions import COLUMNS, LesionMeasures, label_lesions, lesion_table

# Sagittal storage, nibabel axcodes PSR: axis 0 -> posterior (0.5 mm), axis 1 -> superior
# (0.5 mm), axis 2 -> right (3 mm slices). World z = 0.5 j - 30.
PSR = np.array(
    [
        [0.0, 0.0, 3.0, -20.0],
        [-0.5, 0.0, 0.0, 10.0],
        [0.0, 0.5, 0.0, -30.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
# Axial storage, RAS, 0.5 x 0.5 x 3 mm.
AXIAL = np.diag([0.5, 0.5, 3.0, 1.0])


def rotation_about(axis: int, degrees: float) -> np.ndarray:
    """4x4 rotation of the world about world axis 0 (x) or 2 (z)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    a, b = [(1, 2), None, (0, 1)][axis]
    rot = np.eye(4)
    rot[a, a], rot[a, b], rot[b, a], rot[b, b] = c, -s, s, c
    return rot


def axial_lesion() -> np.ndarray:
    """7 voxels on AXIAL: slice k=2 holds i 1..3 x j 1..2 (6 voxels), slice k=3 holds (2, 1, 3)."""
    labels = np.zeros((6, 5, 6), np.int32)
    labels[1:4, 1:3, 2] = 1
    labels[2, 1, 3] = 1
    return labels


class TestLabelLesions:
    def test_diagonal_contact_joins_at_26_not_6(self) -> None:
        mask = np.zeros((4, 4, 4), bool)
        mask[1, 1, 1] = mask[2, 2, 2] = True  # touch by a corner only
        assert label_lesions(mask, np.eye(4))[1] == 1
        assert label_lesions(mask, np.eye(4), connectivity=18)[1] == 2
        assert label_lesions(mask, np.eye(4), connectivity=6)[1] == 2

    def test_superior_first_on_psr_grid(self) -> None:
        # A at (i=1, j=2) comes first in C order; B at (i=5, j=8) is more superior
        # (z = 0.5 * 8 - 30 = -26 > 0.5 * 3 - 30 = -28.5 for A's top voxel j=3).
        mask = np.zeros((8, 12, 4), bool)
        mask[1, 2:4, 1] = True  # A
        mask[5, 7:9, 2] = True  # B
        labels, n = label_lesions(mask, PSR)
        assert n == 2
        assert labels.dtype == np.int32
        assert labels[5, 8, 2] == 1
        assert labels[1, 2, 1] == 2
        assert set(np.unique(labels)) == {0, 1, 2}

    def test_superior_first_when_axis_points_inferior(self) -> None:
        # Flip axis 1 (PIR): j increasing goes inferior, so now A (small j) is superior.
        pir = PSR.copy()
        pir[2, 1] = -0.5
        mask = np.zeros((8, 12, 4), bool)
        mask[1, 2:4, 1] = True
        mask[5, 7:9, 2] = True
        labels, _ = label_lesions(mask, pir)
        assert labels[1, 2, 1] == 1
        assert labels[5, 8, 2] == 2

    def test_level_lesions_keep_c_order(self) -> None:
        mask = np.zeros((7, 7, 7), bool)
        mask[5, 1, 5] = True  # top z = 5, second in C order (i = 5)
        mask[1, 5, 5] = True  # top z = 5, first in C order (i = 1)
        mask[3, 3, 6] = True  # top z = 6: superior-most
        labels, n = label_lesions(mask, np.eye(4))
        assert n == 3
        assert (labels[3, 3, 6], labels[1, 5, 5], labels[5, 1, 5]) == (1, 2, 3)

    def test_empty_mask(self) -> None:
        labels, n = label_lesions(np.zeros((3, 3, 3), bool), np.eye(4))
        assert n == 0
        assert not labels.any()

    def test_rejects_bad_connectivity_and_affine(self) -> None:
        with pytest.raises(GeometryError, match='connectivity'):
            label_lesions(np.zeros((3, 3, 3), bool), np.eye(4), connectivity=4)
        with pytest.raises(GeometryError, match='singular'):
            label_lesions(np.zeros((3, 3, 3), bool), np.diag([1.0, 0.0, 1.0, 1.0]))
        with pytest.raises(GeometryError, match='3D'):
            label_lesions(np.zeros((3, 3), bool), np.eye(4))


class TestLesionTable:
    def test_anisotropic_axial_grid(self) -> None:
        (m,) = lesion_table(axial_lesion(), AXIAL)
        assert m.index == 1
        assert m.volume_mm3 == pytest.approx(7 * 0.75)  # voxel 0.5 * 0.5 * 3 = 0.75 mm3
        # centres z = 6 and 9; extent (9 - 6) + 3 = 6; limits 6 - 1.5 and 9 + 1.5
        assert (m.length_mm, m.z_min_mm, m.z_max_mm) == pytest.approx((6.0, 4.5, 10.5))
        # slice k=2: 6 voxels x 0.25 mm2 = 1.5 mm2 -> 2 sqrt(1.5 / pi)
        assert m.max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(1.5 / math.pi))
        # slice k=2: x centres 0.5..1.5 -> 1.0 + 0.5 = 1.5; y 0.5..1.0 -> 0.5 + 0.5 = 1.0
        assert m.max_axial_width_mm == pytest.approx(1.5)
        # mean i = 14/7 = 2 -> x = 1.0; mean j = 10/7 -> y = 5/7; z = (6 * 6 + 9) / 7 = 45/7
        centroid = (m.centroid_x_mm, m.centroid_y_mm, m.centroid_z_mm)
        assert centroid == pytest.approx((1.0, 5 / 7, 45 / 7))
        assert (m.mean_probability, m.slots_covering, m.distance_along_cord_mm) == (
            None,
            None,
            None,
        )

    def test_sagittal_psr_grid_slices_axially_in_world_z(self) -> None:
        labels = np.zeros((8, 16, 8), np.int32)
        labels[3:6, 10:14, 4] = 1  # one 3 mm sagittal slice, 4 axial levels, 3 voxels A-P
        labels[4, 10, 5] = 1  # plus one voxel in the next sagittal slice at level j=10
        (m,) = lesion_table(labels, PSR)
        assert m.volume_mm3 == pytest.approx(13 * 0.75)
        # z centres 0.5 * 10 - 30 = -25 .. -23.5; extent 1.5 + 0.5 = 2.0
        assert (m.length_mm, m.z_min_mm, m.z_max_mm) == pytest.approx((2.0, -25.25, -23.25))
        # axial level j=10: 4 voxels, each 0.5 (A-P) x 3 (R-L) = 1.5 mm2 axially -> 6 mm2
        assert m.max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(6.0 / math.pi))
        # level j=10: x centres 3*4-20 = -8 and -5 -> 3 + 3 = 6 mm (R-L); A-P is 1.0 + 0.5
        assert m.max_axial_width_mm == pytest.approx(6.0)

    def test_oblique_grid_length(self) -> None:
        # 1 mm voxels rotated 30 deg about world x: one voxel spans sin30 + cos30 in world z.
        vox2world = rotation_about(0, 30.0)
        labels = np.zeros((3, 3, 6), np.int32)
        labels[1, 1, 1:5] = 1  # 4 voxels along axis 2, centres cos30 apart in z
        (m,) = lesion_table(labels, vox2world)
        height = 0.5 + math.sqrt(3) / 2
        assert m.volume_mm3 == pytest.approx(4.0)
        assert m.length_mm == pytest.approx(3 * math.sqrt(3) / 2 + height)
        # axis 2 centre of voxel (1, 1, k): z = sin30 * 1 + cos30 * k
        assert m.z_min_mm == pytest.approx(0.5 + math.sqrt(3) / 2 - height / 2)

    def test_in_plane_rotation_keeps_exact_slices(self) -> None:
        # 45 deg about z: slices stay axial; a 2 x 2 voxel square is a 2 x 2 square turned 45 deg.
        labels = np.zeros((4, 4, 3), np.int32)
        labels[1:3, 1:3, 1] = 1
        (m,) = lesion_table(labels, rotation_about(2, 45.0))
        assert m.max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(4 / math.pi))
        assert m.max_axial_width_mm == pytest.approx(2 * math.sqrt(2))  # its diagonal
        assert m.length_mm == pytest.approx(1.0)

    def test_tilted_cube_cross_section(self) -> None:
        # A 10 mm cube tilted 20 deg about x: a mid axial plane cuts it in a 10 x 10/cos20
        # rectangle, 106.4 mm2, where voxel-index slices would give 100 mm2. Its world-z extent
        # is 10 (cos20 + sin20) = 12.82 mm.
        labels = np.zeros((12, 12, 12), np.int32)
        labels[1:11, 1:11, 1:11] = 1
        (m,) = lesion_table(labels, rotation_about(0, 20.0))
        area = 100.0 / math.cos(math.radians(20.0))
        assert m.max_equivalent_diameter_mm == pytest.approx(
            2 * math.sqrt(area / math.pi), rel=1e-3
        )
        angle = math.radians(20.0)
        assert m.length_mm == pytest.approx(10 * (math.cos(angle) + math.sin(angle)))

    def test_probability_coverage_and_distance_along_cord(self) -> None:
        labels = axial_lesion()
        probability = np.zeros(labels.shape)
        probability[labels > 0] = 0.6
        probability[2, 1, 3] = 0.95  # mean = (6 * 0.6 + 0.95) / 7 = 0.65
        whole = np.ones(labels.shape, bool)
        upper = np.zeros(labels.shape, bool)
        upper[..., 3:] = True  # holds 1 of 7 lesion voxels
        lower = ~upper  # holds 6 of 7
        # straight centreline x = 0, y = 0.75 z for z = 0..20: ds/dz = sqrt(1 + 0.75^2) = 1.25
        z = np.linspace(20.0, 0.0, 41)
        centerline = np.column_stack([np.zeros_like(z), 0.75 * z, z])
        (m,) = lesion_table(
            labels,
            AXIAL,
            probability=probability,
            coverage_by_slot={'T2Sag': whole, 'T2starAx': upper, 'T2Ax': lower},
            centerline_xyz_mm=centerline,
        )
        assert m.mean_probability == pytest.approx(0.65)
        assert m.slots_covering == ('T2Sag', 'T2Ax')
        assert m.distance_along_cord_mm == pytest.approx(1.25 * (20 - 45 / 7))

    def test_distance_to_the_field_of_views_ends(self) -> None:
        labels = np.zeros((4, 4, 10), np.int32)
        labels[1, 1, 3:5] = 1  # z centres 9, 12 -> 7.5 .. 13.5 mm
        labels[2, 2, 8] = 2  # the top seen slice: 22.5 .. 25.5 mm
        seen = np.zeros(labels.shape, bool)
        seen[:, :, 2:9] = True  # z centres 6 .. 24 -> 4.5 .. 25.5 mm
        first, second = lesion_table(labels, AXIAL, field_of_view=seen)
        assert first.distance_to_view_end_mm == pytest.approx(3.0)  # 7.5 - 4.5
        assert second.distance_to_view_end_mm == 0.0
        (unseen,) = lesion_table(labels == 1, AXIAL, field_of_view=np.zeros_like(seen))
        assert unseen.to_row()['distance_to_view_end_mm'] == 'n/a'
        assert lesion_table(labels == 1, AXIAL)[0].distance_to_view_end_mm is None

    def test_distance_to_view_end_on_a_sagittal_grid(self) -> None:
        labels = np.zeros((8, 16, 8), np.int32)
        labels[4, 10, 4] = 1  # z centre 0.5 * 10 - 30 = -25 -> -25.25 .. -24.75
        seen = np.ones(labels.shape, bool)  # z centres -30 .. -22.5 -> -30.25 .. -22.25
        (m,) = lesion_table(labels, PSR, field_of_view=seen)
        assert m.distance_to_view_end_mm == pytest.approx(2.5)  # -22.25 - (-24.75)

    def test_centroid_outside_centreline_is_nan(self, caplog: pytest.LogCaptureFixture) -> None:
        centerline = np.array([[0.0, 0.0, 20.0], [0.0, 0.0, 30.0]])
        (m,) = lesion_table(axial_lesion(), AXIAL, centerline_xyz_mm=centerline)
        assert math.isnan(m.distance_along_cord_mm)
        assert 'outside the centreline' in caplog.text
        assert m.to_row()['distance_along_cord_mm'] == 'n/a'

    def test_several_lesions_in_index_order(self) -> None:
        labels = np.zeros((5, 5, 5), np.int32)
        labels[0, 0, 0] = 2
        labels[4, 4, 4] = 1
        labels[2, 2, 2] = 4  # index 3 absent: skipped
        table = lesion_table(labels, np.eye(4))
        assert [m.index for m in table] == [1, 2, 4]
        assert [m.centroid_z_mm for m in table] == [4.0, 0.0, 2.0]

    def test_float_labels_as_loaded_from_a_dseg(self) -> None:
        (m,) = lesion_table(axial_lesion().astype(np.float64), AXIAL)
        assert m.volume_mm3 == pytest.approx(7 * 0.75)
        with pytest.raises(GeometryError, match='whole numbers'):
            lesion_table(axial_lesion() * 0.5, AXIAL)

    def test_shape_mismatch_is_an_error(self) -> None:
        with pytest.raises(GeometryError, match='probability'):
            lesion_table(axial_lesion(), AXIAL, probability=np.zeros((2, 2, 2)))
        with pytest.raises(GeometryError, match='T2Ax'):
            lesion_table(axial_lesion(), AXIAL, coverage_by_slot={'T2Ax': np.ones((2, 2, 2))})
        with pytest.raises(GeometryError, match='centreline'):
            lesion_table(axial_lesion(), AXIAL, centerline_xyz_mm=np.zeros((1, 3)))


def test_to_row_has_every_column() -> None:
    m = LesionMeasures(3, 1.23456, 2.0, 1.0, 1.0, 0.0, 2.0, 1.0, 2.0, 3.0, 0.5, ('T2Sag',), None)
    row = m.to_row()
    assert list(row) == list(COLUMNS)
    assert row['name'] == 'lesion-3'
    assert row['volume_mm3'] == 1.235
    assert row['slots_covering'] == 'T2Sag'
    assert row['distance_along_cord_mm'] == 'n/a'


def corner_z_extent(ijk: np.ndarray, vox2world: np.ndarray) -> tuple[float, float]:
    """World z range of the 8 corners of every voxel: an independent lesion extent."""
    corners = np.array(np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5])).reshape(3, -1).T
    points = (ijk[:, None, :] + corners[None]).reshape(-1, 3)
    z = nib.affines.apply_affine(vox2world, points)[:, 2]
    return float(z.min()), float(z.max())


class TestRealHeaders:
    """Cord masks of ../shared/data/sct-example used as large, real-geometry 'lesions'."""

    def test_oblique_axial_t2star_cord(self, sct_example: Path) -> None:
        image = nib.load(
            sct_example
            / 'derivatives/labels/sub-errsm30/anat'
            / 'sub-errsm30_acq-ax_T2starw_label-SC_seg.nii.gz'
        )
        mask = np.asarray(image.dataobj) > 0
        labels, n = label_lesions(mask, image.affine)
        assert n == 1
        (m,) = lesion_table(labels, image.affine)
        voxel_volume = abs(np.linalg.det(image.affine[:3, :3]))
        assert m.volume_mm3 == pytest.approx(mask.sum() * voxel_volume)
        z_min, z_max = corner_z_extent(np.argwhere(mask).astype(float), image.affine)
        assert (m.z_min_mm, m.z_max_mm) == pytest.approx((z_min, z_max), abs=1e-6)
        # The tilt is small (in-plane axes rise < 0.01 mm per voxel in z), so the axial slabs
        # are the 7.5 mm voxel slices: area = voxels in the slice x |det| / slice z step.
        area = mask.sum(axis=(0, 1)).max() * voxel_volume / image.affine[2, 2]
        assert m.max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(area / math.pi))
        assert 6.0 < m.max_equivalent_diameter_mm < 12.0  # a cord is about 8-10 mm across

    def test_psr_t2w_cord_cut_in_two(self, sct_example: Path) -> None:
        image = nib.load(
            sct_example
            / 'derivatives/labels/sub-errsm30/anat'
            / 'sub-errsm30_T2w_label-SC_seg.nii.gz'
        )
        mask = np.asarray(image.dataobj) > 0
        rows = np.flatnonzero(mask.any(axis=(0, 2)))  # axis 1 runs inferior -> superior
        cut = (rows.min() + rows.max()) // 2
        mask[:, cut : cut + 3, :] = False
        labels, n = label_lesions(mask, image.affine)
        assert n == 2
        upper_rows = np.flatnonzero((labels == 1).any(axis=(0, 2)))
        assert upper_rows.min() >= cut + 3
        upper, lower = lesion_table(labels, image.affine)
        assert upper.centroid_z_mm > lower.centroid_z_mm
        # 1 mm isotropic PSR: axis 1 is world z, so the lengths are row counts in mm
        assert upper.length_mm == pytest.approx(rows.max() - cut - 2)
        assert lower.length_mm == pytest.approx(cut - rows.min())
