"""Tests of bids_app.metrics and bids_app.stats; hand-computed answers, arithmetic in comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bids_app.errors import DatasetError, GeometryError
from bids_app.metrics import dice, lesion_wise, volume_agreement
from bids_app.stats import bland_altman, describe, wilcoxon_paired

SHAPE = (4, 4, 40)


def column(*z_ranges: tuple[int, int], x: int = 1, y: int = 1) -> np.ndarray:
    """Mask with voxels (x, y, z) for z in each half-open range [start, stop)."""
    mask = np.zeros(SHAPE, bool)
    for start, stop in z_ranges:
        mask[x, y, start:stop] = True
    return mask


class TestEmptyMasks:
    def test_both_empty(self) -> None:
        empty = np.zeros(SHAPE, bool)
        result = lesion_wise(empty, empty)
        assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (0, 0, 0, 0, 0)
        assert math.isnan(result.sensitivity)
        assert math.isnan(result.precision)
        assert result.f1 == 1.0
        assert dice(empty, empty) == 1.0

    def test_empty_reference(self) -> None:
        # one predicted lesion, 100 % outside the (empty) reference -> FP; P = 0/1 = 0
        pred = column((0, 5))
        result = lesion_wise(pred, np.zeros(SHAPE, bool))
        assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (0, 1, 0, 1, 0)
        assert math.isnan(result.sensitivity)
        assert result.precision == 0.0
        assert result.f1 == 0.0
        assert dice(pred, np.zeros(SHAPE, bool)) == 0.0

    def test_empty_prediction(self) -> None:
        ref = column((0, 5), (10, 12))
        result = lesion_wise(np.zeros(SHAPE, bool), ref)
        assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (2, 0, 0, 0, 2)
        assert result.sensitivity == 0.0
        assert math.isnan(result.precision)
        assert result.f1 == 0.0
        assert dice(np.zeros(SHAPE, bool), ref) == 0.0


def test_one_lesion_split_into_two_predictions() -> None:
    # reference z 0..9 (10 voxels); predictions z 0..3 and 6..9 (gap at 4, 5: two lesions)
    ref = column((0, 10))
    pred = column((0, 4), (6, 10))
    result = lesion_wise(pred, ref)
    # the reference lesion is 8/10 predicted -> TP; both predictions lie fully inside -> not FP
    assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (1, 2, 1, 0, 0)
    assert (result.sensitivity, result.precision, result.f1) == (1.0, 1.0, 1.0)
    assert dice(pred, ref) == pytest.approx(2 * 8 / (8 + 10))


@pytest.mark.parametrize(
    ('connectivity', 'n_ref', 'tp', 'fn', 'sensitivity', 'f1'),
    [
        # one lesion, 3/6 predicted -> TP; S = P = 1
        (26, 1, 1, 0, 1.0, 1.0),
        # two lesions, only the first predicted: S = 1/2, P = 1, F1 = 2 * 0.5 / 1.5 = 2/3
        (6, 2, 1, 1, 0.5, 2 / 3),
    ],
)
def test_touching_lesions_by_a_corner(
    connectivity: int, n_ref: int, tp: int, fn: int, sensitivity: float, f1: float
) -> None:
    # reference: z 0..2 at (1, 1) and z 3..5 at (2, 2): voxels (1,1,2) and (2,2,3) share a corner
    ref = column((0, 3)) | column((3, 6), x=2, y=2)
    pred = column((0, 3))
    result = lesion_wise(pred, ref, connectivity=connectivity)
    assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (n_ref, 1, tp, 0, fn)
    assert result.sensitivity == pytest.approx(sensitivity)
    assert result.precision == 1.0
    assert result.f1 == pytest.approx(f1)


@pytest.mark.parametrize(
    ('pred_start', 'fp', 'precision', 'f1'),
    [
        # prediction z 13..32 (20 voxels), 7 in the reference (13..19): 13/20 = 65 % outside
        (13, 0, 1.0, 1.0),
        # prediction z 14..33, 6 inside: 14/20 = exactly 70 % outside: not more than 70 %
        (14, 0, 1.0, 1.0),
        # prediction z 15..34, 5 inside: 15/20 = 75 % outside -> FP; P = 0, F1 = 0
        (15, 1, 0.0, 0.0),
    ],
)
def test_false_positive_threshold(pred_start: int, fp: int, precision: float, f1: float) -> None:
    ref = column((0, 20))
    pred = column((pred_start, pred_start + 20))
    result = lesion_wise(pred, ref)
    # the reference lesion is at least 5/20 = 25 % predicted in every case -> TP
    assert (result.tp, result.fp, result.fn) == (1, fp, 0)
    assert result.sensitivity == 1.0
    assert result.precision == precision
    assert result.f1 == f1


@pytest.mark.parametrize(
    ('n_predicted', 'tp', 'sensitivity', 'f1'),
    [
        # 9 of 100 voxels = 9 % < 10 % -> FN; the 9-voxel prediction is inside -> not FP:
        # S = 0, P = 1, F1 = 0
        (9, 0, 0.0, 0.0),
        # exactly 10 % -> detected (at least 10 %)
        (10, 1, 1.0, 1.0),
        # 11 % -> detected: S = P = F1 = 1
        (11, 1, 1.0, 1.0),
    ],
)
def test_true_positive_threshold(n_predicted: int, tp: int, sensitivity: float, f1: float) -> None:
    ref = np.zeros((12, 12, 3), bool)
    ref[1:11, 1:11, 1] = True  # 10 x 10 = 100 voxels in one slice
    pred = np.zeros_like(ref)
    pred[tuple(np.argwhere(ref)[:n_predicted].T)] = True  # first voxels in C order: connected
    result = lesion_wise(pred, ref)
    assert (result.n_ref, result.n_pred, result.tp, result.fp) == (1, 1, tp, 0)
    assert result.sensitivity == sensitivity
    assert result.precision == 1.0
    assert result.f1 == f1
    assert dice(pred, ref) == pytest.approx(2 * n_predicted / (n_predicted + 100))


def test_mixed_counts() -> None:
    # reference lesions z 0..9 and z 20..29; predictions z 2..5 (inside, TP for lesion 1) and
    # z 35..39 (outside, FP): S = 1/2, P = 1/2, F1 = 0.5
    ref = column((0, 10), (20, 30))
    pred = column((2, 6), (35, 40))
    result = lesion_wise(pred, ref)
    assert (result.n_ref, result.n_pred, result.tp, result.fp, result.fn) == (2, 2, 1, 1, 1)
    assert (result.sensitivity, result.precision, result.f1) == (0.5, 0.5, 0.5)


def test_custom_thresholds() -> None:
    # 3 of 10 reference voxels predicted: detected at 10 %, missed at 50 %
    ref = column((0, 10))
    pred = column((0, 3))
    assert lesion_wise(pred, ref, tp_fraction=0.5).tp == 0
    assert lesion_wise(pred, ref).tp == 1


class TestVolumeAgreement:
    def test_anisotropic_voxels(self) -> None:
        # voxel 0.5 x 0.5 x 3 = 0.75 mm3: prediction 10 voxels = 7.5 mm3 in 2 lesions,
        # reference 8 voxels = 6.0 mm3 in 1 lesion
        pred = column((0, 6), (10, 14))
        ref = column((0, 8))
        agreement = volume_agreement(pred, ref, np.diag([0.5, 0.5, 3.0, 1.0]))
        assert agreement.pred_volume_mm3 == pytest.approx(7.5)
        assert agreement.ref_volume_mm3 == pytest.approx(6.0)
        assert agreement.volume_difference_mm3 == pytest.approx(1.5)
        assert (agreement.n_pred, agreement.n_ref, agreement.count_difference) == (2, 1, 1)

    def test_oblique_affine_keeps_voxel_volume(self) -> None:
        # a rotation does not change |det|: 0.5 * 0.5 * 3 = 0.75 mm3 per voxel
        c, s = math.cos(0.3), math.sin(0.3)
        vox2world = np.array(
            [
                [0.5, 0.0, 0.0, 5.0],
                [0.0, 0.5 * c, -3 * s, 0.0],
                [0.0, 0.5 * s, 3 * c, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ]
        )
        agreement = volume_agreement(column((0, 4)), column((0, 8)), vox2world)
        assert agreement.volume_difference_mm3 == pytest.approx(-4 * 0.75)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(GeometryError, match='same'):
        dice(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)))
    with pytest.raises(GeometryError, match='3D'):
        lesion_wise(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(GeometryError, match='connectivity'):
        lesion_wise(np.zeros(SHAPE), np.zeros(SHAPE), connectivity=8)


class TestGroupStatistics:
    """bids_app.stats: group summaries and comparisons of per-image metrics."""

    def test_describe_leaves_nan_out(self) -> None:
        # [1, 2, 6]: mean 3, median 2, std = sqrt((4 + 1 + 9) / 2) = sqrt(7)
        summary = describe([1.0, math.nan, 2.0, 6.0])
        assert (summary.n, summary.n_missing, summary.mean, summary.median) == (3, 1, 3.0, 2.0)
        assert summary.std == pytest.approx(math.sqrt(7))
        single = describe([0.4])
        assert (single.mean, single.median) == (0.4, 0.4)
        assert math.isnan(single.std)
        assert math.isnan(describe([math.nan]).mean)

    def test_wilcoxon_all_positive_differences(self) -> None:
        # differences 1..5 all positive: W- = 0; exact two-sided p = 2 / 2^5 = 0.0625.
        # A zero difference is dropped first, so adding the pair (0.3, 0.3) changes nothing.
        result = wilcoxon_paired([2, 4, 6, 8, 10, 0.3], [1, 2, 3, 4, 5, 0.3])
        assert (result.n_pairs, result.statistic, result.note) == (6, 0.0, '')
        assert result.p_value == pytest.approx(0.0625)

    def test_wilcoxon_mixed_signs(self) -> None:
        # differences 1, -2, 3, 4, 5: W- = 2, W+ = 13 -> statistic 2; rank sums <= 2 come from
        # {}, {1}, {2}: 3 of 32 sign patterns -> p = 2 * 3 / 32 = 0.1875
        result = wilcoxon_paired([1.0, 0.0, 3.0, 4.0, 5.0], [0.0, 2.0, 0.0, 0.0, 0.0])
        assert result.statistic == 2.0
        assert result.p_value == pytest.approx(0.1875)

    def test_wilcoxon_degenerate_cases(self) -> None:
        equal = wilcoxon_paired([0.5, 0.6, math.nan], [0.5, 0.6, 0.9])
        assert (equal.n_pairs, equal.statistic, equal.p_value) == (2, 0.0, 1.0)
        assert equal.note == 'left out 1 pair(s) with a missing value; all 2 pairs are equal'
        none = wilcoxon_paired([math.nan], [1.0])
        assert none.n_pairs == 0
        assert math.isnan(none.p_value)
        with pytest.raises(DatasetError, match='length'):
            wilcoxon_paired([1.0, 2.0], [1.0])

    def test_bland_altman(self) -> None:
        # differences 1, 2, 0, 1: mean 1, sd = sqrt((0 + 1 + 1 + 0) / 3) = sqrt(2/3)
        result = bland_altman([3.0, 5.0, 7.0, 9.0, math.nan], [2.0, 3.0, 7.0, 8.0, 1.0])
        sd = math.sqrt(2 / 3)
        assert (result.n, result.mean_difference) == (4, 1.0)
        assert result.sd_difference == pytest.approx(sd)
        assert (result.lower_limit, result.upper_limit) == pytest.approx(
            (1 - 1.96 * sd, 1 + 1.96 * sd)
        )


def test_numbered_prediction_counts_a_lesion_cut_in_pieces_once():
    """A lesion whose native voxels fall in two pieces (the dseg numbers it once), half of it on
    the reference: as two components one piece is a false positive, as one lesion none is."""
    pred = np.zeros((1, 1, 9), bool)
    pred[0, 0, [0, 1, 5, 6]] = True
    ref = np.zeros_like(pred)
    ref[0, 0, :3] = True
    as_components = lesion_wise(pred, ref)
    assert (as_components.n_pred, as_components.fp, as_components.precision) == (2, 1, 0.5)
    numbered = pred.astype(np.int16) * 4
    as_numbered = lesion_wise(pred, ref, pred_lesions=numbered)
    assert (as_numbered.n_pred, as_numbered.fp, as_numbered.f1) == (1, 0, 1.0)
    counts = volume_agreement(pred, ref, np.eye(4), pred_lesions=numbered)
    assert (counts.n_pred, counts.count_difference) == (1, 0)
    with pytest.raises(GeometryError, match='cover exactly the predicted mask'):
        lesion_wise(pred, ref, pred_lesions=numbered[:, :, ::-1])
