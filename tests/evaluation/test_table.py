"""Table 1 from hand-made frames and a fake predictor whose every figure is computed by hand.

Each unit has a conspicuous and a faint reference lesion of 64 voxels each. T2Sag alone finds
the conspicuous one (Dice 2*64/(64+128) = 2/3, F1: S 1/2, P 1 -> 2/3); with STIR both (1, 1);
with T1w, also an 8-voxel false positive (T2Sag+T1w: Dice 128/200 = 0.64, F1: S 1/2, P 1/2 ->
1/2; all three: Dice 256/264, F1: S 1, P 2/3 -> 0.8).
"""

from __future__ import annotations

import json
import math

import matplotlib.image
import numpy as np
import pytest
from evaluation_frames import UNITS, FakePredictor
from scipy import stats

from bids_app.evaluation.outputs import markdown_table, write_outputs
from bids_app.evaluation.plot import plot_table
from bids_app.evaluation.scoring import RowScore, UnitEvaluation, evaluate_frames, frame_slots
from bids_app.evaluation.subsets import Row, table_rows
from bids_app.evaluation.table import build_table
from bids_app.slots import Slot


@pytest.fixture
def evaluated(frame_files):
    predictor = FakePredictor()
    rows = table_rows(predictor.slots, {n: frame_slots(p) for n, p in frame_files.items()})
    evaluations = evaluate_frames(predictor, frame_files, rows)
    return predictor, rows, evaluations


def test_rows_are_t2sag_each_pair_present_and_all():
    rows = table_rows(list(Slot), UNITS)
    assert [r.name for r in rows] == ['T2Sag', 'T2Sag+STIR', 'T2Sag+T1w', 'all available']
    model_without_t1w = table_rows([Slot.T2Sag, Slot.STIR], UNITS)
    assert [r.name for r in model_without_t1w] == ['T2Sag', 'T2Sag+STIR', 'all available']


def test_each_distinct_slot_set_is_predicted_once_per_unit(evaluated):
    predictor, _, _ = evaluated
    s = Slot
    assert sorted(predictor.calls) == sorted([
        (s.T2Sag,), (s.T2Sag, s.STIR),  # sub-A: its pair is also all it has
        (s.T2Sag,),  # sub-B
        (s.T2Sag,), (s.T2Sag, s.STIR), (s.T2Sag, s.T1w), (s.T2Sag, s.STIR, s.T1w),  # sub-C
    ])  # fmt: skip


def test_lesion_classes_from_the_t2sag_contrast(evaluated):
    _, _, evaluations = evaluated
    for unit in evaluations:
        # Lesions numbered in scan order: the conspicuous box (z 5-8) before the faint (z 20-23).
        assert unit.contrast[0] > 5
        assert 0 < unit.contrast[1] < 0.5
        assert unit.volume_mm3.tolist() == [8.0, 8.0]


def test_table_figures_match_the_hand_computation(evaluated):
    _, rows, evaluations = evaluated
    table = {r.row: r for r in build_table(rows, evaluations)}
    alone, stir, t1w, everything = (table[n] for n in ('T2Sag', 'T2Sag+STIR', 'T2Sag+T1w',
                                                       'all available'))  # fmt: skip
    assert (alone.n_units, stir.n_units, t1w.n_units, everything.n_units) == (3, 2, 1, 3)
    assert alone.dice == pytest.approx(2 / 3)
    assert alone.dice_std == 0
    assert alone.dice_p == 1.0
    assert (alone.n_faint, alone.faint_sensitivity) == (3, 0.0)
    assert (alone.n_conspicuous, alone.conspicuous_sensitivity) == (3, 1.0)

    assert (stir.dice, stir.f1) == (1.0, 1.0)
    assert (stir.dice_t2sag, stir.f1_t2sag) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert stir.dice_p == pytest.approx(0.5)  # two positive differences: exact p = 2 / 4
    assert (stir.n_faint, stir.faint_sensitivity, stir.faint_sensitivity_t2sag) == (2, 1.0, 0.0)

    assert t1w.dice == pytest.approx(0.64)
    assert t1w.f1 == pytest.approx(0.5)
    assert math.isnan(t1w.dice_std)
    expected_p = stats.wilcoxon([0.64], [2 / 3]).pvalue
    assert t1w.dice_p == pytest.approx(expected_p)

    assert everything.dice == pytest.approx((1 + 2 / 3 + 256 / 264) / 3)
    assert everything.f1 == pytest.approx((1 + 2 / 3 + 0.8) / 3)
    assert everything.faint_sensitivity == pytest.approx(2 / 3)
    assert everything.faint_sensitivity_t2sag == 0.0
    assert everything.conspicuous_sensitivity == 1.0
    expected = stats.wilcoxon([1, 2 / 3, 256 / 264], [2 / 3, 2 / 3, 2 / 3], zero_method='wilcox')
    assert everything.dice_p == pytest.approx(expected.pvalue)


def test_faint_threshold_moves_lesions_between_classes(evaluated):
    _, rows, evaluations = evaluated
    table = build_table(rows, evaluations, faint_contrast=100.0)
    assert table[0].n_faint == 6
    assert table[0].n_conspicuous == 0
    assert table[0].faint_sensitivity == 0.5


def test_rows_no_unit_can_fill_are_dropped(evaluated):
    _, rows, evaluations = evaluated
    table = build_table([*rows, Row('T2Sag+MP2RAGE', (Slot.T2Sag, Slot.MP2RAGE))], evaluations)
    assert [r.row for r in table] == [r.name for r in rows]


