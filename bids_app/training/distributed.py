"""Several processes under ``torchrun``: PyTorch's DistributedDataParallel, nothing home-made.

``torchrun --nproc-per-node N`` starts N copies of the command with ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` set. :func:`distributed_session` joins them into one process group (NCCL between
GPUs, gloo on CPUs) and gives a :class:`DistributedContext`; without ``torchrun`` it gives the
single-process context, and the same code runs unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from bids_app.device import resolve_device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the training processes.

    Attributes
    ----------
    device : torch.device
        This process's device (``cuda:<local_rank>`` on GPUs).
    rank, world_size, local_rank : int
        Global index, number of processes, index on this machine.
    """

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and the model folder."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_gather(self, value: Any) -> list[Any]:
        """Every process's ``value`` (picklable), in rank order."""
        if not self.enabled:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on one of them."""
        return any(self.all_gather(bool(flag)))


def single_process(device: str) -> DistributedContext:
    """The context of a run without ``torchrun``."""
    return DistributedContext(device=resolve_device(device))


@contextmanager
def distributed_session(device: str = 'auto') -> Iterator[DistributedContext]:
    """Join the ``torchrun`` process group for the block (or run alone without ``torchrun``).

    Parameters
    ----------
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'``: on CUDA each process takes GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size == 1:
        yield single_process(device)
        return
    rank, local_rank = int(os.environ['RANK']), int(os.environ.get('LOCAL_RANK', '0'))
    chosen = resolve_device(device)
    if chosen.type == 'cuda':
        chosen = torch.device('cuda', local_rank)
        torch.cuda.set_device(chosen)
    backend = 'nccl' if chosen.type == 'cuda' else 'gloo'
    dist.init_process_group(backend)
    logger.info('process %d of %d (%s, %s)', rank, world_size, backend, chosen)
    try:
        yield DistributedContext(chosen, rank, world_size, local_rank)
    finally:
        dist.destroy_process_group()
