"""Wall time and peak memory of the participant level and of pre-processing alone.

Run as ``python benchmarks/participant.py [--model DIR] [--repeats N] [--nprocs N]``; prints a
table and writes ``bench-results/participant.json``. Cases, on phantoms written for the run:

- ``cervical T2Sag``: a cervical phantom with the sagittal T2w only;
- ``full 6 seq``: a phantom with all six sequences from the brainstem to the conus;

each through ``participant`` with ``--no-tta`` and ``--tta`` (the shipped card's choice), plus
the full phantom's pre-processing alone (``train --preprocess-only``, built-in centreline). Every
repeat starts from an empty work directory. Peak memory is the largest sum of the resident
memory of the command's whole process tree, sampled every 50 ms from ``/proc``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bids_app.errors import ModelCardError
from bids_app.model.registry import DEFAULT_MODEL, resolve_model_dir
from bids_app.phantoms import make_subject, write_subject
from bids_app.phantoms.dataset import write_dataset
from bids_app.slots import Slot

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'bench-results' / 'participant.json'


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _tree_rss_mb(pid: int) -> float:
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f'/proc/{current}/status').read_text().splitlines():
                if line.startswith('VmRSS:'):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
        stack.extend(_children(current))
    return total


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds, peak MB of the process tree, exit code) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0.0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    sampler.join()
    if process.returncode:
        sys.stderr.write(stderr.decode(errors='replace')[-2000:])
    return time.perf_counter() - started, peak[0], process.returncode


def _datasets(root: Path) -> dict[str, Path]:
    cervical = root / 'cervical'
    write_subject(make_subject(11, small=True, slots=[Slot.T2Sag]), cervical)
    write_dataset_description(cervical)
    full = root / 'full'
    write_dataset(full, 1, seed=12, all_sequences=True)
    return {'cervical T2Sag': cervical, 'full 6 seq': full}


def write_dataset_description(root: Path) -> None:
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 'benchmark phantom', 'BIDSVersion': '1.10.0'})
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', help=f'model folder or name (default: {DEFAULT_MODEL})')
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--nprocs', type=int, default=2)
    args = parser.parse_args(argv)
    env = {**os.environ, 'SCLESION_PROGRESS': 'off', 'NIPYPE_NO_ET': '1'}
    base = [sys.executable, '-m', 'bids_app']
    try:
        model = str(resolve_model_dir(args.model))
    except ModelCardError as exc:  # pre-processing is still measured without a model
        print(f'no model ({exc}); participant cases skipped')
        model = None
    rows = []
    with tempfile.TemporaryDirectory(prefix='sclesion-bench-') as tmp:
        data = _datasets(Path(tmp))
        cases = []
        if model:
            for name, bids in data.items():
                for tta in (False, True):
                    extra = ['--tta' if tta else '--no-tta']
                    cases.append(
                        (
                            f'{name}{" tta" if tta else " no tta"}',
                            bids,
                            'participant',
                            ['--model', model, *extra],
                        )
                    )
        full = data['full 6 seq']
        cases.append(
            (
                'full 6 seq preprocess',
                full,
                'train',
                ['--labels', str(full / 'derivatives' / 'labels'), '--preprocess-only'],
            )
        )
        for name, bids, level, extra in cases:
            times, peaks = [], []
            for repeat in range(args.repeats):
                out, work = (
                    Path(tmp) / f'out{len(rows)}_{repeat}',
                    Path(tmp) / f'w{len(rows)}_{repeat}',
                )
                command = [
                    *base,
                    str(bids),
                    str(out),
                    level,
                    '-w',
                    str(work),
                    '--nprocs',
                    str(args.nprocs),
                    '--skip-bids-validation',
                    '--centerline',
                    'builtin',
                    *extra,
                ]
                seconds, peak, code = run_measured(command, env)
                if code:
                    print(f'{name}: exit code {code}')
                times.append(seconds)
                peaks.append(peak)
            rows.append(
                {
                    'case': name,
                    'seconds_median': statistics.median(times),
                    'seconds': times,
                    'peak_memory_mb': max(peaks),
                }
            )
    conditions = {
        'nprocs': args.nprocs,
        'device': 'cpu',
        'cpus': os.cpu_count(),
        'machine': platform.processor() or platform.machine(),
        'repeats': args.repeats,
        'model': model,
        'centerline': 'builtin',
    }
    print(f'participant benchmark: {conditions}')
    print(f'{"case":<28} {"wall s (median)":>16} {"peak MB":>10}')
    for row in rows:
        print(f'{row["case"]:<28} {row["seconds_median"]:>16.1f} {row["peak_memory_mb"]:>10.0f}')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({'conditions': conditions, 'cases': rows}, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
