"""The command line: exit codes, one-line errors, nothing written to the input dataset."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bids_app import __version__
from bids_app.cli.parser import _to_gb
from bids_app.cli.run import main

SAG = {'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal'}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if '[ERROR]' in line]


def test_version(capsys):
    assert main(['--version']) == 0
    assert capsys.readouterr().out.strip() == f'sclesion v{__version__}'


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run(
        [sys.executable, '-m', 'bids_app', '--version'],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f'sclesion v{__version__}'


def test_dry_run_prints_the_table_and_writes_nothing(bids_tree, tmp_path, capsys):
    root = bids_tree({**SAG, 'sub-02/anat/sub-02_acq-ax_T2w.nii.gz': 'axial'})
    before = _snapshot(root)
    out, work = tmp_path / 'out', tmp_path / 'work'
    code = main([str(root), str(out), 'participant', '--dry-run', '-w', str(work)])
    printed = capsys.readouterr().out
    assert code == 0
    assert 'sub-01_acq-sag_T2w.nii.gz' in printed
    assert '02' in printed
    assert 'SKIPPED' in printed
    assert 'would run participant on 1 of 2' in printed
    assert not out.exists()
    assert not work.exists()
    assert _snapshot(root) == before


@pytest.mark.parametrize(
    ('make_args', 'message'),
    [
        (lambda root, out: [str(root / 'nowhere'), str(out)], 'does not exist'),
        (
            lambda root, out: [str(root / 'sub-01'), str(out)],
            'dataset_description.json is missing',
        ),
        (lambda root, out: [str(root), str(root)], 'the output folder is the input dataset'),
        (lambda root, out: [str(root), str(root / 'sub-01' / 'out')], 'inside the input dataset'),
        (
            lambda root, out: [str(root), str(out), 'participant', '--participant-label', '99'],
            'none of the participants 99 exist',
        ),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(bids_tree, tmp_path, capsys, make_args, message):
    root = bids_tree(SAG)
    before = _snapshot(root)
    argv = make_args(root, tmp_path / 'out')
    argv = [*argv, *([] if 'participant' in argv else ['participant']), '--skip-bids-validation']
    assert main(argv) == 2
    errors = _error_lines(capsys)
    assert len(errors) == 1
    assert message in errors[0]
    assert _snapshot(root) == before


@pytest.mark.parametrize(
    ('content', 'message'),
    [
        ('{"T2Sag": {"acquisition": "sag"', 'is not valid JSON'),
        ('{"FLAIR": {"suffix": "FLAIR"}}', "unknown slot 'FLAIR'"),
        ('["T2Sag"]', 'must hold a JSON object'),
        ('{"T2Sag": "sag"}', "the value of 'T2Sag' must be an object"),
    ],
)
def test_bad_filter_file_is_a_usage_error(bids_tree, tmp_path, capsys, content, message):
    root = bids_tree(SAG)
    before = _snapshot(root)
    filters = tmp_path / 'filters.json'
    filters.write_text(content)
    argv = [str(root), str(tmp_path / 'out'), 'participant', '--bids-filter-file', str(filters)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert _snapshot(root) == before


def test_output_under_derivatives_is_allowed(bids_tree, capsys):
    root = bids_tree(SAG)
    out = root / 'derivatives' / 'sclesion'
    assert main([str(root), str(out), 'participant', '--dry-run', '--skip-bids-validation']) == 0
    assert 'sub-01_acq-sag_T2w' in capsys.readouterr().out


def test_validator_errors_stop_the_run_unless_skipped(gm_challenge, tmp_path, capsys):
    if main([str(gm_challenge), str(tmp_path / 'o'), 'participant', '--dry-run']) != 2:
        pytest.fail('the invalid AcquisitionDuration of gm-challenge-t2s went unnoticed')
    err = capsys.readouterr().err
    if 'no BIDS validator installed' in err:
        pytest.skip('bids-validator-deno is not installed')
    assert 'is not valid BIDS' in err
    assert '--skip-bids-validation' in err


def test_no_runnable_unit_is_exit_2(sct_example, tmp_path, capsys):
    argv = [str(sct_example), str(tmp_path / 'o'), 'participant', '--participant-label', 'ms01']
    assert main([*argv, '--dry-run']) == 2
    assert 'no subject/session can run' in capsys.readouterr().err


def test_participant_and_group_levels_together_parse(sct_example, tmp_path, capsys):
    argv = [str(sct_example), str(tmp_path / 'o'), 'participant', 'group', '--dry-run']
    assert main(argv) == 0
    assert 'would run participant, group' in capsys.readouterr().out


@pytest.mark.parametrize(
    ('option', 'value', 'message'),
    [
        ('--min-lesion-mm3', '-1', '-1 must be a finite number of at least 0'),
        ('--min-lesion-mm3', 'inf', 'inf must be a finite number of at least 0'),
        ('--min-lesion-mm3', 'big', "'big' is not a number"),
        ('--threshold', '1', '1 must lie strictly between 0 and 1'),
    ],
)
def test_post_processing_values_out_of_range_are_usage_errors(
    tmp_path, capsys, option, value, message
):
    assert main([str(tmp_path), str(tmp_path / 'out'), 'participant', option, value]) == 2
    err = capsys.readouterr().err
    assert f'argument {option}: {message}' in err


def _model_with_card(tiny_model: Path, folder: Path, postprocess: dict | None) -> Path:
    shutil.copytree(tiny_model, folder)
    card = json.loads((folder / 'card.json').read_text())
    if postprocess is not None:
        card['postprocess'] = postprocess
    (folder / 'card.json').write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize(
    ('postprocess', 'flags', 'expected'),
    [
        (None, [], (0.5, 1.0, False)),
        ({'threshold': 0.3, 'min_lesion_mm3': 0}, [], (0.3, 0.0, False)),
        ({'threshold': 0.3, 'min_lesion_mm3': 0}, ['--min-lesion-mm3', '2.5'], (0.3, 2.5, False)),
        ({'min_lesion_mm3': 0}, ['--threshold', '0.6'], (0.6, 0.0, False)),
        ({'tta': True}, [], (0.5, 1.0, True)),
        ({'tta': True}, ['--no-tta'], (0.5, 1.0, False)),
        (None, ['--tta'], (0.5, 1.0, True)),
    ],
)
def test_participant_post_processing_and_tta_from_flags_then_card(
    bids_tree, tiny_model, tmp_path, postprocess, flags, expected
):
    from bids_app.cli.parser import build_parser
    from bids_app.cli.run import build_config
    from bids_app.cli.workflow import inference_options

    model = _model_with_card(tiny_model, tmp_path / 'model', postprocess)
    argv = [str(bids_tree(SAG)), str(tmp_path / 'o'), 'participant', '--model', str(model), *flags]
    config = build_config(build_parser().parse_args(argv), argv)
    inference = inference_options(config)
    options = inference.postprocess
    assert (options.threshold, options.min_lesion_mm3, inference.tta) == expected
    assert options.grow_threshold == options.threshold  # no growing unless asked
    # the settings file records what was asked: nothing when the card's value applies
    asked = config.to_dict()
    assert ('min_lesion_mm3' in asked) == ('--min-lesion-mm3' in flags)
    assert ('tta' in asked) == any(f.endswith('-tta') for f in flags)


@pytest.mark.parametrize(
    ('postprocess', 'flags', 'expected'),
    [
        ({'threshold': 0.7, 'grow_threshold': 0.3}, [], (0.7, 0.3)),
        ({'threshold': 0.7, 'grow_threshold': 0.3}, ['--grow-threshold', '0.5'], (0.7, 0.5)),
        ({'threshold': 0.7, 'grow_threshold': 0.3}, ['--threshold', '0.2'], (0.2, 0.2)),
        (None, ['--threshold', '0.6', '--grow-threshold', '0.4'], (0.6, 0.4)),
    ],
)
def test_participant_grow_threshold_from_flag_then_card(
    bids_tree, tiny_model, tmp_path, postprocess, flags, expected
):
    from bids_app.cli.parser import build_parser
    from bids_app.cli.run import build_config
    from bids_app.cli.workflow import inference_options

    model = _model_with_card(tiny_model, tmp_path / 'model', postprocess)
    argv = [str(bids_tree(SAG)), str(tmp_path / 'o'), 'participant', '--model', str(model), *flags]
    options = inference_options(build_config(build_parser().parse_args(argv), argv)).postprocess
    assert (options.threshold, options.grow_threshold) == expected


def test_card_postprocess_out_of_range_is_exit_2_naming_the_card(
    bids_tree, tiny_model, tmp_path, capsys
):
    model = _model_with_card(tiny_model, tmp_path / 'model', {'threshold': 1.5})
    root = bids_tree(SAG)
    argv = [str(root), str(tmp_path / 'o'), 'participant', '--model', str(model),
            '-w', str(tmp_path / 'w'), '--skip-bids-validation']  # fmt: skip
    assert main(argv) == 2
    [error] = _error_lines(capsys)
    assert f'{model / "card.json"}: "postprocess" threshold is 1.5,' in error


def test_memory_units():
    assert _to_gb('16G') == 16.0
    assert _to_gb('16000M') == 16.0
    assert _to_gb('8000') == 8.0  # a bare number is MB, as in fMRIPrep


def test_settings_file_round_trips(bids_tree, tmp_path):
    from bids_app.cli.parser import build_parser
    from bids_app.cli.run import build_config

    root = bids_tree(SAG)
    filters = tmp_path / 'f.json'
    filters.write_text(json.dumps({'STIR': {'suffix': 'STIR'}}))
    argv = [str(root), str(tmp_path / 'o'), 'participant', '--bids-filter-file', str(filters)]
    config = build_config(build_parser().parse_args(argv), argv)
    plain = config.to_dict()
    assert plain['bids_filters'] == {'STIR': {'suffix': 'STIR'}}
    assert plain['bids_dir'] == str(root.resolve())
    assert plain['command_line'][0] == 'sclesion'


def test_person_groups_come_from_the_insertion_source_column(tmp_path):
    from bids_app.cli.run import person_groups
    from bids_app.config import RunConfig

    config = RunConfig(tmp_path, tmp_path / 'o', ('train',), tmp_path / 'w', 'run')
    assert person_groups(config) == {}  # no participants.tsv: every subject is its own person
    (tmp_path / 'participants.tsv').write_text(
        'participant_id\tsource_participant\tcopy\n'
        'sub-aupperins01\tsub-a\t1\n'
        'sub-aupperins02\tsub-a\t2\n'
        'sub-001\tn/a\tn/a\n'
    )
    assert person_groups(config) == {'sub-aupperins01': 'sub-a', 'sub-aupperins02': 'sub-a'}
