"""Time the cord frame: six crops of Z = 940 slices, the way back, and a two-slab fusion.

Run as ``python benchmarks/cordframe.py``; prints a table and writes
``bench-results/cordframe.json``. Images are synthetic with clinical grid sizes; timings are the
median of ``REPEATS`` runs, single process, on the CPU.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from bids_app.frame_geometry import crop_to_native, sample_crop
from bids_app.fusion import fuse_chunks

logger = logging.getLogger('benchmarks.cordframe')

REPEATS = 3
Z = 940  # reference slices: 470 mm at 0.5 mm
RESULTS = Path(__file__).resolve().parents[1] / 'bench-results' / 'cordframe.json'


def _affine(axes: str, zooms: tuple[float, float, float], shape: tuple[int, ...]) -> np.ndarray:
    """Affine with voxel axes along ``axes`` (subset of 'RAS'/'PSR' letters), centred on 0."""
    codes = {'R': (0, 1), 'L': (0, -1), 'A': (1, 1), 'P': (1, -1), 'S': (2, 1), 'I': (2, -1)}
    affine = np.eye(4)
    affine[:3, :3] = 0
    for a, code in enumerate(axes):
        world, sign = codes[code]
        affine[world, a] = sign * zooms[a]
    affine[:3, 3] = -affine[:3, :3] @ ((np.array(shape) - 1) / 2)
    return affine


# slot: (axes, voxel mm, shape): typical clinical grids
GRIDS = {
    'T2Sag': ('PSR', (0.5, 0.5, 3.0), (640, 640, 15)),
    'STIR': ('PSR', (0.6, 0.6, 3.0), (512, 512, 15)),
    'T2starAx': ('LAS', (0.5, 0.5, 5.0), (448, 448, 30)),
    'T2Ax': ('LAS', (0.6, 0.6, 4.0), (512, 512, 40)),
    'T1w': ('RAS', (1.0, 1.0, 1.0), (192, 256, 256)),
    'MP2RAGE': ('RAS', (1.0, 1.0, 1.0), (176, 240, 256)),
}


def _median_seconds(func) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict:
    rng = np.random.default_rng(0)
    z_mm = -235.0 + 0.5 * np.arange(Z)
    centerline = np.stack([3.0 * np.sin(z_mm / 40.0), -5.0 + 8.0 * np.cos(z_mm / 90.0)], axis=1)
    rows = []
    crops = {}
    for slot, (axes, zooms, shape) in GRIDS.items():
        image = rng.random(shape, dtype=np.float32)
        affine = _affine(axes, zooms, shape)
        seconds = _median_seconds(lambda i=image, a=affine: sample_crop(i, a, centerline, z_mm))
        crops[slot] = sample_crop(image, affine, centerline, z_mm)[0]
        rows.append(
            {'step': f'sample_crop {slot}', 'grid': 'x'.join(map(str, shape)), 's': seconds}
        )
    rows.append({'step': 'sample_crop, six slots', 'grid': '', 's': sum(r['s'] for r in rows)})
    axes, zooms, shape = 'PSR', (0.5, 0.5, 3.0), (640, 640, 15)
    t2sag = _affine(axes, zooms, shape)
    seconds = _median_seconds(
        lambda: crop_to_native(crops['T2Sag'], centerline, z_mm, shape, t2sag)
    )
    rows.append({'step': 'crop_to_native T2Sag', 'grid': '640x640x15', 's': seconds})
    slab_shape = (384, 384, 15)
    upper = _affine('PSR', (0.8, 0.8, 3.0), slab_shape)
    lower = upper.copy()
    lower[2, 3] -= 312 * 0.8  # 307 mm slabs, 57.6 mm overlap
    # one smooth random "anatomy" cut into two slabs; the lower one moved 3 voxels (2.4 mm) P-A
    anatomy = ndimage.gaussian_filter(rng.random((384, 696, 15), dtype=np.float32), (4, 4, 1))
    slabs = [(anatomy[:, 312:], upper), (np.roll(anatomy[:, :384], 3, axis=0), lower)]
    seconds = _median_seconds(lambda: fuse_chunks(slabs, register=False))
    rows.append({'step': 'fuse_chunks, no registration', 'grid': '2 x 384x384x15', 's': seconds})
    seconds = _median_seconds(lambda: fuse_chunks(slabs, register=True))
    shift = fuse_chunks(slabs, register=True).world_to_chunk[1][:3, 3]
    rows.append(
        {'step': 'fuse_chunks, rigid registration', 'grid': '2 x 384x384x15', 's': seconds}
    )
    conditions = {
        'Z': Z,
        'crop': '48x48',
        'order': 1,
        'repeats': REPEATS,
        'statistic': 'median wall time',
        'device': 'cpu',
        'cpu_count': os.cpu_count(),
        'itk_threads': sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
        'machine': platform.processor() or platform.machine(),
        'python': platform.python_version(),
        'registration_translation_mm': [round(float(v), 3) for v in shift],
        'registration_expected_translation_mm': [0.0, -2.4, 0.0],
    }
    return {'conditions': conditions, 'rows': rows}


if __name__ == '__main__':
    results = main()
    print(', '.join(f'{k}={v}' for k, v in results['conditions'].items()))
    print(f'{"step":<34} {"grid":<16} {"seconds":>8}')
    for row in results['rows']:
        print(f'{row["step"]:<34} {row["grid"]:<16} {row["s"]:>8.3f}')
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + '\n')
