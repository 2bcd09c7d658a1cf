"""What the command line calls for ``sclesion BIDS_DIR OUTPUT_DIR train``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bids_app.training.distributed import DistributedContext
from bids_app.training.options import TrainConfig, TrainStop
from bids_app.training.subjects import FrameSource
from bids_app.training.trainer import TrainResult, train


def run_training(
    frames: Mapping[str, FrameSource],
    config: TrainConfig,
    model_dir: Path,
    stop: TrainStop | None = None,
    context: DistributedContext | None = None,
    groups: Mapping[str, str] | None = None,
) -> TrainResult:
    """Train ``config`` into ``model_dir`` (or resume there), stopping as ``stop`` says.

    Parameters
    ----------
    frames : mapping of str to CordFrame, Path or str
        Unit name -> cord frame file, or why pre-processing gave none.
    config : TrainConfig
    model_dir : Path
        The model folder to write (or resume).
    stop : TrainStop, optional
        ``--resume``, ``--stop-after``, ``--time-limit``; default: a fresh run to the end.
    context : DistributedContext, optional
        From :func:`~bids_app.training.distributed.distributed_session` under ``torchrun``.
    groups : mapping of str to str, optional
        Subject -> person: validation holds out whole people (``bids_app.cli.run.person_groups``).
    """
    stop = stop or TrainStop()
    return train(
        frames,
        config,
        model_dir,
        resume=stop.resume,
        stop_after=stop.stop_after,
        time_limit_s=stop.time_limit_s,
        context=context,
        groups=groups,
    )
