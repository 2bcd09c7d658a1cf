"""Training a study's runs: resume after a stop, skip finished runs, frozen after baseline."""

from __future__ import annotations

import json

import pytest
from study_frames import tiny_config

from bids_app.errors import UsageError
from bids_app.slots import Slot
from bids_app.study import run as study_run
from bids_app.study.plan import StudyRun
from bids_app.study.run import run_config, train_runs

BASELINE = StudyRun('baseline', 'baseline', 0)
FROZEN = StudyRun('frozen-encoder', 'frozen-encoder', 0, depends_on='baseline/seed-0')
COMBINATION = StudyRun('combination-T2Sag+STIR', 'combination', 0, (Slot.T2Sag, Slot.STIR))


def _summary(outcomes):
    return [(o.run.key, o.status, o.iterations_done, o.iterations_run) for o in outcomes]


def test_a_stopped_study_resumes_and_a_finished_one_trains_nothing(frame_files, tmp_path):
    runs, base, study = [BASELINE, FROZEN, COMBINATION], tiny_config(), tmp_path / 'study'
    # No time left: the first run checkpoints after one iteration, the others wait.
    assert _summary(train_runs(frame_files, runs, base, study, time_limit_s=0)) == [
        ('baseline/seed-0', 'stopped', 1, 1),
        ('frozen-encoder/seed-0', 'not started', 0, 0),
        ('combination-T2Sag+STIR/seed-0', 'not started', 0, 0),
    ]
    assert not FROZEN.directory(study).exists()
    assert _summary(train_runs(frame_files, runs, base, study)) == [
        ('baseline/seed-0', 'finished', 3, 2),
        ('frozen-encoder/seed-0', 'finished', 3, 3),
        ('combination-T2Sag+STIR/seed-0', 'finished', 3, 3),
    ]
    assert _summary(train_runs(frame_files, runs, base, study)) == [
        ('baseline/seed-0', 'finished', 3, 0),
        ('frozen-encoder/seed-0', 'finished', 3, 0),
        ('combination-T2Sag+STIR/seed-0', 'finished', 3, 0),
    ]
    saved = json.loads((FROZEN.directory(study) / 'train_config.json').read_text())
    assert saved['init_encoder'] == str(BASELINE.directory(study).absolute())
    combination = json.loads((COMBINATION.directory(study) / 'card.json').read_text())
    assert combination['training']['train_units'] == ['sub-00', 'sub-02']  # those with STIR


def test_frozen_encoder_waits_for_an_unfinished_baseline(frame_files, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('nothing should train')

    monkeypatch.setattr(study_run, 'train', refuse)
    outcomes = train_runs(frame_files, [FROZEN], tiny_config(), tmp_path)
    assert _summary(outcomes) == [('frozen-encoder/seed-0', 'not started', 0, 0)]


def test_run_config_sets_the_run_fields_and_keeps_the_shared_ones(tmp_path):
    base = tiny_config(iterations=7, split_seed=3)
    config = run_config(StudyRun('distillation', 'distillation', 2), base, tmp_path)
    assert (config.variant, config.seed, config.iterations, config.split_seed) == (
        'distillation', 2, 7, 3
    )  # fmt: skip
    assert config.init_encoder is None
    combination = run_config(COMBINATION, base, tmp_path)
    assert combination.slots == (Slot.T2Sag, Slot.STIR)


@pytest.mark.parametrize('changed', [{'iterations': 4}, {'lr': 0.02}])
def test_a_finished_run_with_other_settings_is_refused(frame_files, tmp_path, changed):
    train_runs(frame_files, [BASELINE], tiny_config(), tmp_path)
    with pytest.raises(UsageError, match='other settings'):
        train_runs(frame_files, [BASELINE], tiny_config(**changed), tmp_path)
