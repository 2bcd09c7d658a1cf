"""Reruns after a kill, two processes on one output folder, a unit another process holds."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import nibabel as nib
import pytest

from bids_app.cli.run import main
from bids_app.workflows.base import workflow_name


def _argv(bids, out, work, model, *extra):
    labels = bids / 'derivatives' / 'labels'
    return [
        str(bids),
        str(out),
        'participant',
        '-w',
        str(work),
        '--nprocs',
        '1',
        '--model',
        str(model),
        '--cord-masks',
        str(labels),
        '--skip-bids-validation',
        *extra,
    ]


def _command(*argv):
    return [sys.executable, '-m', 'bids_app', *argv]


def _env():
    return {**os.environ, 'SCLESION_PROGRESS': 'off'}


def test_a_unit_held_by_another_process_is_refused_cleanly(
    small_phantoms, tiny_model, tmp_path, capsys
):
    out = tmp_path / 'out'
    lock = out / 'sub-001' / '.sclesion.lock'
    lock.parent.mkdir(parents=True)
    with lock.open('a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        argv = _argv(small_phantoms, out, tmp_path / 'w', tiny_model, '--participant-label', '001')
        assert main(argv) == 1
    assert 'another sclesion process is working on sub-001' in capsys.readouterr().err
    assert not (out / 'sub-001' / 'anat').exists()


def test_a_unit_another_run_holds_in_a_shared_work_folder_is_refused_cleanly(
    small_phantoms, tiny_model, tmp_path, capsys
):
    """Two runs, two output folders, one -w: the second refuses the unit the first holds."""
    work = tmp_path / 'w'
    lock = work / workflow_name() / 'sub_001_wf.lock'
    lock.parent.mkdir(parents=True)
    with lock.open('a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        argv = _argv(
            small_phantoms, tmp_path / 'out2', work, tiny_model, '--participant-label', '001'
        )
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert f'another sclesion process is working on sub-001 in the work folder {work}' in err
    assert f'(lock {lock}); let it finish, or give each run its own -w' in err
    assert not (tmp_path / 'out2' / 'sub-001' / 'anat').exists()
    assert 'Traceback' not in err


@pytest.mark.slow
def test_two_processes_on_different_subjects_into_one_output(small_phantoms, tiny_model, tmp_path):
    out = tmp_path / 'out'
    processes = [
        subprocess.Popen(
            _command(
                *_argv(
                    small_phantoms,
                    out,
                    tmp_path / f'w{label}',
                    tiny_model,
                    '--participant-label',
                    label,
                )
            ),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for label in ('001', '002')
    ]
    codes = [p.wait(timeout=900) for p in processes]
    assert codes == [0, 0], [p.stderr.read().decode()[-1500:] for p in processes]
    description = json.loads((out / 'dataset_description.json').read_text())
    assert description['DatasetType'] == 'derivative'
    for label in ('001', '002'):
        assert (out / f'sub-{label}' / 'anat' / f'sub-{label}_desc-lesions_summary.tsv').is_file()


@pytest.mark.slow
def test_killed_midway_then_rerun_completes(small_phantoms, tiny_model, tmp_path):
    out, work = tmp_path / 'out', tmp_path / 'work'
    argv = _argv(small_phantoms, out, work, tiny_model)
    process = subprocess.Popen(
        _command(*argv),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not list(work.rglob('cordframe.npz')):
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / 'sub-002' / 'anat' / 'sub-002_desc-lesions_summary.tsv').exists()
    assert main(argv) == 0
    for label in ('001', '002'):
        folder = out / f'sub-{label}' / 'anat'
        assert (folder / f'sub-{label}_desc-lesions_summary.tsv').is_file()
        mask = nib.load(folder / f'sub-{label}_acq-sag_label-lesion_mask.nii.gz')
        assert mask.get_fdata().max() <= 1