def test_outputs_hold_the_table_units_and_lesions(evaluated, tmp_path):
    _, rows, evaluations = evaluated
    table = build_table(rows, evaluations)
    paths = write_outputs(tmp_path / 'out', table, evaluations, about={'model': {'name': 'x'}})
    lines = paths['table1.tsv'].read_text().splitlines()
    assert lines[0].split('\t')[:4] == ['row', 'n_units', 'n_lesion_free', 'dice']
    assert [line.split('\t')[0] for line in lines[1:]] == [r.name for r in rows]
    units = paths['units.tsv'].read_text().splitlines()
    assert len(units) == 1 + 3 + 2 + 4  # header, then one line per unit and row it fills
    assert 'sub-C\tT2Sag+T1w\tT2Sag,T1w\t0.64\t0.5\t0.5\t0.5\t2\t2' in units
    lesions = [line.split('\t') for line in paths['lesions.tsv'].read_text().splitlines()]
    assert lesions[0][-1] == 'detected_all available'
    sub_b_faint = next(r for r in lesions if r[0] == 'sub-B' and r[1] == '2')
    assert sub_b_faint[4:] == ['faint', '0', 'n/a', 'n/a', '0']
    document = json.loads(paths['table1.json'].read_text())
    assert document['model'] == {'name': 'x'}
    assert document['faint_lesions']['n_faint'] == 3
    assert document['rows'][2]['dice_std'] is None  # one unit: no standard deviation
    assert set(document['columns']) == set(document['rows'][0])


def test_markdown_has_one_line_per_row(evaluated):
    _, rows, evaluations = evaluated
    lines = markdown_table(build_table(rows, evaluations)).splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[3] == (
        '| T2Sag+STIR | 2 (0) | 1.000 (0.667) | 0.5 | 1.000 (0.667) | 0.5 | 1.00 (0.00) of 2 '
        '| 1.00 (1.00) of 2 | none |'
    )


def test_plot_is_written(evaluated, tmp_path):
    _, rows, evaluations = evaluated
    path = plot_table(tmp_path / 'table1.png', build_table(rows, evaluations), evaluations)
    # Four rows: 1.6 * 4 + 2 = 8.4 by 3.6 inches at 120 dpi.
    assert matplotlib.image.imread(path).shape == (432, 1008, 4)


def _unit(name: str, n_ref: int, scores: dict[str, tuple[float, float, int]]) -> UnitEvaluation:
    """A unit with ``n_ref`` conspicuous lesions; scores: row -> (dice, f1, n_pred)."""
    return UnitEvaluation(
        name,
        (Slot.T2Sag, Slot.STIR),
        np.full(n_ref, 8.0),
        np.full(n_ref, 5.0),
        {
            row: RowScore((Slot.T2Sag,), d, f, math.nan, math.nan, n, np.ones(n_ref, bool))
            for row, (d, f, n) in scores.items()
        },
    )


def test_lesion_free_units_are_scored_apart():
    # Two units with lesions, two without: one of those stays clean with both rows, the other
    # gets 2 false-positive lesions from T2Sag alone and 1 with STIR (Dice and F1 0 there).
    evaluations = [
        _unit('sub-1', 2, {'T2Sag': (0.5, 0.5, 2), 'T2Sag+STIR': (0.7, 1.0, 2)}),
        _unit('sub-2', 1, {'T2Sag': (0.6, 1.0, 1), 'T2Sag+STIR': (0.8, 1.0, 1)}),
        _unit('sub-3', 0, {'T2Sag': (1.0, 1.0, 0), 'T2Sag+STIR': (1.0, 1.0, 0)}),
        _unit('sub-4', 0, {'T2Sag': (0.0, 0.0, 2), 'T2Sag+STIR': (0.0, 0.0, 1)}),
    ]
    rows = [Row('T2Sag', (Slot.T2Sag,)), Row('T2Sag+STIR', (Slot.T2Sag, Slot.STIR))]
    alone, stir = build_table(rows, evaluations)
    assert (stir.n_units, stir.n_lesion_free) == (4, 2)
    assert stir.dice == pytest.approx(0.75)  # (0.7 + 0.8) / 2: lesion-free units left out
    assert stir.dice_t2sag == pytest.approx(0.55)
    assert stir.f1 == 1.0
    assert alone.f1 == pytest.approx(0.75)
    assert stir.dice_p == pytest.approx(stats.wilcoxon([0.7, 0.8], [0.5, 0.6]).pvalue)
    assert (stir.lesion_free_clean, stir.lesion_free_clean_t2sag) == (0.5, 0.5)
    assert (stir.lesion_free_fp, alone.lesion_free_fp) == (0.5, 1.0)
    line = markdown_table([stir]).splitlines()[-1]
    assert line.startswith('| T2Sag+STIR | 4 (2) | 0.750 (0.550) |')
    assert line.endswith('| 0.50 (0.50) of 2 |')


def test_a_row_without_lesion_free_units_says_none():
    evaluations = [_unit('sub-1', 1, {'T2Sag': (0.5, 1.0, 1)})]
    (alone,) = build_table([Row('T2Sag', (Slot.T2Sag,))], evaluations)
    assert alone.n_lesion_free == 0
    assert math.isnan(alone.lesion_free_clean)
    assert math.isnan(alone.lesion_free_fp)
    assert markdown_table([alone]).splitlines()[-1].endswith('| none |')
