"""Training speed: iterations and samples per second of the real training loop.

Usage: ``python benchmarks/training.py [--device cpu|cuda] [--threads N] [--iterations N]
[--warmup N] [--patch-z Z] [--batch-size B] [--bf16|--no-bf16] [--num-workers W] [--presets cpu
paper]``. bfloat16 autocast is on by default where the device runs it natively (CUDA with bf16, a
CPU with AVX512-BF16 or AMX), as the issue's speed check asks.

For each width preset and for 1 sequence (the T2Sag baseline) and 6 sequences (mean imputation,
every subject with all six), :func:`bids_app.training.train` runs on eight synthetic cord frames
(48 x 48 x 400, a bright cord and a lesion ball, noise) with the standard augmentation, no
validation subjects, and the loss logged every iteration. Seconds per iteration are read from the
training log (``elapsed_s``) after ``--warmup`` iterations, so they include data loading,
augmentation, forward, backward and the optimiser step, as a real run does; the log's ``data_s``
and ``network_s`` split each iteration into loading + augmentation and the network's passes +
optimiser step (``loading_fraction`` = data / (data + network)). FLOPs per iteration are counted
by ``torch.utils.flop_counter`` over a forward and backward pass (convolutions only,
2 x multiply-accumulates); TFLOP/s = FLOPs x iterations/s, and ``percent_of_fp32_peak`` = FLOPs
per second of network time over the CPU's fp32 peak (``benchmarks/model.py``; bfloat16 counted
as fp32-equivalent FLOP/s). On CUDA the peak memory allocated is reported too. Other processes
share this machine's cores, so expect noise. ``--augmentation synth`` (the default) is what the
shipped model trains with.

Writes the same figures to ``bench-results/training[-cuda][-z<Z>].json`` (the suffixes when not on
the CPU, and when the patch is not the paper's 320 slices).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bids_app.device import bfloat16_supported
from bids_app.frame import CordFrame
from bids_app.model.losses import training_loss
from bids_app.model.network import MultiSequenceUNet
from bids_app.slots import SLOTS
from bids_app.training.curves import LOG_NAME, read_log
from bids_app.training.options import TrainConfig
from bids_app.training.trainer import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import cpu_peak  # benchmarks/model.py: the CPU fp32 peak

ROOT = Path(__file__).resolve().parents[1]
CROP = 48


def synthetic_frames(n_slots: int, n_units: int = 8, length: int = 400) -> dict[str, CordFrame]:
    """Cord frames with the first ``n_slots`` slots: cord disc, one lesion ball, noise."""
    rng = np.random.default_rng(0)
    x, y, z = np.meshgrid(*(np.arange(n) for n in (CROP, CROP, length)), indexing='ij')
    disc = (x - 23.5) ** 2 + (y - 23.5) ** 2
    frames = {}
    for unit in range(n_units):
        lesion = (disc + (z - rng.integers(20, length - 20)) ** 2 < 20).astype(np.uint8)
        frame = CordFrame(z_mm=np.arange(length) * 0.5, labels=lesion)
        for slot in SLOTS[:n_slots]:
            image = 1 + (disc < 36) + 2 * lesion + rng.normal(0, 0.2, disc.shape)
            frame.crops[slot] = image.astype(np.float32)
            frame.coverage[slot] = np.ones(disc.shape, bool)
            frame.centerlines[slot] = np.zeros((length, 3))
        frames[f'sub-{unit:02d}'] = frame
    return frames


def flops_per_iteration(config: TrainConfig, n_slots: int) -> float:
    """Forward + backward FLOPs of one batch (convolutions), counted by torch.

    Counted on one sample of 16 slices and scaled by ``batch x patch_z / 16``: every layer's
    output has a z extent proportional to the patch's, so convolution FLOPs are exactly linear in
    both.
    """
    model_config = config.model_config(SLOTS[:n_slots] if n_slots > 1 else None)
    model = MultiSequenceUNet(model_config).train()
    step = model_config.total_stride[2]
    images = torch.randn((1, n_slots, step, CROP, CROP))
    labels = torch.zeros((1, step, CROP, CROP), dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        loss, _ = training_loss(model(images), labels, model_config)
        loss.backward()
    return float(counter.get_total_flops()) * config.batch_size * config.patch_size[2] / step


def measure(
    preset: str, n_slots: int, args: argparse.Namespace, folder: Path, peak_gflops: float | None
) -> dict:
    config = TrainConfig(
        variant='mean-imputation' if n_slots > 1 else 'baseline',
        widths=preset,
        patch_size=(CROP, CROP, args.patch_z),
        batch_size=args.batch_size,
        iterations=args.warmup + args.iterations,
        val_interval=args.warmup + args.iterations,
        log_interval=1,
        val_fraction=0,
        num_workers=args.num_workers,
        device=args.device,
        bf16=args.bf16,
        augmentation=args.augmentation,
    )
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    run_dir = folder / f'{preset}-{n_slots}'
    train(synthetic_frames(n_slots), config, run_dir)
    rows = read_log(run_dir / LOG_NAME)
    seconds = rows[-1]['elapsed_s'] - rows[args.warmup - 1]['elapsed_s']
    per_second = args.iterations / seconds
    flops = flops_per_iteration(config, n_slots)
    timed = rows[args.warmup :]
    data_s = sum(r['data_s'] for r in timed) / len(timed)
    network_s = sum(r['network_s'] for r in timed) / len(timed)
    return {
        'preset': preset,
        'sequences': n_slots,
        'loading_fraction': data_s / (data_s + network_s),
        'data_seconds_per_iteration': data_s,
        'network_seconds_per_iteration': network_s,
        'percent_of_fp32_peak': (
            100 * flops / network_s / (peak_gflops * 1e9) if peak_gflops else None
        ),
        'patch': list(config.patch_size),
        'batch': config.batch_size,
        'iterations_timed': args.iterations,
        'seconds_per_iteration': seconds / args.iterations,
        'iterations_per_s': per_second,
        'samples_per_s': per_second * config.batch_size,
        'gflop_per_iteration': flops / 1e9,
        'achieved_tflop_s': flops * per_second / 1e12,
        'peak_memory_gib': (
            torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--patch-z', type=int, default=320)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument(
        '--bf16', action=argparse.BooleanOptionalAction,
        help='bfloat16 autocast (default: where the device runs it natively)',
    )  # fmt: skip
    parser.add_argument('--num-workers', type=int, default=1)
    parser.add_argument('--presets', nargs='+', default=['cpu', 'paper'])
    parser.add_argument('--augmentation', choices=['standard', 'synth'], default='synth')
    parser.add_argument('--sequences', type=int, nargs='+', default=[1, 6])
    args = parser.parse_args()
    if args.bf16 is None:
        args.bf16 = bfloat16_supported(torch.device(args.device))
    peak = cpu_peak(args.threads, None) if args.device == 'cpu' else None
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings('ignore', message='Converting a tensor with requires_grad')
    device_name = (
        torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor()
    )
    conditions = {
        'device': args.device,
        'device_name': device_name or platform.machine(),
        'threads': args.threads,
        'num_workers': args.num_workers,
        'bf16': args.bf16,
        'augmentation': args.augmentation,
        'torch': torch.__version__,
        'fp32_peak_gflops': peak['peak_gflops'] if peak else None,
    }
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for preset in args.presets:
            for n_slots in args.sequences:
                rows.append(
                    measure(
                        preset, n_slots, args, Path(folder), peak['peak_gflops'] if peak else None
                    )
                )
    print(
        f'training speed on {conditions["device"]} ({conditions["device_name"]}), '
        f'{args.threads} threads, {args.num_workers} loader workers, bf16 {args.bf16}, '
        f'torch {torch.__version__}; {args.iterations} timed iterations after '
        f'{args.warmup} warm-up'
    )
    header = (
        f'{"preset":<7}{"seq":>4}{"patch":>14}{"batch":>6}{"s/iter":>9}{"iter/s":>9}'
        f'{"samples/s":>11}{"GFLOP/iter":>12}{"TFLOP/s":>9}{"loading":>9}{"% peak":>8}'
        f'{"mem GiB":>9}'
    )
    print(header)
    for r in rows:
        memory = '-' if r['peak_memory_gib'] is None else f'{r["peak_memory_gib"]:.1f}'
        print(
            f'{r["preset"]:<7}{r["sequences"]:>4}{"x".join(map(str, r["patch"])):>14}'
            f'{r["batch"]:>6}{r["seconds_per_iteration"]:>9.2f}{r["iterations_per_s"]:>9.3f}'
            f'{r["samples_per_s"]:>11.3f}{r["gflop_per_iteration"]:>12.1f}'
            f'{r["achieved_tflop_s"]:>9.3f}{r["loading_fraction"]:>9.2f}'
            f'{r["percent_of_fp32_peak"] or float("nan"):>8.1f}{memory:>9}'
        )
    out = ROOT / 'bench-results'
    out.mkdir(exist_ok=True)
    device = '' if args.device == 'cpu' else f'-{args.device.split(":")[0]}'
    patch = '' if args.patch_z == 320 else f'-z{args.patch_z}'
    name = f'training{device}{patch}.json'
    (out / name).write_text(json.dumps({'conditions': conditions, 'results': rows}, indent=2))


if __name__ == '__main__':
    main()
