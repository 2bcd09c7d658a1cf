"""Network cost and speed per patch: parameters, GFLOP, seconds, GFLOP/s and % of the CPU's peak.

Usage: ``python benchmarks/model.py [--threads N] [--repeats R] [--clock-ghz GHZ] [--no-layouts]``.

For each width preset (``paper``, ``cpu``) and for 1 (T2Sag) and 6 sequences, one patch
(48 x 48 x 320) goes through the network as inference runs it (``FoldedUNet``: absent encoders
skipped, imputed fusion weights folded), batch 1, ``torch.inference_mode``, with the weights in
channels-last order as inference puts them on the CPU and, for comparison, in the plain order.
FLOPs are counted by ``torch.utils.flop_counter`` (2 x multiply-accumulates of convolutions;
norms and activations not counted). Seconds are the median of ``--repeats`` runs after one
warm-up; other processes share the cores, so quote medians and expect noise. bfloat16 autocast
is timed only where the CPU runs it natively (AVX512-BF16 or AMX), else reported as unsupported.

The fp32 peak is the hardware's: cores x clock x FLOP per cycle, with clock and ISA flags read
from ``/proc/cpuinfo`` (or ``--clock-ghz``) and 32 FP32 FLOP per cycle for two 256-bit FMA units
(AVX2+FMA, and AMD Zen 4 whose AVX-512 runs on those units), 64 for Intel AVX-512 with two 512-bit
units. A layout section then profiles the paper preset's T2Sag encoder with ``torch.profiler`` in
the three candidate tensor layouts and reports the share of time in the slow generic kernel.

Writes the same figures to ``bench-results/model.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from bids_app.device import bfloat16_supported
from bids_app.model.blocks import Encoder
from bids_app.model.config import PAPER_STRIDES, WIDTH_PRESETS, variant_config
from bids_app.model.network import FoldedUNet, MultiSequenceUNet
from bids_app.slots import SLOTS

ROOT = Path(__file__).resolve().parents[1]
PATCH = (48, 48, 320)  # (x, y, z)
#: Weight memory formats timed: channels-last is what inference uses on the CPU
#: (``bids_app.device.inference_layout``), plain is PyTorch's default.
MEMORY_FORMATS = {'channels-last': torch.channels_last_3d, 'plain': torch.contiguous_format}


#: Printed when the default allocator is in use.
GLIBC_NOTE = (
    ' (the containers preload tcmalloc, 1.2-1.4x faster here: '
    'LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4, Debian libtcmalloc-minimal4)'
)


def malloc_in_use() -> str:
    """``tcmalloc``, ``jemalloc`` or ``glibc``: which allocator this process has mapped."""
    maps = Path('/proc/self/maps')
    text = maps.read_text() if maps.exists() else ''
    return next((name for name in ('tcmalloc', 'jemalloc') if f'lib{name}' in text), 'glibc')


def cpu_peak(threads: int, clock_ghz: float | None) -> dict:
    """FP32 peak of ``threads`` cores from /proc/cpuinfo: cores x GHz x FLOP/cycle."""
    info = Path('/proc/cpuinfo').read_text() if Path('/proc/cpuinfo').exists() else ''
    model = re.search(r'model name\s*:\s*(.*)', info)
    mhz = re.search(r'cpu MHz\s*:\s*([\d.]+)', info)
    flags = set((re.search(r'flags\s*:\s*(.*)', info) or ['', ''])[1].split())
    vendor_amd = 'AuthenticAMD' in info
    if 'avx512f' in flags and not vendor_amd:
        per_cycle, isa = 64, 'AVX-512, two 512-bit FMA units x 16 lanes x 2'
    elif 'fma' in flags:
        per_cycle, isa = 32, 'two 256-bit FMA units x 8 fp32 lanes x 2 (FMA)'
    else:
        per_cycle, isa = 16, 'SSE/AVX without FMA (assumed 16)'
    ghz = clock_ghz or (float(mhz[1]) / 1000 if mhz else float('nan'))
    clock_source = '--clock-ghz' if clock_ghz else '/proc/cpuinfo "cpu MHz"'
    return {
        'cpu': model[1].strip() if model else platform.processor(),
        'cores': threads,
        'clock_ghz': round(ghz, 3),
        'clock_source': clock_source,
        'flop_per_cycle': per_cycle,
        'isa': isa,
        'native_bf16': bool({'avx512_bf16', 'amx_bf16'} & flags),
        'peak_gflops': round(threads * ghz * per_cycle, 1),
    }


def time_call(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(preset: str, n_seq: int, repeats: int, peak: float) -> list[dict]:
    """One row per precision and memory format: channels-last (as inference runs) and plain."""
    config = variant_config('mean-imputation', widths=preset, patch_size=PATCH)
    model = MultiSequenceUNet(config).eval()
    net = FoldedUNet(model, SLOTS[:n_seq])
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(1, n_seq, PATCH[2], PATCH[0], PATCH[1])
    # Counted on PyTorch's own convolution op: our oneDNN shortcut is invisible to the counter.
    with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=False):
        with FlopCounterMode(display=False) as counter:
            net(x)
    gflop = counter.get_total_flops() / 1e9
    rows = []
    for precision in ('fp32', 'bf16'):
        for memory_format in MEMORY_FORMATS:
            row = {
                'preset': preset,
                'sequences': n_seq,
                'precision': precision,
                'memory_format': memory_format,
                'params_M': round(params / 1e6, 2),
                'weights_fp16_MB': round(params * 2 / 1e6, 1),
                'gflop_per_patch': round(gflop, 1),
            }
            if precision == 'bf16' and not bfloat16_supported(torch.device('cpu')):
                rows.append({**row, 'seconds': None, 'note': 'no native bf16 on this CPU'})
                continue
            net.to(memory_format=MEMORY_FORMATS[memory_format])
            autocast = (
                torch.autocast('cpu', dtype=torch.bfloat16)
                if precision == 'bf16'
                else nullcontext()
            )

            def run(autocast=autocast) -> None:
                with torch.inference_mode(), autocast:
                    net(x)

            seconds = time_call(run, repeats)
            rate = gflop / seconds
            rows.append(
                {
                    **row,
                    'seconds': round(seconds, 3),
                    'gflops': round(rate, 1),
                    'pct_fp32_peak': round(100 * rate / peak, 1),
                }
            )
    return rows


def layout_profile(repeats: int) -> list[dict]:
    """Paper-preset T2Sag encoder at batch 1 in each candidate layout, with torch.profiler."""
    widths = WIDTH_PRESETS['paper']
    zxy = [(s[2], s[0], s[1]) for s in PAPER_STRIDES]
    cases = {
        'z-first (B,1,z,x,y), contiguous [chosen]': (zxy, (1, 1, 320, 48, 48), False),
        'z-last (B,1,x,y,z), contiguous': (PAPER_STRIDES, (1, 1, 48, 48, 320), False),
        'z-first, channels_last_3d': (zxy, (1, 1, 320, 48, 48), True),
        'z-last, channels_last_3d': (PAPER_STRIDES, (1, 1, 48, 48, 320), True),
    }
    rows = []
    for name, (strides, shape, channels_last) in cases.items():
        encoder = Encoder(widths, strides).eval()
        x = torch.randn(shape)
        if channels_last:
            encoder = encoder.to(memory_format=torch.channels_last_3d)
            x = x.to(memory_format=torch.channels_last_3d)
        with torch.inference_mode():
            seconds = time_call(lambda encoder=encoder, x=x: encoder(x), repeats)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                encoder(x)
        events = {e.key: e for e in prof.key_averages()}
        total = sum(e.self_cpu_time_total for e in events.values())
        slow = events.get('aten::slow_conv3d_forward')
        rows.append(
            {
                'layout': name,
                'seconds': round(seconds, 3),
                'slow_conv3d_calls': slow.count if slow else 0,
                'slow_conv3d_pct_time': round(100 * slow.self_cpu_time_total / total, 1)
                if slow
                else 0.0,
            }
        )
    return rows


def summarise_goals(rows: list[dict]) -> dict:
    """Issue 5's goals on the channels-last rows: % of peak, and the CPU preset's speed-up."""
    timed = {
        (r['preset'], r['sequences'], r['precision']): r
        for r in rows
        if r['memory_format'] == 'channels-last' and r['seconds'] is not None
    }
    lines, figures = ['', 'goals (channels-last, as inference runs):'], {}
    for n_seq in (1, 6):
        for precision in ('fp32', 'bf16'):
            paper, cpu = (
                timed.get(('paper', n_seq, precision)),
                timed.get(('cpu', n_seq, precision)),
            )
            if paper is None or cpu is None:
                continue
            speedup = paper['seconds'] / cpu['seconds']
            key = f'{n_seq}seq_{precision}'
            figures[key] = {'paper_pct_fp32_peak': paper['pct_fp32_peak'], 'cpu_speedup': speedup}
            lines.append(
                f'  {n_seq} seq {precision}: paper preset {paper["pct_fp32_peak"]:5.1f} % of the '
                f'fp32 peak (goal {">= 60" if precision == "fp32" else ">= 100"} %), CPU preset '
                f'{speedup:4.2f}x faster than paper (goal >= 3x)'
            )
    return {'lines': lines, 'figures': figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--clock-ghz', type=float, default=None)
    parser.add_argument('--no-layouts', action='store_true', help='skip the layout profile')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    allocator = malloc_in_use()
    peak = cpu_peak(args.threads, args.clock_ghz)
    print(
        f'CPU: {peak["cpu"]}, {args.threads} threads, torch {torch.__version__} '
        f'({torch.backends.cpu.get_cpu_capability()}), patch {PATCH} (x, y, z), batch 1'
    )
    print(
        f'fp32 peak = {peak["cores"]} cores x {peak["clock_ghz"]} GHz ({peak["clock_source"]}) '
        f'x {peak["flop_per_cycle"]} FLOP/cycle ({peak["isa"]}) = {peak["peak_gflops"]} GFLOP/s'
    )
    print(f'median of {args.repeats} runs after a warm-up; other processes share these cores')
    print(f'malloc: {allocator}' + ('' if allocator != 'glibc' else GLIBC_NOTE))
    rows = []
    for preset in ('paper', 'cpu'):
        for n_seq in (1, 6):
            for row in measure(preset, n_seq, args.repeats, peak['peak_gflops']):
                rows.append(row)
                head = (
                    f'{preset:5s} {n_seq} seq {row["precision"]} {row["memory_format"]:13s}: '
                    f'{row["params_M"]:6.2f} M params ({row["weights_fp16_MB"]:5.1f} MB fp16), '
                    f'{row["gflop_per_patch"]:6.1f} GFLOP'
                )
                if row['seconds'] is None:
                    print(f'{head}, {row["note"]}')
                else:
                    print(
                        f'{head}, {row["seconds"]:6.2f} s/patch, {row["gflops"]:6.1f} GFLOP/s, '
                        f'{row["pct_fp32_peak"]:5.1f} % of peak'
                    )
    goals = summarise_goals(rows)
    for line in goals['lines']:
        print(line)
    layouts = []
    if not args.no_layouts:
        print('\npaper-preset encoder (1 slot) at batch 1, by tensor layout:')
        for row in layout_profile(args.repeats):
            layouts.append(row)
            print(
                f'  {row["layout"]:45s} {row["seconds"]:6.2f} s, slow_conv3d: '
                f'{row["slow_conv3d_calls"]} calls, {row["slow_conv3d_pct_time"]:4.1f} % of time'
            )
    out = ROOT / 'bench-results' / 'model.json'
    out.parent.mkdir(exist_ok=True)
    result = {
        'conditions': {
            'threads': args.threads,
            'repeats': args.repeats,
            'torch': torch.__version__,
            'device': 'cpu',
            'patch_xyz': PATCH,
            'batch': 1,
            'malloc': allocator,
        },
        'peak': peak,
        'rows': rows,
        'goals': goals,
        'layouts': layouts,
    }
    out.write_text(json.dumps(result, indent=2) + '\n')
    print(f'\nwrote {out.relative_to(ROOT)}')


if __name__ == '__main__':
    main()
