"""Tables 1 and 2 on hand-made per-unit scores: seed means, seed std, Wilcoxon against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bids_app.study.tables import Score, table1, table2

#: Dice of 8 units under two seeds; the baseline's F1 is its Dice, the variant's F1 0.5 + Dice/2.
BASELINE_DICE = {
    0: [0.10, 0.30, 0.50, 0.20, 0.40, 0.60, 0.35, 0.25],  # mean 0.3375
    1: [0.20, 0.30, 0.40, 0.30, 0.50, 0.50, 0.45, 0.15],  # mean 0.35
}
#: The variant's seed mean minus the baseline's, per unit: 7 positive, the smallest negative.
DIFFERENCES = [0.20, 0.05, 0.15, -0.01, 0.16, 0.22, 0.18, 0.17]  # mean 0.14
#: The variant's Dice: the baseline's plus the difference, +0.02 in seed 0 and -0.02 in seed 1.
VARIANT_DICE = {
    seed: [b + d + shift for b, d in zip(BASELINE_DICE[seed], DIFFERENCES, strict=True)]
    for seed, shift in ((0, 0.02), (1, -0.02))
}
UNITS = [f'sub-{i}' for i in range(8)]


def _scores(model, dice_by_seed, f1=lambda d: d, row='T2Sag'):
    return [
        Score(model, seed, unit, row, d, f1(d))
        for seed, values in dice_by_seed.items()
        for unit, d in zip(UNITS, values, strict=True)
    ]


@pytest.fixture
def scores() -> list[Score]:
    variant = _scores('distillation', VARIANT_DICE, f1=lambda d: 0.5 + d / 2)
    other_row = _scores('distillation', VARIANT_DICE, row='T2Sag+STIR')  # not in Table 2
    return _scores('baseline', BASELINE_DICE) + variant + other_row


def test_table2_p_values_equal_scipy_on_the_seed_means_of_each_unit(scores):
    baseline = np.mean([BASELINE_DICE[0], BASELINE_DICE[1]], axis=0)
    variant = np.mean([VARIANT_DICE[0], VARIANT_DICE[1]], axis=0)
    expected_dice = stats.wilcoxon(variant, baseline).pvalue
    expected_f1 = stats.wilcoxon(0.5 + variant / 2, baseline).pvalue
    rows = {r.model: r for r in table2(scores)}
    assert rows['distillation'].n_pairs == 8
    assert rows['distillation'].dice_p == pytest.approx(expected_dice, rel=1e-12)
    assert rows['distillation'].f1_p == pytest.approx(expected_f1, rel=1e-12)
    # W- = 1 (only the smallest difference is negative): exact two-sided p = 2 * 2 / 2**8
    assert rows['distillation'].dice_p == pytest.approx(4 / 256)
    assert math.isnan(rows['baseline'].dice_p)
    assert rows['baseline'].n_pairs == 0


def test_table2_gives_mean_and_std_over_seeds_of_the_unit_means(scores):
    rows = {r.model: r for r in table2(scores, models=['baseline', 'distillation'])}
    assert [r.model for r in table2(scores, models=['baseline', 'distillation'])] == [
        'baseline', 'distillation'
    ]  # fmt: skip
    line = rows['distillation']
    assert (line.n_seeds, line.n_units) == (2, 8)
    # seed means 0.3375 + 0.14 + 0.02 = 0.4975 and 0.35 + 0.14 - 0.02 = 0.47
    assert line.dice == pytest.approx(0.48375)
    assert line.dice_seed_std == pytest.approx(0.0275 / math.sqrt(2))
    assert line.f1 == pytest.approx(0.5 + 0.48375 / 2)
    assert line.f1_seed_std == pytest.approx(0.0275 / math.sqrt(2) / 2)
    assert rows['baseline'].dice == pytest.approx((0.3375 + 0.35) / 2)


def test_table2_with_one_seed_has_no_std():
    line = table2(_scores('baseline', {0: BASELINE_DICE[0]}))[0]
    assert line.n_seeds == 1
    assert line.dice == pytest.approx(0.3375)
    assert math.isnan(line.dice_seed_std)


def test_table1_breaks_each_model_and_row_down_by_cohort(scores):
    cohorts = {unit: 'siteA' if i < 3 else 'siteB' for i, unit in enumerate(UNITS)}
    rows = table1(scores, cohorts, models=['baseline', 'distillation'])
    keys = [(r.model, r.row, r.cohort) for r in rows]
    assert keys == [
        ('baseline', 'T2Sag', 'all'), ('baseline', 'T2Sag', 'siteA'),
        ('baseline', 'T2Sag', 'siteB'), ('distillation', 'T2Sag', 'all'),
        ('distillation', 'T2Sag', 'siteA'), ('distillation', 'T2Sag', 'siteB'),
        ('distillation', 'T2Sag+STIR', 'all'), ('distillation', 'T2Sag+STIR', 'siteA'),
        ('distillation', 'T2Sag+STIR', 'siteB'),
    ]  # fmt: skip
    site_a = rows[1]
    # siteA: seed 0 mean of (0.1, 0.3, 0.5) = 0.3; seed 1 mean of (0.2, 0.3, 0.4) = 0.3
    assert (site_a.n_units, site_a.n_seeds) == (3, 2)
    assert site_a.dice == pytest.approx(0.3)
    assert site_a.dice_seed_std == pytest.approx(0.0)
    assert rows[0].dice == pytest.approx(np.mean(BASELINE_DICE[0] + BASELINE_DICE[1]))


def test_table1_without_cohorts_has_one_line_per_model_and_row(scores):
    assert [r.cohort for r in table1(scores)] == ['all', 'all', 'all']


def test_missing_values_are_left_out_of_the_means():
    scores = [Score('m', 0, 'a', 'T2Sag', 0.4, math.nan), Score('m', 0, 'b', 'T2Sag', 0.6, 0.8)]
    line = table2(scores)[0]
    assert line.dice == pytest.approx(0.5)
    assert line.f1 == pytest.approx(0.8)
