"""Train every run of a study into its own model folder, resumably.

Each run is one call of :func:`bids_app.training.train` with ``resume=True``: a finished run
returns at once (its checkpoint is checked against the run's settings), an interrupted one
continues from its last checkpoint to the weights an uninterrupted run would have reached.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bids_app.study.plan import RUNS_DIR, StudyRun
from bids_app.training import TrainConfig, train
from bids_app.training.subjects import FrameSource

logger = logging.getLogger(__name__)

Status = Literal['finished', 'stopped', 'not started']


@dataclass(frozen=True)
class RunOutcome:
    """What one study call did with one run.

    Attributes
    ----------
    run : StudyRun
    status : {'finished', 'stopped', 'not started'}
        ``stopped``: the time limit ran out during the run (resume with the same command).
    iterations_done : int
        Over every call (0 when not started by this call).
    iterations_run : int
        Optimiser steps this call ran (0 for a run finished before).
    """

    run: StudyRun
    status: Status
    iterations_done: int = 0
    iterations_run: int = 0


def run_config(run: StudyRun, base: TrainConfig, study_dir: Path) -> TrainConfig:
    """The training settings of one run: ``base`` with the run's variant, slots and seed.

    The frozen-encoder run's ``init_encoder`` is the absolute path of its baseline's model
    folder (part of the settings its checkpoint is checked against on resume).
    """
    init_encoder = None
    if run.depends_on is not None:
        init_encoder = str((Path(study_dir) / RUNS_DIR / run.depends_on).absolute())
    return dataclasses.replace(
        base,
        variant=run.variant,
        slots=run.slots,
        seed=run.seed,
        init_encoder=init_encoder,
        init_weights=None,
    )


def train_runs(
    frames: Mapping[str, FrameSource],
    runs: Sequence[StudyRun],
    base: TrainConfig,
    study_dir: Path,
    *,
    time_limit_s: float | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[RunOutcome]:
    """Train (or resume, or skip when finished) every run in order.

    Parameters
    ----------
    frames : mapping
        The training units' cord frames (the test units already left out).
    runs : sequence of StudyRun
        From :func:`bids_app.study.plan.plan_study`; a run comes after the one it depends on.
    base : TrainConfig
        The settings shared by every run (iterations, widths, patch, split seed...).
    study_dir : Path
        Each run trains into ``study_dir/runs/<model>/seed-<k>``.
    time_limit_s : float, optional
        For the whole call: each run gets the time left, and the study stops at the first run
        that does not finish within it (that run checkpoints after at least one iteration).

    Returns
    -------
    list of RunOutcome
        One per run, in ``runs`` order.
    """
    start = time.monotonic()
    outcomes: dict[str, RunOutcome] = {}
    out_of_time = False
    for run in runs:
        waiting = run.depends_on is not None and (
            run.depends_on not in outcomes or outcomes[run.depends_on].status != 'finished'
        )
        if out_of_time or waiting:
            outcomes[run.key] = RunOutcome(run, 'not started')
            continue
        remaining = None if time_limit_s is None else max(0.0, time_limit_s - _since(start))
        logger.log(25, 'study run %s', run.key)
        result = train(
            frames,
            run_config(run, base, study_dir),
            run.directory(study_dir),
            resume=True,
            time_limit_s=remaining,
            groups=groups,
            choose_postprocessing=False,
        )
        status: Status = 'finished' if result.finished else 'stopped'
        outcomes[run.key] = RunOutcome(run, status, result.iterations_done, len(result.losses))
        out_of_time = not result.finished
    return [outcomes[run.key] for run in runs]


def _since(start: float) -> float:
    return time.monotonic() - start
