"""TrainConfig: defaults from the paper, JSON round trip, command-line options, checks."""

from __future__ import annotations

import argparse

import pytest

from bids_app.cli.train_args import add_training_arguments, train_config, train_stop
from bids_app.errors import UsageError
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig, TrainStop, read_subject_list


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument('--device', default='auto')
    add_training_arguments(parser.add_argument_group('training'))
    return parser.parse_args(argv)


def test_defaults_are_the_papers():
    config = TrainConfig()
    assert config.patch_size == (48, 48, 320)
    assert (config.lr, config.lr_exponent, config.momentum) == (0.01, 0.9, 0.99)
    assert config.weight_decay == 3e-5
    assert config.iterations == 1000 * 250  # nnU-Net: 1000 epochs of 250 iterations


def test_json_round_trip_keeps_every_field():
    config = TrainConfig(
        variant='combination',
        slots=('T2Sag', 'STIR'),
        widths=(4, 8, 8, 8, 8),
        patch_size=(16, 16, 32),
        val_subjects=('01', 'sub-02'),
        init_encoder='/models/base',
    )
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    assert again.slots == (Slot.T2Sag, Slot.STIR)
    assert again.val_subjects == ('sub-01', 'sub-02')


def test_command_line_builds_the_config(tmp_path):
    tsv = tmp_path / 'val.tsv'
    tsv.write_text('participant_id\tage\nsub-03\t40\n07\t51\n')
    args = _parse(
        ['--device', 'cpu', '--variant', 'combination', '--slots', 'T2Sag', 'T2starAx',
         '--patch-z', '64', '--iterations', '10', '--val-subjects', str(tsv), '--bf16',
         '--lesion-weight', '0.5', '--view-cut', '0.2']
    )  # fmt: skip
    config = train_config(args)
    assert config.patch_size == (48, 48, 64)
    assert config.slots == (Slot.T2Sag, Slot.T2starAx)
    assert config.val_subjects == ('sub-03', 'sub-07')
    assert (config.device, config.bf16, config.iterations) == ('cpu', True, 10)
    assert config.lesion_weight == 0.5
    assert train_config(_parse([])).lesion_weight == 0.0  # nnU-Net's loss unless asked
    assert (config.view_cut, train_config(_parse([])).view_cut) == (0.2, 0.0)
    assert train_stop(args) == TrainStop(resume=False, stop_after=None, time_limit_s=None)
    assert train_stop(_parse(['--time-limit', '2', '--resume'])) == TrainStop(True, None, 120.0)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'variant': 'frozen-encoder'}, '--init-encoder'),
        ({'variant': 'combination'}, 'needs its slots'),
        ({'variant': 'baseline', 'slots': ('T2Sag', 'STIR')}, 'T2Sag only'),
        ({'patch_size': (48, 48, 100)}, 'divisible'),
        ({'val_fraction': 1.0}, r'\[0, 1\)'),
        ({'widths': 'huge'}, 'widths'),
        ({'augmentation': 'heavy'}, 'augmentation'),
        ({'lesion_weight': -1.0}, 'lesion weight'),
        ({'view_cut': 1.5}, 'view cut'),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**kwargs)


def test_differences_ignore_run_only_fields():
    base = TrainConfig()
    assert base.differences(TrainConfig(device='cuda', num_workers=8, bf16=True)) == []
    assert base.differences(TrainConfig(seed=3)) == ['seed: 0 != 3']


def test_subject_list_without_header(tmp_path):
    tsv = tmp_path / 'val.tsv'
    tsv.write_text('sub-01\n02\n')
    assert read_subject_list(tsv) == ('sub-01', 'sub-02')
    (tmp_path / 'empty.tsv').write_text('participant_id\n')
    with pytest.raises(UsageError, match='lists no subject'):
        read_subject_list(tmp_path / 'empty.tsv')
