"""Where and how torch runs: the device, bfloat16 support, threads, the CPU weight layout.

Shared by inference and training, so that ``--device``, ``--bf16`` and ``--omp-nthreads`` mean the
same in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, TypeVar

import torch

from bids_app.errors import UsageError

ModuleT = TypeVar('ModuleT', bound=torch.nn.Module)

Device = Literal['auto', 'cpu', 'cuda'] | str
Precision = Literal['float32', 'bfloat16']


def resolve_device(device: Device) -> torch.device:
    """``'auto'`` is CUDA when visible, else the CPU; ``'cuda[:N]'`` must be visible."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {device}: no CUDA device is visible; use --device cpu')
    return torch.device(device)


def bfloat16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs natively: CUDA with bf16, or a CPU with AVX512-BF16/AMX."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` intra-op threads inside the block (``--omp-nthreads``), then restore."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def inference_layout(module: ModuleT) -> ModuleT:
    """Weights in channels-last order on the CPU, so that oneDNN's convolutions read and write
    that order directly instead of converting every activation to and from its blocked format
    (1.26x faster for the paper preset in float32, 1.4x in bfloat16: ``benchmarks/model.py``)."""
    if next(module.parameters()).device.type == 'cpu':
        module.to(memory_format=torch.channels_last_3d)
    return module
