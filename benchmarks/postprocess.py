"""Choose a model's post-processing (thresholds, smallest lesion) on its validation subjects.

Run as ``python benchmarks/postprocess.py MODEL_DIR FRAMES_DIR [--thresholds ...] [--sizes ...]
[--grow ...] [--tta] [--also FRAMES_DIR ...]``: ``FRAMES_DIR`` holds the training run's cached cord
frames (``<work>/frames/<unit>.npz``) and ``MODEL_DIR/split.tsv`` says which units were held out
for validation. ``--also`` adds every unit of other labelled frame folders (say, fresh phantoms
that no training or test set used): a random split by unit leaves the validation units' people in
training too, where a model is more confident than on people it never saw. ``--fresh-only`` scores
the ``--also`` units alone: to compare a fine-tune with the model it started from, whose weights
were kept for their score on the very same validation units (the parent wins there by its own
selection), give both fresh lesions neither was chosen on. Each validation unit is predicted once
with T2Sag alone and once with all its sequences, then post-processed with every threshold x grow
threshold (hysteresis: none, and each ``--grow`` value below the threshold) x minimum lesion size;
the table gives the validation score that picks the best weights during training (mean of Dice over
units with lesions and lesion-wise F1 pooled over all units,
:func:`bids_app.training.validation.summarise`) and the false-positive lesions on the lesion-free
units. Never run it on a test set: the model card's ``postprocess`` must come from validation data.
Writes ``bench-results/postprocess.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import torch

from bids_app.frame import CordFrame
from bids_app.model.card import load_model_dir
from bids_app.training.postprocess_choice import (
    best_setting,
    predict_rows,
    score_settings,
    settings,
)
from bids_app.training.subjects import to_training_subject

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'bench-results' / 'postprocess.json'


def validation_units(model_dir: Path) -> list[str]:
    with (model_dir / 'split.tsv').open() as handle:
        return [
            r['unit'] for r in csv.DictReader(handle, delimiter='\t') if r['subset'] != 'train'
        ]


def validation_frames(
    model_dir: Path, frames_dir: Path, also: list[Path], *, fresh_only: bool = False
) -> list[Path]:
    """The frame files to score: the run's validation units (unless ``fresh_only``), then every
    unit of ``also``."""
    if fresh_only and not also:
        raise SystemExit('--fresh-only scores the --also units alone: give --also FRAMES_DIR')
    files = [] if fresh_only else [frames_dir / f'{n}.npz' for n in validation_units(model_dir)]
    for folder in also:
        found = sorted(folder.glob('*.npz'))
        if not found:
            raise SystemExit(f'{folder} holds no cord frames (<unit>.npz): give a frames folder')
        files += found
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model_dir', type=Path)
    parser.add_argument('frames_dir', type=Path)
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.4, 0.5, 0.6, 0.7])
    parser.add_argument('--sizes', type=float, nargs='+', default=[1.0, 5.0, 10.0, 15.0, 20.0])
    parser.add_argument(
        '--grow', type=float, nargs='+', default=[],
        help='grow thresholds (hysteresis) to try besides none, each with the thresholds above it',
    )  # fmt: skip
    parser.add_argument(
        '--also', type=Path, nargs='+', default=[], metavar='FRAMES_DIR',
        help='score every unit of these labelled frames folders too (anatomy no training saw)',
    )  # fmt: skip
    parser.add_argument(
        '--fresh-only', action='store_true',
        help="score the --also units alone, not the run's validation units (comparing models)",
    )  # fmt: skip
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--tta', action='store_true', help='left-right mirroring test-time augmentation'
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_model_dir(args.model_dir)
    model = model.float().eval()
    config = model.config
    subjects = [
        to_training_subject(path.stem, CordFrame.load(path), config.slots, config.patch_size[:2])
        for path in validation_frames(
            args.model_dir, args.frames_dir, args.also, fresh_only=args.fresh_only
        )
    ]
    predictions = predict_rows(model, subjects, torch.device('cpu'), tta=args.tta)
    rows = score_settings(predictions, settings(args.thresholds, args.sizes, args.grow))
    mirror = ', mirroring TTA' if args.tta else ''
    scored = [] if args.fresh_only else [f'the validation units of {args.model_dir}']
    scored += [f'every unit of {", ".join(map(str, args.also))}'] if args.also else []
    print(
        f'post-processing of {args.model_dir} on {" and ".join(scored)} ({len(subjects)} '
        f'units, {args.threads} threads, CPU{mirror})'
    )
    print(
        f'{"row":<14}{"thr":>5}{"grow":>6}{"min mm3":>9}{"Dice":>7}{"F1":>7}{"score":>7}'
        f'{"FP free":>9}'
    )
    for r in rows:
        print(
            f'{r["row"]:<14}{r["threshold"]:>5}{r["grow_threshold"]:>6}{r["min_lesion_mm3"]:>9}'
            f'{r["dice"]:>7.3f}'
            f'{r["f1"]:>7.3f}{r["score"]:>7.3f}{r["lesion_free_fp"]:>9}'
        )
    best = best_setting(rows)
    print(
        f'best mean score of T2Sag alone and all available: {best["score"]:.3f} at threshold '
        f'{best["threshold"]:g}, grown to {best["grow_threshold"]:g}, lesions of at least '
        f'{best["min_lesion_mm3"]:g} mm^3'
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    about = {
        'model': str(args.model_dir), 'also': [str(a) for a in args.also],
        'fresh_only': args.fresh_only,
        'units': len(subjects), 'tta': args.tta, 'threads': args.threads,
    }  # fmt: skip
    RESULTS.write_text(json.dumps({**about, 'rows': rows, 'best': best}, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
