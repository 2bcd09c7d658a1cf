"""Built-in centreline against manual cord masks, per image then overall.

Usage: ``python benchmarks/centreline.py [DATASET ...]``. Without an argument, runs on the shared
datasets ``../shared/data/sct-example`` and ``../shared/data/gm-challenge-t2s`` when present.
Every raw image with a cord mask in ``DATASET/derivatives/labels`` (same relative path, suffix
``_label-SC_seg``, ``_seg-manual``, ``_label-SC_softseg`` or ``_label-SC_mask-manual``) is run on
its own; contrast from the suffix (T1w/UNIT1: 'T1', else 'T2'). Distance: in-plane (x, y)
distance between the detected centreline and the mask centroid at each mask slice's z. Prints a
table and writes ``bench-results/centreline.json``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from bids_app.centerline import centerline_from_mask, detect_centerline, resample_centerline

MASK_SUFFIXES = ('_label-SC_seg', '_seg-manual', '_label-SC_softseg', '_label-SC_mask-manual')
ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger('benchmarks.centreline')


def find_pairs(dataset: Path) -> list[tuple[Path, Path]]:
    """(image, mask) for every raw image with a cord mask in ``derivatives/labels``."""
    pairs = []
    for image in sorted(dataset.glob('sub-*/**/*.nii*')):
        stem = image.name.split('.nii')[0]
        rel = image.parent.relative_to(dataset)
        for suffix in MASK_SUFFIXES:
            masks = sorted((dataset / 'derivatives' / 'labels' / rel).glob(f'{stem}{suffix}.nii*'))
            if masks:
                pairs.append((image, masks[0]))
                break
    return pairs


def evaluate(image_path: Path, mask_path: Path) -> dict[str, float | str]:
    """Distances (mm) between the built-in centreline and the mask centroids of one image."""
    image = nib.load(image_path)
    suffix = image_path.name.split('.nii')[0].rsplit('_', 1)[-1]
    contrast = 'T1' if suffix in ('T1w', 'UNIT1') else 'T2'
    data = np.asarray(image.dataobj, dtype=np.float32)
    start = time.perf_counter()
    detected = detect_centerline(data, image.affine, contrast)
    seconds = time.perf_counter() - start
    mask = nib.load(mask_path)
    truth = centerline_from_mask(np.asarray(mask.dataobj, dtype=np.float32), mask.affine)
    fit = resample_centerline(detected, truth.z_mm)
    distance = np.linalg.norm(fit[:, :2] - truth.xyz_mm[:, :2], axis=1)
    return {
        'image': image_path.name,
        'contrast': contrast,
        'slices': len(distance),
        'median_mm': float(np.median(distance)),
        'p95_mm': float(np.percentile(distance, 95)),
        'max_mm': float(distance.max()),
        'seconds': seconds,
        'distances': distance.tolist(),
    }


def main(argv: list[str]) -> int:
    """Run on the datasets in ``argv`` (or the shared ones), print, write JSON."""
    logging.basicConfig(level=logging.WARNING)
    datasets = [Path(a) for a in argv] or [
        p
        for p in (ROOT / '..' / 'shared' / 'data' / n for n in ('sct-example', 'gm-challenge-t2s'))
        if p.is_dir()
    ]
    rows = [evaluate(i, m) for d in datasets for i, m in find_pairs(d)]
    threads = os.environ.get('OMP_NUM_THREADS', 'unset')
    print(
        f'built-in centreline vs mask centroid; CPU {platform.processor() or platform.machine()},'
        f' OMP_NUM_THREADS={threads}, numpy/scipy only'
    )
    print(
        f'{"image":45s} {"contrast":>8s} {"slices":>6s} {"median mm":>9s} {"p95 mm":>7s} '
        f'{"max mm":>7s} {"s/image":>7s}'
    )
    for r in rows:
        print(
            f'{r["image"]:45s} {r["contrast"]:>8s} {r["slices"]:6d} {r["median_mm"]:9.2f} '
            f'{r["p95_mm"]:7.2f} {r["max_mm"]:7.2f} {r["seconds"]:7.2f}'
        )
    everything = np.concatenate([r['distances'] for r in rows]) if rows else np.zeros(0)
    overall = {
        'images': len(rows),
        'passing_images': sum(r['median_mm'] <= 1.5 and r['p95_mm'] <= 3.0 for r in rows),
        'median_mm': float(np.median(everything)) if rows else float('nan'),
        'p95_mm': float(np.percentile(everything, 95)) if rows else float('nan'),
        'mean_seconds': float(np.mean([r['seconds'] for r in rows])) if rows else float('nan'),
    }
    print(
        f'overall: {overall["images"]} images, {overall["passing_images"]} with median <= 1.5 mm'
        f' and p95 <= 3 mm; all slices median {overall["median_mm"]:.2f} mm, '
        f'p95 {overall["p95_mm"]:.2f} mm; {overall["mean_seconds"]:.2f} s/image'
    )
    out = ROOT / 'bench-results'
    out.mkdir(exist_ok=True)
    payload = {
        'datasets': [str(d) for d in datasets],
        'threads': threads,
        'images': [{k: v for k, v in r.items() if k != 'distances'} for r in rows],
        'overall': overall,
    }
    (out / 'centreline.json').write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
