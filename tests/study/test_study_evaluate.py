"""Scoring a run on the test units: the rows each kind of model gets, and skipping when done."""

from __future__ import annotations

import json

import pytest
import torch
from study_frames import SIZE, TINY_WIDTHS

from bids_app.model.card import save_model_dir
from bids_app.model.config import variant_config
from bids_app.model.network import MultiSequenceUNet
from bids_app.postprocess import PostprocessOptions
from bids_app.study import evaluate as study_evaluate
from bids_app.study.evaluate import evaluate_run, read_scores


def _model(path, variant, slots=None, seed=0):
    torch.manual_seed(seed)
    config = variant_config(variant, widths=TINY_WIDTHS, slots=slots, patch_size=(SIZE, SIZE, 32))
    save_model_dir(path, MultiSequenceUNet(config), config, {'training': {'note': 'random'}})
    return path


@pytest.mark.parametrize(
    ('variant', 'slots', 'expected'),
    [
        # sub-00, 02, 04 have STIR; sub-01, 03 do not
        ('mean-imputation', ['T2Sag', 'STIR'],
         {'T2Sag': 5, 'T2Sag+STIR': 3, 'all available': 5}),
        ('baseline', None, {'T2Sag': 5}),
        ('combination', ['T2Sag', 'STIR'], {'T2Sag+STIR': 3}),
    ],
)  # fmt: skip
def test_each_model_is_scored_with_the_sequences_it_can_take(
    frame_files, tmp_path, variant, slots, expected
):
    model_dir = _model(tmp_path / 'model', variant, slots)
    path = evaluate_run(model_dir, frame_files, device='cpu', n_threads=1)
    lines = read_scores(path)
    counts = {row: sum(line['row'] == row for line in lines) for row in expected}
    assert counts == expected
    assert len(lines) == sum(expected.values())
    assert all(0 <= float(line['dice']) <= 1 for line in lines)
    stir_lines = [line for line in lines if line['row'] == 'T2Sag+STIR']
    assert {line['slots'] for line in stir_lines} <= {'T2Sag,STIR'}


def test_scores_are_reused_until_the_weights_units_or_postprocessing_change(
    frame_files, tmp_path, monkeypatch
):
    model_dir = _model(tmp_path / 'model', 'baseline')
    evaluate_run(model_dir, frame_files, device='cpu')
    calls = []
    original = study_evaluate.LesionPredictor.from_model_dir

    def counted(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(study_evaluate.LesionPredictor, 'from_model_dir', counted)
    evaluate_run(model_dir, frame_files, device='cpu')
    assert calls == []
    fewer = {k: v for k, v in frame_files.items() if k != 'sub-04'}
    path = evaluate_run(model_dir, fewer, device='cpu')
    assert len(calls) == 1
    assert len(read_scores(path)) == 4
    evaluate_run(model_dir, fewer, device='cpu', options=PostprocessOptions(threshold=0.9))
    assert len(calls) == 2
    about = json.loads((model_dir / 'evaluation' / 'evaluation.json').read_text())
    assert about['postprocess']['threshold'] == 0.9
    assert about['rows'] == ['T2Sag']
    assert about['test_units'] == sorted(fewer)
    _model(model_dir, 'baseline', seed=1)  # retrained: new weights
    evaluate_run(model_dir, fewer, device='cpu', options=PostprocessOptions(threshold=0.9))
    assert len(calls) == 3
