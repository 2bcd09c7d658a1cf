"""Benchmark of the phantom generator: seconds per subject and size on disk.

Usage: ``python benchmarks/phantoms.py [--repeats N]``. Times ``make_subject`` + ``write_subject``
(synthesis, then NIfTI/JSON writing with gzip; wall and CPU seconds) for a small subject with
T2Sag only, a small subject with all six sequences and a full-size subject with all six, on one
thread, and prints the median of N subjects. The same figures go to
``bench-results/phantoms.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bids_app.phantoms import make_subject, subject_seed, write_subject
from bids_app.slots import SLOTS, Slot

REPO = Path(__file__).resolve().parents[1]


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob('*') if p.is_file()) / 1e6


def _case(name: str, small: bool, slots: tuple[Slot, ...], repeats: int) -> dict:
    synth, total, cpu, sizes, voxels = [], [], [], [], []
    for k in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            c0, t0 = time.process_time(), time.perf_counter()
            subject = make_subject(subject_seed(0, k), small=small, slots=slots)
            t1 = time.perf_counter()
            write_subject(subject, Path(tmp))
            t2 = time.perf_counter()
            cpu.append(time.process_time() - c0)
            synth.append(t1 - t0)
            total.append(t2 - t0)
            sizes.append(_size_mb(Path(tmp)))
            voxels.append(sum(int(np.prod(im.data.shape)) for im in subject.images.values()))
    return {
        'case': name,
        'small': small,
        'slots': [str(s) for s in slots],
        'repeats': repeats,
        'images_per_subject': len(subject.images),
        'megavoxels_per_subject': statistics.median(voxels) / 1e6,
        'synthesis_s_median': statistics.median(synth),
        'synthesis_plus_write_s_median': statistics.median(total),
        'synthesis_plus_write_cpu_s_median': statistics.median(cpu),
        'disk_mb_median': statistics.median(sizes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    cases = [
        _case('small, T2Sag only', True, (Slot.T2Sag,), args.repeats),
        _case('small, all six', True, SLOTS, args.repeats),
        _case('full, all six', False, SLOTS, args.repeats),
    ]
    conditions = {
        'threads': 1,
        'device': 'cpu',
        'cpu': platform.processor() or platform.machine(),
        'cpu_count': os.cpu_count(),
        'python': platform.python_version(),
        'numpy': np.__version__,
        'note': 'median over subjects 0..repeats-1 of seed 0; a repeated run adds images',
    }
    header = (
        f'{"case":<20} {"images":>6} {"Mvox":>6} {"synth s":>8} {"+write s":>9} '
        f'{"+write cpu s":>12} {"disk MB":>8}'
    )
    print(f'phantoms benchmark: 1 thread, CPU ({conditions["cpu_count"]} cores on the machine)')
    print(header)
    for c in cases:
        print(
            f'{c["case"]:<20} {c["images_per_subject"]:>6} {c["megavoxels_per_subject"]:>6.2f} '
            f'{c["synthesis_s_median"]:>8.2f} {c["synthesis_plus_write_s_median"]:>9.2f} '
            f'{c["synthesis_plus_write_cpu_s_median"]:>12.2f} '
            f'{c["disk_mb_median"]:>8.1f}'
        )
    out = REPO / 'bench-results' / 'phantoms.json'
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({'conditions': conditions, 'cases': cases}, indent=2) + '\n')


if __name__ == '__main__':
    main()
