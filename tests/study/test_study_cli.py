"""``sclesion BIDS_DIR OUTPUT_DIR train --study variants``: options, and a study of phantoms."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest
from study_frames import TINY_WIDTHS, UNIT_SLOTS, tiny_frame

from bids_app.cli import run as cli_run
from bids_app.cli.run import main
from bids_app.model.config import WIDTH_PRESETS
from bids_app.phantoms.dataset import write_dataset


@pytest.fixture
def study_inputs(tmp_path, monkeypatch):
    """The frames of ``UNIT_SLOTS`` (48 x 48) behind a faked discovery and pre-processing."""
    bids = tmp_path / 'bids'
    bids.mkdir()
    (tmp_path / 'frames').mkdir()
    frames = {
        name: tiny_frame(i, slots, size=48).save(tmp_path / 'frames' / f'{name}.npz')
        for i, (name, slots) in enumerate(UNIT_SLOTS.items())
    }
    calls = []
    monkeypatch.setattr(cli_run, 'discover_units', lambda config, dry_run: [
        SimpleNamespace(runnable=True, name=n) for n in frames
    ])  # fmt: skip
    monkeypatch.setattr(
        cli_run, 'preprocess_frames', lambda units, config, verbosity: calls.append(1) or frames
    )
    (tmp_path / 'test.tsv').write_text('participant_id\nsub-01\nsub-02\n')
    return SimpleNamespace(bids=bids, root=tmp_path, preprocessed=calls)


def _argv(inputs, *extra):
    return [
        str(inputs.bids), str(inputs.root / 'study'), 'train', '--labels', str(inputs.root),
        '-w', str(inputs.root / 'work'), '--skip-bids-validation', '--study', 'variants',
        '--test-subjects', str(inputs.root / 'test.tsv'), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ('extra', 'message'),
    [
        (['--variant', 'distillation'], '--study sets --variant itself'),
        (['--slots', 'T2Sag', 'STIR', '--stop-after', '1'], 'drop --slots --stop-after'),
        (['--test-subjects', 'absent.tsv'], 'test subject list absent.tsv does not exist'),
    ],
)
def test_options_a_study_sets_itself_fail_before_preprocessing(
    study_inputs, capsys, extra, message
):
    assert main(_argv(study_inputs, *extra)) == 2
    assert message in capsys.readouterr().err
    assert study_inputs.preprocessed == []


def test_a_test_subject_cannot_also_validate(study_inputs, tmp_path, capsys):
    (tmp_path / 'val.tsv').write_text('sub-02\n')
    assert main(_argv(study_inputs, '--val-subjects', str(tmp_path / 'val.tsv'))) == 2
    assert "subjects ['sub-02'] are both validation and test subjects" in capsys.readouterr().err


def test_a_study_out_of_time_records_itself_and_stops_after_one_iteration(
    study_inputs, monkeypatch
):
    monkeypatch.setitem(WIDTH_PRESETS, 'cpu', TINY_WIDTHS)
    argv = _argv(study_inputs, '--time-limit', '0', '--patch-z', '32', '--num-workers', '0',
                 '--device', 'cpu', '--iterations', '5', '--seeds', '2',
                 '--min-lesion-mm3', '0.5', '--grow-threshold', '0.3')  # fmt: skip
    assert main(argv) == 0
    study = study_inputs.root / 'study'
    document = json.loads((study / 'study.json').read_text())
    # the scores' post-processing: the flag given, the built-in threshold (no card to ask)
    assert document['postprocess']['min_lesion_mm3'] == 0.5
    assert document['postprocess']['threshold'] == 0.5
    assert document['postprocess']['grow_threshold'] == 0.3
    assert document['test_units'] == ['sub-01', 'sub-02']
    assert document['train_units'] == ['sub-00', 'sub-03', 'sub-04']
    assert document['combinations'] == {'T2Sag+STIR': 0.6667}  # sub-00 and sub-04 of three
    assert document['cohort_column'] is None  # no participants.tsv
    assert document['train_config']['iterations'] == 5
    assert document['command_line'][0] == 'sclesion'
    assert len(document['runs']) == 12
    card = json.loads((study / 'runs' / 'baseline' / 'seed-0' / 'card.json').read_text())
    assert card['training']['iterations_done'] == 1
    assert not (study / 'runs' / 'feature-augmentation').exists()
    assert not (study / 'table1.tsv').exists()


@pytest.mark.slow
def test_study_on_four_phantoms_then_a_rerun_redoes_nothing(tmp_path, monkeypatch):
    bids, study = tmp_path / 'bids', tmp_path / 'study'
    # sub-001 (siteB): STIR, T2starAx, T1w; sub-002 (siteA): MP2RAGE; sub-003 (siteA): T2Ax,
    # MP2RAGE; sub-004 (siteA): T2starAx. Test on 001 and 003, train on 002 and 004.
    write_dataset(bids, 4, seed=11, small=True)
    (tmp_path / 'test.tsv').write_text('participant_id\nsub-001\nsub-003\n')
    monkeypatch.setitem(WIDTH_PRESETS, 'cpu', TINY_WIDTHS)  # tiny networks, same code paths
    labels = str(bids / 'derivatives' / 'labels')
    argv = [
        str(bids), str(study), 'train', '--labels', labels, '--cord-masks', labels,
        '-w', str(tmp_path / 'work'), '--skip-bids-validation', '--device', 'cpu',
        '--nprocs', '2', '--patch-z', '64', '--iterations', '3', '--val-interval', '3',
        '--num-workers', '0', '--study', 'variants', '--seeds', '2', '--min-fraction', '0.5',
        '--test-subjects', str(tmp_path / 'test.tsv'),
    ]  # fmt: skip
    assert main(argv) == 0

    document = json.loads((study / 'study.json').read_text())
    assert document['test_units'] == ['sub-001', 'sub-003']
    assert document['combinations'] == {'T2Sag+T2starAx': 0.5, 'T2Sag+MP2RAGE': 0.5}
    assert document['cohort_column'] == 'site'
    models = [
        'baseline', 'feature-augmentation', 'mean-imputation', 'frozen-encoder', 'distillation',
        'combination-T2Sag+T2starAx', 'combination-T2Sag+MP2RAGE',
    ]  # fmt: skip
    assert [r['model'] for r in document['runs']] == models * 2
    table2 = _read(study / 'table2.tsv')
    assert [line['model'] for line in table2] == models[:5]
    assert {(line['n_seeds'], line['n_units'], line['n_pairs']) for line in table2[1:]} == {
        ('2', '2', '2')
    }
    table1 = {(r['model'], r['row'], r['cohort']): r for r in _read(study / 'table1.tsv')}
    assert table1['combination-T2Sag+T2starAx', 'T2Sag+T2starAx', 'siteB']['n_units'] == '1'
    assert table1['mean-imputation', 'T2Sag+MP2RAGE', 'siteA']['n_units'] == '1'
    assert ('mean-imputation', 'T2Sag+MP2RAGE', 'siteB') not in table1
    assert all(0 <= float(r['dice']) <= 1 for r in table1.values())
    assert (study / 'study.html').read_text().count('data:image/png;base64,') == 2

    done = {p: p.stat().st_mtime_ns for p in study.glob('runs/*/*/*/*') if p.suffix == '.pt'}
    done |= {p: p.stat().st_mtime_ns for p in study.glob('runs/*/*/evaluation/*')}
    names = [p.name for p in done]
    assert (names.count('latest.pt'), names.count('units.tsv')) == (14, 14)
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in done} == done


def _read(path):
    with path.open() as stream:
        return list(csv.DictReader(stream, delimiter='\t'))
