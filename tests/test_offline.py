"""The app behaves as it must inside a container: offline, read-only HOME, writes confined.

One participant run of ``python -m bids_app`` (a subprocess) on a small phantom with a tiny
random model, in a sandbox: HOME is a read-only empty folder, TMPDIR and the working directory
are dedicated empty folders, every proxy variable points at an unreachable address
(``http://127.0.0.1:9``), no MPLCONFIGDIR, XDG_* or NIPYPE_* variable is set, and where
``unshare`` may, the run has a network namespace of its own with no way out. An audit hook
(PEP 578), installed through a ``sitecustomize`` in every Python process of the run, logs each
file opened for writing, each folder made and each socket use, with the code that did it.

The tests then check what is left: the outputs in OUTPUT_DIR, nothing anywhere else.
"""

from __future__ import annotations

import inspect
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import pytest

from bids_app.phantoms.dataset import write_dataset

#: Where an unreachable proxy points: the discard port on loopback, where nothing listens.
DEAD_PROXY = 'http://127.0.0.1:9'
PROXY_VARIABLES = ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY')

#: Commands that start a process in a network namespace of its own (no interface but a
#: loopback that is down): as root, then as an unprivileged user where user namespaces are on.
NETNS_PREFIXES = (('unshare', '--net'), ('unshare', '--net', '--map-root-user'))


def no_network_prefix() -> list[str]:
    """The first of ``NETNS_PREFIXES`` that works here, or ``[]`` (then only proxies are dead)."""
    for prefix in NETNS_PREFIXES:
        try:
            done = subprocess.run([*prefix, 'true'], capture_output=True, check=False)
        except FileNotFoundError:
            return []
        if done.returncode == 0:
            return list(prefix)
    return []


def record_side_effects(log_path: str) -> None:
    """Audit hook for the app's interpreters: append one JSON line per write or socket event.

    This function's source is written into a ``sitecustomize.py`` and runs in the child
    processes, hence the imports inside it. Each line is ``{"event", "target", "pid", "by"}``
    where ``target`` is the path written (a rename's or copy's destination) or the address
    contacted, and ``by`` lists the innermost three calling frames and the innermost one in
    ``bids_app`` as ``file:line``.
    """
    import json
    import os
    import sys

    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    busy = []

    def callers() -> list[str]:
        frame, out = sys._getframe(3), []
        while frame is not None:
            where = f'{frame.f_code.co_filename}:{frame.f_lineno}'
            if len(out) < 3 or '/bids_app/' in where:
                out.append(where)
            if '/bids_app/' in where:
                break
            frame = frame.f_back
        return out

    def emit(event: str, target: object) -> None:
        line = {'event': event, 'target': str(target), 'pid': os.getpid(), 'by': callers()}
        os.write(fd, (json.dumps(line) + '\n').encode())

    def hook(event: str, args: tuple) -> None:
        if busy:
            return
        busy.append(True)
        try:
            if event == 'open' and isinstance(args[0], str | bytes):
                path, mode, flags = args
                if (mode and any(c in mode for c in 'wax+')) or (
                    mode is None and flags & write_flags
                ):
                    emit('open', os.fsdecode(path))
            elif event in ('os.mkdir', 'shutil.copytree'):
                emit(event, os.fsdecode(args[0]))
            elif event in ('os.rename', 'shutil.copyfile'):
                emit(event, os.fsdecode(args[1]))
            elif event in ('socket.connect', 'socket.sendto'):
                emit(event, args[1])
            elif event == 'socket.getaddrinfo':
                emit(event, args[0])
        finally:
            busy.pop()

    sys.addaudithook(hook)


def write_audit_hook(folder: Path) -> Path:
    """Write ``folder/sitecustomize.py`` installing :func:`record_side_effects`; return its log."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / 'events.jsonl'
    source = inspect.getsource(record_side_effects)
    (folder / 'sitecustomize.py').write_text(f'{source}\n\nrecord_side_effects({str(log)!r})\n')
    return log


def read_events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@dataclass(frozen=True)
class OfflineRun:
    """The sandbox of one run and what the run left in it."""

    root: Path
    returncode: int
    stderr: str
    left: dict[str, list[str]]
    bids_before: dict[str, tuple[int, int]]
    bids_after: dict[str, tuple[int, int]]
    events: list[dict]

    def folder(self, name: str) -> Path:
        return self.root / name


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` -> (size in bytes, modification time in ns)."""
    return {
        str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(root.rglob('*'))
    }


