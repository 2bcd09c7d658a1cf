"""Built-in centreline against manual cord masks, per image then overall.

Usage: ``python benchmarks/centreline.py [DATASET ...]``. Without an argument, runs on the shared
datasets ``../shared/data/sct-example``, ``gm-challenge-t2s`` and ``axial-extra`` when present.
Every raw image with a cord mask in ``DATASET/derivatives/labels`` (same relative path, suffix
``_label-SC_seg``, ``_seg-manual``, ``_label-SC_softseg`` or ``_label-SC_mask-manual``) is run
twice; contrast from the suffix (T1w/UNIT1: 'T1', else 'T2'):

- alone, as for a sagittal T2w;
- with a prior, as the app runs every other sequence: the built-in centreline of the subject's
  own T2w (sagittal or 3D, no ``acq-ax``) where it has one; otherwise the mask's centreline
  shifted by :data:`PRIOR_SHIFT_MM` in the axial plane, standing in for a sagittal T2w whose cord
  is that far off (real series are a few mm apart).

Distance: in-plane (x, y) distance between the detected centreline and the mask centroid at each
mask slice's z. Target (issue 19): median <= 1 mm and p95 <= 2 mm on every image, with the
prior. Prints a table and writes ``bench-results/centreline.json``.
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
from bids_app.centerline.base import Centerline

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


#: In-plane shift (mm, along x and y together) of the stand-in prior where there is no T2w.
PRIOR_SHIFT_MM = 5.0


def _contrast(image_path: Path) -> str:
    suffix = image_path.name.split('.nii')[0].rsplit('_', 1)[-1]
    return 'T1' if suffix in ('T1w', 'UNIT1') else 'T2'


def is_t2sag(image_path: Path) -> bool:
    """A sagittal or 3D T2w: ``_T2w`` without ``acq-ax``."""
    name = image_path.name.lower()
    return name.split('.nii')[0].endswith('_t2w') and 'acq-ax' not in name


def subject_prior(image_path: Path) -> Centerline | None:
    """The built-in centreline of a T2w beside the image (same folder), if there is one."""
    for other in sorted(image_path.parent.glob('*.nii*')):
        if other != image_path and is_t2sag(other):
            image = nib.load(other)
            return detect_centerline(np.asarray(image.dataobj, np.float32), image.affine, 'T2')
    return None


def evaluate(image_path: Path, mask_path: Path) -> dict[str, float | str]:
    """Distances (mm) to the mask centroids of one image, alone and with a prior."""
    image = nib.load(image_path)
    contrast = _contrast(image_path)
    data = np.asarray(image.dataobj, dtype=np.float32)
    mask = nib.load(mask_path)
    truth = centerline_from_mask(np.asarray(mask.dataobj, dtype=np.float32), mask.affine)
    start = time.perf_counter()
    alone = detect_centerline(data, image.affine, contrast)
    seconds = time.perf_counter() - start
    prior, prior_kind = None, 'none (a T2w)'
    if not is_t2sag(image_path):
        prior, prior_kind = subject_prior(image_path), 'T2w built-in'
        if prior is None:
            shift = np.array([1.0, 1.0, 0.0]) * PRIOR_SHIFT_MM / np.sqrt(2)
            prior = Centerline(truth.xyz_mm + shift, truth.confidence, truth.z_extent_mm)
            prior_kind = f'mask + {PRIOR_SHIFT_MM:g} mm'
    guided = (
        alone if prior is None else detect_centerline(data, image.affine, contrast, prior=prior)
    )
    out: dict = {'image': image_path.name, 'contrast': contrast, 'prior_source': prior_kind}
    for name, detected in (('alone', alone), ('prior', guided)):
        fit = resample_centerline(detected, truth.z_mm)
        distance = np.linalg.norm(fit[:, :2] - truth.xyz_mm[:, :2], axis=1)
        out[name] = {
            'median_mm': float(np.median(distance)),
            'p95_mm': float(np.percentile(distance, 95)),
            'max_mm': float(distance.max()),
            'distances': distance.tolist(),
        }
    out.update(slices=len(truth.z_mm), seconds=seconds)
    return out


def _without_distances(row: dict) -> dict:
    return {
        k: {kk: vv for kk, vv in v.items() if kk != 'distances'} if isinstance(v, dict) else v
        for k, v in row.items()
    }


def main(argv: list[str]) -> int:
    """Run on the datasets in ``argv`` (or the shared ones), print, write JSON."""
    logging.basicConfig(level=logging.WARNING)
    shared = ROOT / '..' / 'shared' / 'data'
    datasets = [Path(a) for a in argv] or [
        p for p in (shared / n for n in ('sct-example', 'gm-challenge-t2s', 'axial-extra'))
        if p.is_dir()
    ]  # fmt: skip
    rows = [evaluate(i, m) for d in datasets for i, m in find_pairs(d)]
    threads = os.environ.get('OMP_NUM_THREADS', 'unset')
    print(
        f'built-in centreline vs mask centroid; CPU {platform.processor() or platform.machine()},'
        f' OMP_NUM_THREADS={threads}, numpy/scipy only; distances in mm'
    )
    print(
        f'{"image":40s} {"contrast":>8s} {"slices":>6s} {"alone med":>9s} {"p95":>6s} '
        f'{"prior":>16s} {"med":>6s} {"p95":>6s} {"s/image":>7s}'
    )
    for r in rows:
        a, g = r['alone'], r['prior']
        print(
            f'{r["image"]:40s} {r["contrast"]:>8s} {r["slices"]:6d} {a["median_mm"]:9.2f} '
            f'{a["p95_mm"]:6.2f} {r["prior_source"]:>16s} {g["median_mm"]:6.2f} '
            f'{g["p95_mm"]:6.2f} {r["seconds"]:7.2f}'
        )
    overall = {'images': len(rows)}
    for name in ('alone', 'prior'):
        every = np.concatenate([r[name]['distances'] for r in rows]) if rows else np.zeros(1)
        overall[name] = {
            'passing_images': sum(
                r[name]['median_mm'] <= 1.0 and r[name]['p95_mm'] <= 2.0 for r in rows
            ),
            'median_mm': float(np.median(every)),
            'p95_mm': float(np.percentile(every, 95)),
        }
    overall['mean_seconds'] = float(np.mean([r['seconds'] for r in rows])) if rows else 0.0
    for name in ('alone', 'prior'):
        o = overall[name]
        print(
            f'overall {name}: {o["passing_images"]} of {len(rows)} images with median <= 1 mm '
            f'and p95 <= 2 mm; all slices median {o["median_mm"]:.2f} mm, p95 {o["p95_mm"]:.2f} mm'
        )
    out = ROOT / 'bench-results'
    out.mkdir(exist_ok=True)
    payload = {
        'datasets': [str(d) for d in datasets],
        'threads': threads,
        'prior_shift_mm': PRIOR_SHIFT_MM,
        'images': [_without_distances(r) for r in rows],
        'overall': overall,
    }
    (out / 'centreline.json').write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
