"""bfloat16 against float32 inference: mask agreement (Dice) and seconds per subject.

Usage: ``python benchmarks/precision.py [--model DIR] [--n-subjects N] [--threads T]``.

Writes ``N`` small phantoms (seed 300, every sequence each subject has), pre-processes them with
their cord masks (``train --preprocess-only``), then predicts each cord frame with every slot it
has, in float32 and with bfloat16 autocast, post-processed as the participant level does (cord
mask, threshold 0.5, minimum size). Dice between the two masks is 1 when both are empty. bfloat16
runs only where the hardware has it (AVX512-BF16/AMX on a CPU, or CUDA); elsewhere the benchmark
says so and stops. Writes the figures to ``bench-results/precision.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bids_app.device import bfloat16_supported, resolve_device
from bids_app.frame import CordFrame
from bids_app.inference import LesionPredictor
from bids_app.metrics import dice
from bids_app.model.registry import DEFAULT_MODEL, resolve_model_dir
from bids_app.postprocess import PostprocessOptions, postprocess

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'bench-results' / 'precision.json'
BIN = Path(sys.executable).parent


def make_frames(folder: Path, n_subjects: int) -> list[Path]:
    """Phantoms pre-processed into cord frames with labels; returns the frame files."""
    bids = folder / 'bids'
    subprocess.run(
        [BIN / 'sclesion-phantoms', bids, '--n-subjects', str(n_subjects), '--seed', '300'],
        check=True,
        capture_output=True,
    )
    labels = bids / 'derivatives' / 'labels'
    command = [BIN / 'sclesion', bids, folder / 'model-unused', 'train', '--labels', labels]
    command += ['--cord-masks', labels, '--preprocess-only', '-w', folder / 'work']
    command += ['--skip-bids-validation', '--nprocs', '2']
    subprocess.run(command, check=True, capture_output=True)
    return sorted((folder / 'work' / 'frames').glob('*.npz'))


def predict_mask(predictor: LesionPredictor, frame: CordFrame) -> tuple[np.ndarray, float]:
    """The post-processed mask from every slot the model knows, and the seconds it took."""
    slots = [s for s in frame.slots if s in predictor.slots]
    started = time.perf_counter()
    probability = predictor.predict(
        {s: frame.crops[s] for s in slots}, {s: frame.coverage[s] for s in slots}
    )
    seconds = time.perf_counter() - started
    cord = None if frame.cord is None else frame.cord.astype(bool)
    return postprocess(probability, PostprocessOptions(), cord_mask=cord), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default=DEFAULT_MODEL)
    parser.add_argument('--n-subjects', type=int, default=8)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if not bfloat16_supported(device):
        print(f'bfloat16 is not supported natively on {device} ({platform.processor()}): skipped')
        return
    model_dir = resolve_model_dir(args.model)
    predictors = {
        p: LesionPredictor.from_model_dir(model_dir, device, precision=p, n_threads=args.threads)
        for p in ('float32', 'bfloat16')
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix='sclesion-precision-') as tmp:
        for path in make_frames(Path(tmp), args.n_subjects):
            frame = CordFrame.load(path)
            masks, seconds = {}, {}
            for name, predictor in predictors.items():
                predict_mask(predictor, frame)  # warm-up: first call pays one-off costs
                masks[name], seconds[name] = predict_mask(predictor, frame)
            agreement = dice(masks['float32'], masks['bfloat16'])
            rows.append(
                {
                    'unit': path.stem,
                    'slots': [str(s) for s in frame.slots],
                    'z_slices': int(frame.crops[frame.slots[0]].shape[2]),
                    'dice_bf16_vs_fp32': float(1.0 if np.isnan(agreement) else agreement),
                    'voxels_fp32': int(masks['float32'].sum()),
                    'voxels_bf16': int(masks['bfloat16'].sum()),
                    's_fp32': seconds['float32'],
                    's_bf16': seconds['bfloat16'],
                }
            )
    print(f'bfloat16 vs float32 on {device}, {args.threads} threads, torch {torch.__version__}, ')
    print(f'model {model_dir.name}, {len(rows)} phantoms (seed 300), every slot each has')
    print(f'{"unit":10} {"slots":>5} {"z":>5} {"Dice":>7} {"vox fp32":>9} {"vox bf16":>9} '
          f'{"s fp32":>7} {"s bf16":>7}')  # fmt: skip
    for r in rows:
        print(
            f'{r["unit"]:10} {len(r["slots"]):5d} {r["z_slices"]:5d} '
            f'{r["dice_bf16_vs_fp32"]:7.4f} {r["voxels_fp32"]:9d} {r["voxels_bf16"]:9d} '
            f'{r["s_fp32"]:7.2f} {r["s_bf16"]:7.2f}'
        )
    summary = {
        'min_dice': min(r['dice_bf16_vs_fp32'] for r in rows),
        'median_dice': statistics.median(r['dice_bf16_vs_fp32'] for r in rows),
        'median_s_fp32': statistics.median(r['s_fp32'] for r in rows),
        'median_s_bf16': statistics.median(r['s_bf16'] for r in rows),
    }
    summary['speedup'] = summary['median_s_fp32'] / summary['median_s_bf16']
    print(
        f'Dice bf16 vs fp32: median {summary["median_dice"]:.4f}, min {summary["min_dice"]:.4f}; '
        f'seconds per subject: fp32 {summary["median_s_fp32"]:.2f}, bf16 '
        f'{summary["median_s_bf16"]:.2f} (median), {summary["speedup"]:.2f}x'
    )
    conditions = {
        'device': str(device),
        'threads': args.threads,
        'cpu': platform.processor() or platform.machine(),
        'torch': torch.__version__,
        'model': model_dir.name,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({'conditions': conditions, 'summary': summary, 'rows': rows}, indent=2)
    )
    print(f'wrote {RESULTS.relative_to(REPO)}')


if __name__ == '__main__':
    main()