def sandbox_env(root: Path) -> dict[str, str]:
    """A clean environment: read-only HOME, dedicated TMPDIR, dead proxies, the audit hook."""
    env = {
        'PATH': f'{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin',
        'HOME': str(root / 'home'),
        'TMPDIR': str(root / 'tmp'),
        'LANG': 'C.UTF-8',
        'PYTHONPATH': str(root / 'audit'),
        'PYTHONDONTWRITEBYTECODE': '1',
        'SCLESION_PROGRESS': 'off',
    }
    env.update(dict.fromkeys(PROXY_VARIABLES, DEAD_PROXY))
    return env


@pytest.fixture(scope='module')
def offline_run(tmp_path_factory, tiny_model: Path) -> OfflineRun:
    """Run the participant level once in the sandbox (about 30 s on two CPU cores)."""
    root = tmp_path_factory.mktemp('offline')
    write_dataset(root / 'bids', 1, seed=1, small=True)
    for name in ('home', 'tmp', 'cwd'):
        (root / name).mkdir()
    log = write_audit_hook(root / 'audit')
    (root / 'home').chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    bids_before = tree(root / 'bids')
    command = [
        *no_network_prefix(),
        sys.executable,
        '-m',
        'bids_app',
        str(root / 'bids'),
        str(root / 'out'),
        'participant',
        '-w',
        str(root / 'work'),
        '--model',
        str(tiny_model),
        '--nprocs',
        '1',
    ]
    try:
        result = subprocess.run(
            command,
            cwd=root / 'cwd',
            env=sandbox_env(root),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        (root / 'home').chmod(stat.S_IRWXU)
    events = read_events(log)
    return OfflineRun(
        root=root,
        returncode=result.returncode,
        stderr=result.stderr,
        left={name: sorted(tree(root / name)) for name in ('home', 'tmp', 'cwd')},
        bids_before=bids_before,
        bids_after=tree(root / 'bids'),
        events=events,
    )


def writes_outside(run: OfflineRun) -> list[dict]:
    """Audited writes whose target is neither under OUTPUT_DIR or the work dir, nor /dev."""
    allowed = (run.folder('out'), run.folder('work'), Path('/dev'))
    outside = []
    for event in run.events:
        if not event['event'].startswith(('open', 'os.', 'shutil.')):
            continue
        target = Path(os.path.abspath(event['target']))
        if not any(target == a or a in target.parents for a in allowed):
            outside.append(event)
    return outside


def test_audit_hook_records_a_lookup_and_a_write(tmp_path: Path):
    """The hook can fail the checks: a name lookup and a write in a child are both logged."""
    for name in ('home', 'tmp'):
        (tmp_path / name).mkdir()
    log = write_audit_hook(tmp_path / 'audit')
    script = (
        'import socket\n'
        "try:\n    socket.getaddrinfo('sclesion.invalid', 80)\nexcept OSError:\n    pass\n"
        "open('written.txt', 'w').close()\n"
    )
    subprocess.run(
        [sys.executable, '-c', script], cwd=tmp_path, env=sandbox_env(tmp_path), check=True
    )
    events = [(e['event'], e['target']) for e in read_events(log)]
    assert events == [
        ('socket.getaddrinfo', 'sclesion.invalid'),
        ('open', 'written.txt'),
    ]


def test_run_succeeds_and_writes_the_mask_on_the_t2sag_grid(offline_run: OfflineRun):
    assert offline_run.returncode == 0, offline_run.stderr[-3000:]
    source = offline_run.folder('bids') / 'sub-001' / 'anat' / 'sub-001_acq-sag_T2w.nii.gz'
    mask = offline_run.folder('out') / 'sub-001' / 'anat'
    mask = mask / 'sub-001_acq-sag_label-lesion_mask.nii.gz'
    assert nib.load(mask).shape == nib.load(source).shape


def test_audit_hook_saw_the_outputs_being_written(offline_run: OfflineRun):
    """The hook works: the mask's final name in OUTPUT_DIR is among its events."""
    mask = offline_run.folder('out') / 'sub-001' / 'anat'
    mask = mask / 'sub-001_acq-sag_label-lesion_mask.nii.gz'
    assert str(mask.resolve()) in {e['target'] for e in offline_run.events}


def test_input_dataset_is_untouched(offline_run: OfflineRun):
    assert offline_run.bids_after == offline_run.bids_before


def test_nothing_left_in_home(offline_run: OfflineRun):
    assert offline_run.left['home'] == []


def test_nothing_left_in_tmpdir_or_the_working_directory(offline_run: OfflineRun):
    assert offline_run.left['tmp'] == []
    assert offline_run.left['cwd'] == []


def test_no_python_write_outside_output_and_work_dirs(offline_run: OfflineRun):
    outside = writes_outside(offline_run)
    assert outside == [], json.dumps(outside[:10], indent=1)


def test_no_network_use(offline_run: OfflineRun):
    sockets = [e for e in offline_run.events if e['event'].startswith('socket.')]
    assert sockets == [], json.dumps(sockets[:10], indent=1)
