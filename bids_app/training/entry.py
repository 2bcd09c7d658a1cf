"""What the command line calls for ``sclesion BIDS_DIR OUTPUT_DIR train``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from bids_app.training.distributed import DistributedContext
from bids_app.training.options import TrainConfig
from bids_app.training.subjects import FrameSource
from bids_app.training.trainer import TrainResult, train


def run_training(
    frames: Mapping[str, FrameSource],
    args: argparse.Namespace,
    model_dir: Path,
    context: DistributedContext | None = None,
) -> TrainResult:
    """Train from parsed options (:func:`~bids_app.training.options.add_training_arguments`).

    Parameters
    ----------
    frames : mapping of str to CordFrame, Path or str
        Unit name -> cord frame file, or why pre-processing gave none.
    args : argparse.Namespace
        With the training options and ``--device``.
    model_dir : Path
        The model folder to write (or resume).
    context : DistributedContext, optional
        From :func:`~bids_app.training.distributed.distributed_session` under ``torchrun``.
    """
    return train(
        frames,
        TrainConfig.from_args(args),
        model_dir,
        resume=args.resume,
        stop_after=args.stop_after,
        time_limit_s=None if args.time_limit is None else 60 * args.time_limit,
        context=context,
    )
