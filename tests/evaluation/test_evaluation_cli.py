"""``python -m bids_app.evaluation``: arguments, files and stdout; the model run end to end."""

from __future__ import annotations

import json

import pytest
from evaluation_frames import FakePredictor

from bids_app.cli import evaluate as cli
from bids_app.cli.evaluate import frames_work_dir, main


def test_missing_labels_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path), '--out', str(tmp_path / 'out')]) == 2
    assert '--labels' in capsys.readouterr().err


def test_negative_min_lesion_size_is_a_usage_error(tmp_path, capsys):
    argv = [str(tmp_path), '--labels', str(tmp_path), '--out', str(tmp_path / 'out'),
            '--min-lesion-mm3', '-0.5']  # fmt: skip
    assert main(argv) == 2
    assert 'argument --min-lesion-mm3: -0.5 must be a finite number of at least 0' in (
        capsys.readouterr().err
    )
    assert not (tmp_path / 'out').exists()


def test_each_dataset_gets_its_own_frame_cache(tmp_path):
    train = frames_work_dir(tmp_path / 'work', tmp_path / 'phantoms-train')
    test = frames_work_dir(tmp_path / 'work', tmp_path / 'phantoms-test')
    assert train.parent == test.parent == tmp_path / 'work'
    assert train.name.startswith('evaluation-phantoms-train-')
    assert train != test
    assert frames_work_dir(tmp_path / 'work', tmp_path / 'phantoms-test') == test


def test_cli_writes_the_table_and_prints_it(frame_files, tmp_path, monkeypatch, capsys):
    predictor = FakePredictor()
    left_out = 'no reference lesion label for sub-D_T2w.nii.gz'
    monkeypatch.setattr(cli, 'discover_units', lambda config: [])
    monkeypatch.setattr(
        cli,
        'preprocess_frames',
        lambda units, config, verbosity: {**frame_files, 'sub-D': left_out},
    )
    monkeypatch.setattr(cli, 'resolve_model_dir', lambda name: tmp_path / 'model')
    monkeypatch.setattr(cli.LesionPredictor, 'from_model_dir', lambda *a, **k: predictor)
    out = tmp_path / 'out'
    argv = [str(tmp_path / 'bids'), '--labels', str(tmp_path), '--model', 'm', '--out', str(out),
            '-w', str(tmp_path / 'work'), '--skip-bids-validation', '--plot']  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed == (out / 'table1.md').read_text()
    assert printed.splitlines()[2].startswith('| T2Sag | 3 (0) | 0.667 (0.667) | 1 |')
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        'false_lesions.tsv', 'lesions.tsv', 'table1.json', 'table1.md', 'table1.png',
        'table1.tsv', 'units.tsv'
    ]  # fmt: skip
    document = json.loads((out / 'table1.json').read_text())
    assert document['left_out'] == {'sub-D': left_out}
    assert document['model']['sha256'] == 'abc'
    assert document['postprocess']['threshold'] == 0.5
    assert document['command_line'][3:] == argv


class SpeckPredictor(FakePredictor):
    """FakePredictor plus a 2-voxel speck (0.25 mm^3) in the cord, away from every lesion."""

    def predict(self, crops, coverage=None):
        probability = super().predict(crops, coverage)
        probability[23, 23:25, 14] = 0.9
        return probability


@pytest.mark.parametrize(
    ('card_entry', 'flags', 'min_lesion_mm3', 'speck_kept'),
    [
        (None, [], 1.0, False),  # built-in default
        (None, ['--min-lesion-mm3', '0'], 0.0, True),
        ({'min_lesion_mm3': 0}, [], 0.0, True),  # the card's default
        ({'min_lesion_mm3': 0}, ['--min-lesion-mm3', '0.3'], 0.3, False),  # the flag wins
    ],
)
def test_min_lesion_size_from_flag_then_card(
    frame_files, tmp_path, monkeypatch, card_entry, flags, min_lesion_mm3, speck_kept
):
    predictor = SpeckPredictor()
    if card_entry is not None:
        predictor.card['postprocess'] = card_entry
    monkeypatch.setattr(cli, 'discover_units', lambda config: [])
    monkeypatch.setattr(cli, 'preprocess_frames', lambda units, config, verbosity: frame_files)
    monkeypatch.setattr(cli, 'resolve_model_dir', lambda name: tmp_path / 'model')
    monkeypatch.setattr(cli.LesionPredictor, 'from_model_dir', lambda *a, **k: predictor)
    out = tmp_path / 'out'
    argv = [str(tmp_path / 'bids'), '--labels', str(tmp_path), '--out', str(out),
            '-w', str(tmp_path / 'work'), *flags]  # fmt: skip
    assert main(argv) == 0
    document = json.loads((out / 'table1.json').read_text())
    assert document['postprocess']['min_lesion_mm3'] == min_lesion_mm3
    assert document['postprocess']['threshold'] == 0.5
    # sub-B, T2Sag alone: the conspicuous lesion, plus the speck when it is kept
    units = [line.split('\t') for line in (out / 'units.tsv').read_text().splitlines()]
    [n_pred] = [row[-1] for row in units if row[:2] == ['sub-B', 'T2Sag']]
    assert int(n_pred) == 1 + speck_kept
    # ... and the speck, when kept, is listed as a false lesion with its size and confidence
    false = [line.split('\t') for line in (out / 'false_lesions.tsv').read_text().splitlines()]
    assert false[0] == ['unit', 'row', 'lesion_free_unit', 'volume_mm3', 'peak_probability',
                        'mean_probability', 'z_mm', 'mm_to_view_edge']  # fmt: skip
    speck = [row[2:6] for row in false[1:] if row[:2] == ['sub-B', 'T2Sag']]
    assert speck == ([['0', '0.25', '0.9', '0.9']] if speck_kept else [])


@pytest.mark.slow
def test_tiny_model_on_two_phantoms_end_to_end(small_phantoms, tiny_model, tmp_path, capsys):
    labels = small_phantoms / 'derivatives' / 'labels'
    out = tmp_path / 'out'
    argv = [str(small_phantoms), '--labels', str(labels), '--cord-masks', str(labels),
            '--model', str(tiny_model), '--out', str(out), '-w', str(tmp_path / 'work'),
            '--nprocs', '2', '--device', 'cpu', '--skip-bids-validation']  # fmt: skip
    assert main(argv) == 0
    document = json.loads((out / 'table1.json').read_text())
    evaluated = {line.split('\t')[0] for line in (out / 'units.tsv').read_text().splitlines()[1:]}
    assert evaluated | set(document['left_out']) == {'sub-001', 'sub-002'}
    assert evaluated
    rows = [row['row'] for row in document['rows']]
    assert rows == ['T2Sag', 'T2Sag+STIR', 'T2Sag+T2starAx', 'T2Sag+T2Ax', 'T2Sag+T1w',
                    'T2Sag+MP2RAGE', 'all available']  # fmt: skip
    assert all(row['n_units'] == len(evaluated) for row in document['rows'])
    lesions = (out / 'lesions.tsv').read_text().splitlines()[1:]
    assert document['faint_lesions']['n_lesions'] == len(lesions)
    assert capsys.readouterr().out.startswith('| Sequences at inference |')
