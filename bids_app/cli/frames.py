"""Pre-processing for training: each unit's cord frame, with its labels, cached in ``-w``.

``train`` (and the evaluation CLI) read the frames from ``<-w>/frames/<unit>.npz``; a frame made
from the same inputs is reused without asking Nipype (:mod:`bids_app.cli.frame_keys`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from bids_app.cli import frame_keys
from bids_app.cli.locks import unit_locks
from bids_app.cli.workflow import plans_of
from bids_app.config import RunConfig
from bids_app.discovery import Unit
from bids_app.execution import run_graphs, start_run, write_settings
from bids_app.outcomes import unit_outcomes
from bids_app.workflows.base import UnitPlan, init_frames_wf

logger = logging.getLogger(__name__)


def frames_cache(config: RunConfig) -> Path:
    """Where training keeps each unit's cord frame (reused by later runs and variants)."""
    return config.work_dir / 'frames'


def preprocess_frames(
    units: Sequence[Unit], config: RunConfig, verbosity: int = 0
) -> dict[str, Path | str]:
    """Pre-process every runnable unit with its reference labels, for training.

    Returns
    -------
    dict
        Unit name -> its cord frame file (``work_dir/frames/<unit>.npz``, labels included), or
        the reason it was left out (no label, a failure). Frames already cached are reused.
    """
    outcomes: dict[str, str | None] = {
        u.name: u.error or u.skip_reason for u in units if not u.runnable
    }
    cache = frames_cache(config)
    plans, reused = [], 0
    for plan in plans_of(units, config, outcomes, labels=True):
        if frame_keys.is_fresh(plan, cache / f'{plan.unit.name}.npz'):
            outcomes[plan.unit.name] = None
            reused += 1
        else:
            plans.append(plan)
    if reused:
        logger.log(25, '%d cord frames reused from %s (inputs unchanged)', reused, cache)
    if plans:
        start_run(config, verbosity)
        with unit_locks(plans, config, output=False) as (plans, busy):
            outcomes.update(busy)
            if plans:
                _preprocess(plans, config, outcomes)
    return {name: why if why else cache / f'{name}.npz' for name, why in outcomes.items()}


def _preprocess(
    plans: Sequence[UnitPlan], config: RunConfig, outcomes: dict[str, str | None]
) -> None:
    """Run the frame workflows of ``plans``; record each unit's fate in ``outcomes``."""
    cache = frames_cache(config)
    log_root = config.output_dir / 'logs' / config.run_uuid

    def build(plan: UnitPlan, crashdump_dir: Path):
        return init_frames_wf(plan, cache_dir=cache, crashdump_dir=crashdump_dir)

    def log_dir(plan: UnitPlan) -> Path:
        return log_root / plan.unit.name

    write_settings([log_root / 'sclesion.toml'], config)
    run_graphs(plans, build, log_dir, config)
    made = unit_outcomes(plans, log_dir, lambda p: cache / f'{p.unit.name}.npz')
    outcomes.update(made)
    for plan in plans:
        if made[plan.unit.name] is None:
            frame_keys.record(plan, cache / f'{plan.unit.name}.npz')


def cached_frames(units: Sequence[Unit], config: RunConfig) -> dict[str, Path | str]:
    """The cord frames a previous pre-processing left in the work directory (for ``torchrun``)."""
    cache = frames_cache(config)
    frames: dict[str, Path | str] = {}
    for unit in units:
        path = cache / f'{unit.name}.npz'
        frames[unit.name] = (
            path
            if path.is_file()
            else (
                f'not pre-processed in {cache}; run the same command with --preprocess-only first'
            )
        )
    return frames
