"""Every ``shared`` case of the battery: one run of a dataset with a good subject and a bad one
per case, each asserted on that run's log and outputs (robustness_cases)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from checksums import changed, checksums
from robustness_cases import BY_ID, CASES
from robustness_checks import check_line, temporary_files, user_line
from robustness_inputs import GOOD
from robustness_scenarios import participant_argv, summary

from bids_app.cli.run import main

SHARED = [case for case in CASES if case.run == 'shared']


@dataclass
class SharedRun:
    code: int
    lines: list[str]
    bids: Path
    out: Path
    work: Path
    names: dict[str, str]
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope='module')
def shared_run(good, tiny_model, tmp_path_factory) -> SharedRun:
    """Write every shared case beside the good subject, run ``sclesion`` once (in process)."""
    tmp = tmp_path_factory.mktemp('shared')
    bids = Path(shutil.copytree(good.root, tmp / 'bids'))
    names = {case.id: case.make(bids, case.id, good) for case in SHARED}
    before = checksums(bids)
    masks = bids / 'derivatives' / 'labels'
    argv = participant_argv(bids, tmp, tiny_model, '--cord-masks', str(masks))
    log = io.StringIO()
    with ExitStack() as stack:
        for case in SHARED:
            if case.during is not None:
                stack.enter_context(case.during(tmp / 'out', case.id))
        stack.enter_context(redirect_stderr(log))
        stack.enter_context(redirect_stdout(log))
        code = main(argv)
    return SharedRun(
        code, log.getvalue().splitlines(), bids, tmp / 'out', tmp / 'work', names, before,
        checksums(bids),
    )  # fmt: skip


def test_exit_code_is_that_of_the_worst_case(shared_run):
    assert shared_run.code == max(case.exit_code for case in SHARED) == 1


def test_no_traceback_and_no_input_changed(shared_run):
    assert not [line for line in shared_run.lines if 'Traceback' in line]
    assert changed(shared_run.before, shared_run.after) == []


@pytest.mark.parametrize('case', SHARED, ids=lambda case: case.id)
def test_case(case, shared_run):
    unit = f'sub-{case.id}'
    line = user_line(case, shared_run.lines, unit)
    if line:
        check_line(case, line, shared_run.names[case.id])
    failed = [line for line in shared_run.lines if f'[ERROR] {unit} failed:' in line]
    assert bool(failed) == (case.exit_code == 1)
    assert summary(shared_run.out, case.id).is_file() == (case.outcome == 'processed')
    assert summary(shared_run.out, GOOD).is_file()
    for prefix in (f'{unit}/', f'derivatives/labels/{unit}/'):
        assert changed(shared_run.before, shared_run.after, prefix) == []
    assert temporary_files(shared_run.out / unit) == []


@pytest.mark.parametrize('case', [BY_ID['diskfull']], ids=lambda case: case.id)
def test_disk_full_leaves_no_partial_file(case, shared_run):
    fuse = shared_run.work / 'sclesion_0_1_wf' / 'sub_diskfull_wf' / 'preproc_wf' / 'fuse_T2Sag'
    assert fuse.is_dir()
    assert list(fuse.glob('*.nii*')) == []
    assert list(fuse.glob('.*.nii*')) == []


@pytest.mark.parametrize('case', [BY_ID['locked']], ids=lambda case: case.id)
def test_a_locked_subject_is_left_to_the_process_holding_it(case, shared_run):
    folder = shared_run.out / 'sub-locked'
    assert sorted(p.name for p in folder.iterdir()) == ['.sclesion.lock']
    assert not (shared_run.out / 'sub-locked.html').exists()


_PEAK = """
import sys
from bids_app.headers import read_header
from bids_app.errors import InputImageError
from bids_app.interfaces.io import load_image
from bids_app.reports.canvas import load_canonical
for read in (read_header, load_image, load_canonical):
    try:
        read(sys.argv[1])
    except InputImageError as error:
        assert 'voxels, more than' in str(error), error
    else:
        raise SystemExit(f'{read.__name__} read the image')
# The peak of this process's own memory (ru_maxrss would include the parent's, kept over exec).
status = open('/proc/self/status').read()
print(int(status.split('VmHWM:')[1].split()[0]) // 1024)
"""


@pytest.mark.parametrize('case', [BY_ID['huge']], ids=lambda case: case.id)
def test_huge_image_is_refused_without_being_read(case, shared_run):
    """Its voxels as float32 would take 2.2 GB: every reader refuses it from the header."""
    result = subprocess.run(
        [sys.executable, '-c', _PEAK, shared_run.names['huge']],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) < 400  # MiB: the imports take about 125
