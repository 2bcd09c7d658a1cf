"""End to end on phantoms: ``train`` writes a model folder that ``participant --model`` uses."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.cli.run import main
from bids_app.model.card import load_model_dir
from bids_app.phantoms.dataset import write_dataset
from bids_app.training.curves import LOG_NAME, read_log


@pytest.mark.slow
def test_train_on_four_phantoms_then_segment_a_fifth(tmp_path):
    bids, other = tmp_path / 'bids', tmp_path / 'other'
    write_dataset(bids, 4, seed=11, small=True)
    write_dataset(other, 1, seed=12, small=True)
    common = ['--skip-bids-validation', '--device', 'cpu', '--nprocs', '2']
    model_dir = tmp_path / 'model'
    train_args = [
        str(bids), str(model_dir), 'train', '--labels', str(bids / 'derivatives' / 'labels'),
        '--cord-masks', str(bids / 'derivatives' / 'labels'), '-w', str(tmp_path / 'work'),
        '--patch-z', '64', '--iterations', '30', '--val-interval', '15', '--log-interval', '1',
        '--val-fraction', '0.25', '--num-workers', '0', *common,
    ]  # fmt: skip
    assert main(train_args) == 0

    losses = [row['loss'] for row in read_log(model_dir / LOG_NAME)]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    _, card = load_model_dir(model_dir)
    assert card['training']['iterations_done'] == 30
    assert len(card['training']['validation_units']) == 1

    out = tmp_path / 'out'
    participant_args = [
        str(other), str(out), 'participant', '--model', str(model_dir),
        '-w', str(tmp_path / 'work-other'), *common,
    ]  # fmt: skip
    assert main(participant_args) == 0
    assert len(list(out.rglob('*_label-lesion_mask.nii.gz'))) == 1
    assert len(list(out.rglob('*_label-lesion_probseg.nii.gz'))) == 1
