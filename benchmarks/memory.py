"""Peak memory of the participant level against the voxel count of the sagittal T2w.

Run as ``python benchmarks/memory.py [--sizes 128 192 256] [--nprocs 1]``. For each size ``n``
a synthetic 1 mm isotropic T2w of ``n^3`` voxels (a straight cord in CSF in a body, int16, the
whole spine's worth of slices) is run through ``participant`` with default options (built-in
centreline, shipped model); peak memory is the largest sum of the resident memory of the
command's process tree, sampled every 50 ms (``benchmarks/participant.py``). A least-squares line
through (voxels, peak) gives the bytes per voxel (its slope) and the base (its intercept): the
figures ``bids_app.cli.memory`` estimates ``--mem`` needs with. Prints a table and writes
``bench-results/memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from participant import run_measured  # benchmarks/participant.py: process-tree peak RSS

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'bench-results' / 'memory.json'


def write_subject(root: Path, n: int) -> Path:
    """A one-subject dataset with an ``n^3`` voxel, 1 mm T2w."""
    affine = np.eye(4)
    affine[:3, 3] = -(n - 1) / 2
    x = np.arange(n) - (n - 1) / 2
    u, v = np.meshgrid(x, x, indexing='ij')
    plane = np.full(u.shape, 450, np.int16)
    plane[(u / 9.0) ** 2 + (v / 6.5) ** 2 <= 1] = 1000
    plane[(u / 5.0) ** 2 + (v / 3.5) ** 2 <= 1] = 350
    plane[(u / (0.4 * n)) ** 2 + (v / (0.35 * n)) ** 2 > 1] = 0
    noise = np.random.default_rng(0).normal(0, 20, (n, n, n))
    data = (plane[:, :, None] + noise).clip(0, None).astype(np.int16)
    folder = root / 'sub-big' / 'anat'
    folder.mkdir(parents=True)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 'memory benchmark', 'BIDSVersion': '1.10.0'})
    )
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units('mm')
    image.to_filename(folder / 'sub-big_T2w.nii.gz')
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[128, 192, 256])
    parser.add_argument('--nprocs', type=int, default=1)
    args = parser.parse_args(argv)
    env = {**os.environ, 'SCLESION_PROGRESS': 'off', 'NIPYPE_NO_ET': '1'}
    rows = []
    with tempfile.TemporaryDirectory(prefix='sclesion-memory-') as tmp:
        for n in args.sizes:
            bids = write_subject(Path(tmp) / f'bids{n}', n)
            command = [sys.executable, '-m', 'bids_app', str(bids), str(Path(tmp) / f'out{n}'),
                       'participant', '-w', str(Path(tmp) / f'w{n}'), '--nprocs',
                       str(args.nprocs), '--skip-bids-validation']  # fmt: skip
            seconds, peak_mb, code = run_measured(command, env)
            rows.append({'n': n, 'voxels': n**3, 'peak_mb': peak_mb, 'seconds': seconds,
                         'exit_code': code})  # fmt: skip
    voxels = np.array([r['voxels'] for r in rows], float)
    peaks = np.array([r['peak_mb'] for r in rows], float) * 2**20
    slope, intercept = np.polyfit(voxels, peaks, 1) if len(rows) > 1 else (np.nan, np.nan)
    conditions = {'nprocs': args.nprocs, 'device': 'cpu', 'image': '1 mm isotropic T2w, int16'}
    print(f'participant peak memory against voxels: {conditions}')
    print(f'{"voxels":>10} {"peak MB":>9} {"bytes/voxel":>12} {"wall s":>8}')
    for r in rows:
        per_voxel = r['peak_mb'] * 2**20 / r['voxels']
        print(f'{r["voxels"]:>10} {r["peak_mb"]:>9.0f} {per_voxel:>12.0f} {r["seconds"]:>8.1f}')
    print(f'line: {slope:.0f} bytes per voxel + {intercept / 2**30:.2f} GiB')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        'conditions': conditions,
        'cases': rows,
        'bytes_per_voxel': slope,
        'base_gib': intercept / 2**30,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
