"""The study's plan: which runs, the combination fraction rule, the test split."""

from __future__ import annotations

import pytest
from study_frames import tiny_frame

from bids_app.errors import DatasetError
from bids_app.slots import Slot
from bids_app.study.plan import (
    StudyRun,
    combination_name,
    frequent_combinations,
    labelled_slots,
    plan_study,
    split_test,
)

T2, STIR, T2S, T1 = Slot.T2Sag, Slot.STIR, Slot.T2starAx, Slot.T1w

#: 10 units: STIR in 5, T2starAx in 3, T1w in 2 (both with STIR), STIR + T2starAx in 2.
UNITS = {
    'sub-00': (T2, STIR, T2S), 'sub-01': (T2, STIR, T2S), 'sub-02': (T2, STIR, T1),
    'sub-03': (T2, STIR, T1), 'sub-04': (T2, STIR), 'sub-05': (T2, T2S),
    **{f'sub-{i:02d}': (T2,) for i in range(6, 10)},
}  # fmt: skip


def _names(combinations) -> dict[str, float]:
    return {combination_name(c): f for c, f in combinations.items()}


def test_a_combination_is_kept_from_exactly_the_fraction_on():
    assert _names(frequent_combinations(UNITS, 0.3)) == {'T2Sag+STIR': 0.5, 'T2Sag+T2starAx': 0.3}
    assert _names(frequent_combinations(UNITS, 0.2)) == {
        'T2Sag+STIR': 0.5, 'T2Sag+T2starAx': 0.3, 'T2Sag+T1w': 0.2,
        'T2Sag+STIR+T2starAx': 0.2, 'T2Sag+STIR+T1w': 0.2,
    }  # fmt: skip
    assert frequent_combinations(UNITS, 0.51) == {}


def test_a_combination_no_unit_has_is_never_kept():
    kept = _names(frequent_combinations(UNITS, 0.0))
    assert 'T2Sag+T2starAx+T1w' not in kept  # no unit has both
    assert all(fraction > 0 for fraction in kept.values())
    assert not any('MP2RAGE' in name for name in kept)


def test_plan_has_every_variant_per_seed_and_frozen_after_its_baseline():
    runs = plan_study(UNITS, seeds=[3, 4], min_fraction=0.3)
    models = ['baseline', 'feature-augmentation', 'mean-imputation', 'frozen-encoder',
              'distillation', 'combination-T2Sag+STIR', 'combination-T2Sag+T2starAx']  # fmt: skip
    assert [r.key for r in runs] == [f'{m}/seed-{s}' for s in (3, 4) for m in models]
    keys = [r.key for r in runs]
    for run in runs:
        if run.variant == 'frozen-encoder':
            assert run.depends_on == f'baseline/seed-{run.seed}'
            assert keys.index(run.depends_on) < keys.index(run.key)
        else:
            assert run.depends_on is None
    assert runs[5].variant == 'combination'
    assert runs[5].slots == (T2, STIR)
    assert {r.slots for r in runs if r.variant != 'combination'} == {None}


def test_run_folder_and_json_round_trip(tmp_path):
    run = StudyRun('combination-T2Sag+STIR', 'combination', 2, (T2, STIR))
    assert run.directory(tmp_path) == tmp_path / 'runs' / 'combination-T2Sag+STIR' / 'seed-2'
    assert StudyRun.from_dict(run.to_dict()) == run


def test_labelled_slots_reads_files_and_frames_and_skips_the_unusable(tmp_path):
    unlabelled = tiny_frame(1, (T2,))
    unlabelled.labels = None
    frames = {
        'sub-a': tiny_frame(0, (T2, STIR)).save(tmp_path / 'a.npz'),
        'sub-b': tiny_frame(2, (T2, T1)),
        'sub-c': unlabelled.save(tmp_path / 'c.npz'),
        'sub-d': tiny_frame(3, (STIR,)).save(tmp_path / 'd.npz'),
        'sub-e': 'pre-processing failed',
    }
    assert labelled_slots(frames) == {'sub-a': (T2, STIR), 'sub-b': (T2, T1)}


def test_test_split_keeps_sessions_together_and_is_reproducible():
    units = ['sub-1_ses-a', 'sub-1_ses-b', 'sub-2', 'sub-3', 'sub-4', 'sub-5']
    train, test = split_test(units, test_fraction=0.4, seed=7)
    assert split_test(units, test_fraction=0.4, seed=7) == (train, test)
    assert len({u.split('_')[0] for u in test}) == 2
    assert ('sub-1_ses-a' in test) == ('sub-1_ses-b' in test)
    assert sorted(train + test) == sorted(units)


def test_test_split_errors_name_the_study_options():
    with pytest.raises(DatasetError, match='fix --test-subjects'):
        split_test(['sub-1', 'sub-2'], test_subjects=['sub-9'])
    with pytest.raises(DatasetError, match='--test-fraction or list fewer --test-subjects'):
        split_test(['sub-1', 'sub-2'], test_subjects=['sub-1', 'sub-2'])
    with pytest.raises(DatasetError, match='no test subject'):
        split_test(['sub-1'], test_fraction=0.2)


def test_drawn_test_subjects_are_whole_people():
    made = {f'sub-p{p}ins{c}': f'sub-p{p}' for p in range(3) for c in range(4)}
    units = sorted([*made, *(f'sub-{i}' for i in range(8))])
    for seed in range(5):
        _, test = split_test(units, test_fraction=0.3, seed=seed, groups=made)
        for person in set(made.values()):
            copies = {u for u, g in made.items() if g == person}
            assert copies <= set(test) or not copies & set(test)
