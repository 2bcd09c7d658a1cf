"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint holds the weights, the optimiser's state (SGD momentum buffers), the number of
iterations done, the best validation so far, the subject split and the configuration. The learning
rate (polynomial decay), the patches and every random draw are functions of the seed and the
iteration number (see :mod:`bids_app.training.data` and :func:`iteration_seed`), so the iteration
number is also the sampler's position and the random number generators' state.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from bids_app.errors import UsageError
from bids_app.training.options import TrainConfig

CHECKPOINT_DIR = 'checkpoints'
LATEST = 'latest.pt'
BEST = 'best.pt'


def iteration_seed(seed: int, iteration: int, rank: int) -> int:
    """A 63-bit seed for one iteration of one process, independent of the others.

    Examples
    --------
    >>> iteration_seed(0, 5, 0) == iteration_seed(0, 5, 0) != iteration_seed(0, 5, 1)
    True
    """
    digest = hashlib.sha256(f'{seed}:{iteration}:{rank}'.encode()).digest()
    return int.from_bytes(digest[:8], 'little') >> 1


def poly_lr(initial: float, iteration: int, total: int, exponent: float) -> float:
    """nnU-Net's polynomial decay: ``initial (1 - iteration / total) ** exponent``.

    Examples
    --------
    >>> poly_lr(0.01, 0, 100, 0.9), round(poly_lr(0.01, 50, 100, 0.9), 6)
    (0.01, 0.005359)
    """
    return initial * (1 - iteration / total) ** exponent


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` with :func:`torch.save` to a temporary file, then rename it into place.

    An interrupted write leaves the previous checkpoint intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + '.partial')
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def load_checkpoint(path: Path, config: TrainConfig) -> dict[str, Any]:
    """Read a checkpoint (tensors and plain values only) and check it belongs to ``config``.

    Raises
    ------
    UsageError
        The checkpoint was made with different training settings; the message lists them.
    """
    state = torch.load(path, map_location='cpu', weights_only=True)
    saved = TrainConfig.from_dict(state['config'])
    differences = config.differences(saved)
    if differences:
        raise UsageError(
            f'{path} was made with other settings ({"; ".join(differences)}); resume with the '
            'same options or train into another folder'
        )
    return state


def record_checkpoint(
    model_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    state: dict[str, Any],
    done: int,
    metrics: dict[str, float],
    is_main: bool,
    *,
    wall_time_s: float,
    split: dict[str, list[str]],
) -> dict[str, Any]:
    """Keep the best weights, write the latest checkpoint; return the new light state.

    ``best.pt`` gets the weights whenever the validation score beats the best so far;
    ``latest.pt`` gets everything a resume needs. Only the main process (``is_main``) writes;
    every process returns the same ``{'iteration', 'best', 'wall_time_s'}``.
    """
    best = state['best']
    improved = bool(metrics) and (best is None or metrics['score'] > best['score'])
    if improved:
        best = {'iteration': done, **metrics}
    if is_main:
        folder = model_dir / CHECKPOINT_DIR
        if improved:
            save_checkpoint(folder / BEST, {'iteration': done, 'model': model.state_dict()})
        save_checkpoint(
            folder / LATEST,
            {
                'iteration': done,
                'model': model.state_dict(),
                'optimizer': optimizer.state_dict(),
                'config': config.to_dict(),
                'best': best,
                'wall_time_s': wall_time_s,
                'split': split,
            },
        )
    return {'iteration': done, 'best': best, 'wall_time_s': wall_time_s}
