"""Vertebral levels on phantoms: disc positions and lesion levels against the known answers.

Run as ``python benchmarks/levels.py [--subjects 12] [--seed 600] [--full 2]``. Each phantom's
sagittal T2w (cervical ``--small`` ones, plus ``--full`` whole-spine ones whose upper slab is
used) goes through the built-in disc finder on its true centreline; the truth is where each
phantom disc's mid-plane meets the cord. Prints the disc-position error (median, 95th
percentile, mm), the share of images whose discs were named and named right, and the share of
reference lesions whose levels (``C3``, ``C3-C4``) match the levels the true discs give.
Writes ``bench-results/levels.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from bids_app.phantoms import make_subject
from bids_app.phantoms.subject import subject_seed
from bids_app.slots import Slot
from bids_app.vertebrae import Discs, detect_discs, levels_of

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'bench-results' / 'levels.json'


def lesion_extents(image) -> list[tuple[float, float]]:
    """World z range of each reference lesion of an image."""
    labels, n = ndimage.label(image.lesion_mask > 0)
    extents = []
    for k in range(1, n + 1):
        ijk = np.argwhere(labels == k)
        z = ijk @ image.affine[2, :3] + image.affine[2, 3]
        half = 0.5 * np.abs(image.affine[2, :3]).sum()
        extents.append((float(z.min() - half), float(z.max() + half)))
    return extents


def evaluate(image, subject) -> dict:
    xyz = image.centerline_samples()
    found = detect_discs(image.data, image.affine, xyz, np.ones(len(xyz), bool))
    truth = subject.disc_heights_world_mm(image.stem)
    errors, right = [], 0
    for zz, name in zip(found.z_mm, found.names, strict=False):
        errors.append(abs(zz - truth[name]) if name in truth else float('inf'))
        nearest = min(truth, key=lambda n: abs(truth[n] - zz))
        right += nearest == name
    ordered = sorted(truth.items(), key=lambda item: -item[1])
    reference = Discs(
        np.array([z for _, z in ordered]), tuple(n for n, _ in ordered), 'truth', found.top_mm
    )
    lesions = [
        (levels_of(low, high, reference), levels_of(low, high, found))
        for low, high in lesion_extents(image)
    ]
    return {
        'image': image.stem,
        'discs_found': len(found.z_mm),
        'named': found.named,
        'named_right': found.named and right == len(found.names),
        'errors_mm': [float(e) for e in errors],
        'lesions': [{'truth': t, 'found': f} for t, f in lesions if t is not None],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--subjects', type=int, default=12)
    parser.add_argument('--full', type=int, default=2)
    parser.add_argument('--seed', type=int, default=600)
    args = parser.parse_args(argv)
    rows = []
    for k in range(args.subjects + args.full):
        small = k < args.subjects
        subject = make_subject(subject_seed(args.seed, k), small=small, slots=[Slot.T2Sag])
        image = next(iter(subject.images.values()))  # the upper slab of a full phantom
        rows.append(evaluate(image, subject))
    errors = np.concatenate([r['errors_mm'] for r in rows if r['named']] or [np.zeros(0)])
    lesions = [lesion for r in rows for lesion in r['lesions']]
    right = sum(lesion['truth'] == lesion['found'] for lesion in lesions)
    summary = {
        'images': len(rows),
        'named_images': sum(r['named'] for r in rows),
        'named_right_images': sum(r['named_right'] for r in rows),
        'disc_error_median_mm': float(np.median(errors)) if len(errors) else None,
        'disc_error_p95_mm': float(np.percentile(errors, 95)) if len(errors) else None,
        'lesions': len(lesions),
        'lesion_levels_right': right,
    }
    print(f'vertebral levels on {len(rows)} phantom T2Sag images (seed {args.seed})')
    print(
        f'discs named on {summary["named_images"]} images, all right on '
        f'{summary["named_right_images"]}; disc position error median '
        f'{summary["disc_error_median_mm"]:.2f} mm, p95 {summary["disc_error_p95_mm"]:.2f} mm'
    )
    share = right / len(lesions) if lesions else float('nan')
    print(f'lesion levels right: {right} of {len(lesions)} ({100 * share:.1f} %)')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({'summary': summary, 'images': rows}, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
