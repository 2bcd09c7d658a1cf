"""The training loop on tiny synthetic frames: the loss falls, folders load, resume is exact."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from bids_app.cli.train_args import add_training_arguments, train_config, train_stop
from bids_app.errors import DatasetError, UsageError
from bids_app.inference import LesionPredictor
from bids_app.model.card import load_model_dir
from bids_app.model.network import MultiSequenceUNet
from bids_app.slots import Slot
from bids_app.training.checkpoint import CHECKPOINT_DIR, LATEST
from bids_app.training.curves import CURVES_NAME, LOG_NAME, read_log
from bids_app.training.entry import run_training
from bids_app.training.postprocess_choice import GROWS, SIZES, THRESHOLDS
from bids_app.training.trainer import train


def test_thirty_iterations_learn_and_write_a_model_folder(frames, tiny_train_config, tmp_path):
    config = tiny_train_config(val_fraction=0.2)
    result = train(frames, config, tmp_path / 'model')

    assert result.finished
    assert result.iterations_done == 30
    assert np.mean(result.losses[-5:]) < 0.85 * np.mean(result.losses[:5])
    model, card = load_model_dir(tmp_path / 'model')
    assert [str(s) for s in model.config.slots] == ['T2Sag', 'STIR']  # the slots present
    training = card['training']
    assert training['slot_counts']['STIR'] == 3
    assert training['slot_counts']['T1w'] == 0
    assert len(training['train_units']) == 4
    assert len(training['validation_units']) == 1
    assert card['validation']['iteration'] in (10, 20, 30)
    # Its post-processing was chosen on the validation unit, with mirroring TTA.
    chosen = card['postprocess']
    assert chosen['tta'] is True
    assert chosen['threshold'] in THRESHOLDS
    assert chosen['grow_threshold'] in (chosen['threshold'], *GROWS)
    assert chosen['min_lesion_mm3'] in SIZES
    assert card['postprocess_choice']['units'] == 1
    rows = read_log(tmp_path / 'model' / LOG_NAME)
    assert [r['iteration'] for r in rows] == list(range(1, 31))
    assert sum(not np.isnan(r['val_dice']) for r in rows) == 3
    assert (tmp_path / 'model' / CURVES_NAME).stat().st_size > 10_000

    predictor = LesionPredictor.from_model_dir(tmp_path / 'model', device='cpu')
    held_out = frames[training['validation_units'][0]]
    probability = predictor.predict(held_out.crops, held_out.coverage)
    assert probability.shape == held_out.labels.shape
    lesion = held_out.labels > 0
    assert probability[lesion].mean() > 2 * probability[~lesion].mean()


def _weights(path):
    state = torch.load(path / CHECKPOINT_DIR / LATEST, weights_only=True)
    return state['model'], state['optimizer']['state']


@pytest.mark.parametrize(
    ('variant', 'augmentation'),
    [('mean-imputation', 'synth'), ('feature-augmentation', 'standard')],
)
def test_resume_gives_the_uninterrupted_weights(
    frames, tiny_train_config, tmp_path, variant, augmentation
):
    config = tiny_train_config(
        variant=variant,
        augmentation=augmentation,
        iterations=6,
        val_interval=3,
        oversample=0.5,
        lesion_weight=0.5,
        view_cut=0.5,
    )
    train(frames, config, tmp_path / 'whole')
    first = train(frames, config, tmp_path / 'parts', stop_after=4)
    assert first.iterations_done == 4
    assert not first.finished
    with pytest.raises(UsageError, match='--resume'):
        train(frames, config, tmp_path / 'parts')
    second = train(frames, config, tmp_path / 'parts', resume=True)
    assert second.iterations_done == 6
    assert len(second.losses) == 2

    whole_model, whole_momentum = _weights(tmp_path / 'whole')
    parts_model, parts_momentum = _weights(tmp_path / 'parts')
    for key, value in whole_model.items():
        assert torch.equal(value, parts_model[key]), key
    for key, value in whole_momentum.items():
        assert torch.equal(value['momentum_buffer'], parts_momentum[key]['momentum_buffer'])
    whole_log = read_log(tmp_path / 'whole' / LOG_NAME)
    parts_log = read_log(tmp_path / 'parts' / LOG_NAME)
    assert [r['loss'] for r in whole_log] == [r['loss'] for r in parts_log]
    assert any(r['lesion_wise'] > 0 for r in whole_log)

    again = train(frames, config, tmp_path / 'parts', resume=True)
    assert again.finished
    assert again.losses == []


def test_resume_with_other_settings_is_refused(frames, tiny_train_config, tmp_path):
    train(frames, tiny_train_config(iterations=2), tmp_path / 'm', stop_after=1)
    with pytest.raises(UsageError, match=r'lr: 0\.01 != 0\.02|lr: 0\.02 != 0\.01'):
        train(frames, tiny_train_config(iterations=2, lr=0.02), tmp_path / 'm', resume=True)


def test_resume_after_the_people_changed_is_refused(frames, tiny_train_config, tmp_path):
    config = tiny_train_config(iterations=2)
    train(frames, config, tmp_path / 'm', stop_after=1)
    lines = (tmp_path / 'm' / 'split.tsv').read_text().splitlines()[1:]
    subset = dict(line.split('\t') for line in lines)
    (val,) = [n for n, part in subset.items() if part == 'validation']
    other = next(n for n, part in subset.items() if part == 'train')
    # the validation subject now shares a person with a training one: any draw differs
    with pytest.raises(UsageError, match='split changed since the run began'):
        train(frames, config, tmp_path / 'm', resume=True, groups={val: 'p', other: 'p'})


def test_no_labelled_subject_is_a_dataset_error(frames, tiny_train_config, tmp_path):
    for frame in frames.values():
        frame.labels = None
    units = {**frames, 'sub-09': 'centreline failed'}
    with pytest.raises(DatasetError, match=r'none of the 6 .*sub-00: no reference lesion label'):
        train(units, tiny_train_config(), tmp_path / 'm')


def test_a_variant_needing_slots_nobody_has_lists_the_counts(frames, tiny_train_config, tmp_path):
    config = tiny_train_config(variant='combination', slots=('T2Sag', 'MP2RAGE'))
    with pytest.raises(DatasetError, match=r"\['MP2RAGE'\].*T2Sag 5/5, STIR 3/5, .*MP2RAGE 0/5"):
        train(frames, config, tmp_path / 'm')


def test_combination_leaves_out_subjects_without_its_slots(frames, tiny_train_config, tmp_path):
    config = tiny_train_config(
        variant='combination', slots=('T2Sag', 'STIR'), iterations=2, val_fraction=0
    )
    card = train(frames, config, tmp_path / 'm').card
    assert card['training']['train_units'] == ['sub-00', 'sub-02', 'sub-04']
    assert set(card['training']['left_out']) == {'sub-01', 'sub-03'}


def test_lesion_free_subjects_train_with_full_oversampling(tiny_train_config, tmp_path):
    from training_frames import make_frame

    units = {f'sub-{i}': make_frame(i, lesion=False) for i in range(3)}
    config = tiny_train_config(iterations=2, oversample=1.0, val_fraction=0)
    result = train(units, config, tmp_path / 'm')
    assert result.finished
    assert result.card['training']['lesion_free_units'] == ['sub-0', 'sub-1', 'sub-2']
    assert 'postprocess' not in result.card  # no validation lesion to choose it on


def test_frozen_encoder_keeps_the_baseline_weights(frames, tiny_train_config, tmp_path):
    train(frames, tiny_train_config(variant='baseline', iterations=2), tmp_path / 'base')
    config = tiny_train_config(
        variant='frozen-encoder', init_encoder=str(tmp_path / 'base'), iterations=3
    )
    train(frames, config, tmp_path / 'frozen')
    base, _ = load_model_dir(tmp_path / 'base')
    frozen, card = load_model_dir(tmp_path / 'frozen')
    assert json.dumps(card['model_config']['freeze_encoders']) == '["T2Sag"]'
    for key, value in base.encoders['T2Sag'].state_dict().items():
        assert torch.equal(value, frozen.encoders['T2Sag'].state_dict()[key]), key
    torch.manual_seed(config.seed)  # the STIR encoder as initialised, stored as float16
    initial = MultiSequenceUNet(frozen.config).encoders[str(Slot.STIR)].state_dict()
    trained = frozen.encoders[str(Slot.STIR)].state_dict()
    assert any(not torch.equal(v.half().float(), trained[k]) for k, v in initial.items())


def test_init_weights_fine_tunes_from_a_whole_model(frames, tiny_train_config, tmp_path):
    train(frames, tiny_train_config(iterations=2, val_fraction=0), tmp_path / 'first')
    config = tiny_train_config(init_weights=str(tmp_path / 'first'), iterations=1, lr=0.0)
    train(frames, config, tmp_path / 'tuned')  # lr 0: the weights must come through unchanged
    first, _ = load_model_dir(tmp_path / 'first')
    tuned, card = load_model_dir(tmp_path / 'tuned')
    assert card['training']['config']['init_weights'] == str(tmp_path / 'first')
    for key, value in first.state_dict().items():
        assert torch.equal(value, tuned.state_dict()[key]), key


def test_skip_fusion_fine_tunes_from_a_model_without_it(frames, tiny_train_config, tmp_path):
    train(frames, tiny_train_config(iterations=2, val_fraction=0), tmp_path / 'first')
    config = tiny_train_config(
        variant='skip-fusion', init_weights=str(tmp_path / 'first'), iterations=1, lr=0.0
    )
    train(frames, config, tmp_path / 'fused')  # lr 0: the source's weights, gates at 0
    first, _ = load_model_dir(tmp_path / 'first')
    fused, card = load_model_dir(tmp_path / 'fused')
    assert card['model_config']['fuse_skips'] is True
    for key, value in first.state_dict().items():
        assert torch.equal(value, fused.state_dict()[key]), key
    assert all(not gate.any() for gate in fused.skip_gates)
    back = tiny_train_config(init_weights=str(tmp_path / 'fused'), iterations=1)
    with pytest.raises(UsageError, match='pass --variant skip-fusion'):
        train(frames, back, tmp_path / 'back')


def test_init_weights_refuses_other_slots(frames, tiny_train_config, tmp_path):
    train(frames, tiny_train_config(variant='baseline', iterations=1), tmp_path / 'base')
    config = tiny_train_config(init_weights=str(tmp_path / 'base'), iterations=1)
    with pytest.raises(UsageError, match='pass the same --slots and --widths'):
        train(frames, config, tmp_path / 'tuned')


def test_command_line_options_train_stop_and_resume(tmp_path):
    from training_frames import make_frame

    parser = argparse.ArgumentParser()
    parser.add_argument('--device', default='cpu')
    add_training_arguments(parser)
    units = {f'sub-{i}': make_frame(i, size=48, length=24) for i in range(2)}
    argv = ['--patch-z', '16', '--iterations', '2', '--val-fraction', '0', '--num-workers', '0']
    args = parser.parse_args([*argv, '--stop-after', '1'])
    first = run_training(units, train_config(args), tmp_path / 'm', train_stop(args))
    assert first.iterations_done == 1
    args = parser.parse_args([*argv, '--resume'])
    second = run_training(units, train_config(args), tmp_path / 'm', train_stop(args))
    assert second.finished
    assert second.card['model_config']['widths'] == [16, 32, 64, 128, 160]  # the CPU preset
    assert second.card['patch_size'] == [48, 48, 16]


@pytest.mark.parametrize(
    ('variant', 'imputation', 'distills'),
    [('distillation', 'mean', True), ('coverage-imputation', 'coverage', False)],
)
def test_variants_reach_the_network_and_the_loss(
    frames, tiny_train_config, tmp_path, variant, imputation, distills
):
    frames['sub-00'].coverage[Slot.STIR][:, :, 30:] = False  # a field of view that ends
    config = tiny_train_config(variant=variant, iterations=2, val_fraction=0, oversample=1.0)
    result = train(frames, config, tmp_path / 'm')
    assert result.card['model_config']['imputation'] == imputation
    rows = read_log(tmp_path / 'm' / LOG_NAME)
    assert all((r['distillation'] > 0) == distills for r in rows)
