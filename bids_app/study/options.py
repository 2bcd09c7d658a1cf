"""A study's settings (``sclesion BIDS_DIR OUTPUT_DIR train --study variants``; flags in
``cli/train_args``) and the checks made before any pre-processing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from bids_app.errors import UsageError
from bids_app.study.plan import MIN_FRACTION
from bids_app.training.options import TrainConfig

STUDIES: tuple[str, ...] = ('variants',)
DEFAULT_SEEDS = 3
DEFAULT_TEST_FRACTION = 0.2
#: participants.tsv columns taken as the cohort when --cohort-column is not given, in order.
COHORT_COLUMNS: tuple[str, ...] = ('cohort', 'site')


@dataclass(frozen=True)
class StudyConfig:
    """One study: its seeds, which runs, which subjects are held out for testing, how long.

    Attributes
    ----------
    study : str
        One of :data:`STUDIES`.
    seeds : int
        Training seeds per model (``seed``, ``seed + 1``, ... of the training config).
    min_fraction : float
        A fixed-combination model is trained for each set of sequences that at least this share
        of the training units have.
    test_subjects : tuple of str
        Held-out test subjects (``sub-<label>``); empty: ``test_fraction`` of them, drawn.
    test_fraction : float
    cohort_column : str, optional
        participants.tsv column that breaks Table 1 down by cohort.
    time_limit_s : float, optional
        Stop (to resume with the same command) after this many seconds of training.
    """

    study: str = STUDIES[0]
    seeds: int = DEFAULT_SEEDS
    min_fraction: float = MIN_FRACTION
    test_subjects: tuple[str, ...] = ()
    test_fraction: float = DEFAULT_TEST_FRACTION
    cohort_column: str | None = None
    time_limit_s: float | None = None


def check_study(train: TrainConfig, given: Sequence[str]) -> None:
    """Refuse the training options a study sets itself and ``torchrun``.

    Called before the pre-processing, so that a mistake costs seconds, not hours.

    Parameters
    ----------
    train : TrainConfig
        The training options given for every run.
    given : sequence of str
        Other flags given that a study sets itself (``--stop-after``).

    Raises
    ------
    UsageError
    """
    set_by_study = [
        option
        for option, value in (
            ('--variant', train.variant != TrainConfig().variant),
            ('--slots', train.slots),
            ('--init-encoder', train.init_encoder),
            ('--init-weights', train.init_weights),
        )
        if value
    ] + list(given)
    if set_by_study:
        raise UsageError(
            f'--study sets {", ".join(set_by_study)} itself for each run; drop '
            f'{" ".join(set_by_study)} (--time-limit stops a study, the same command resumes it)'
        )
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        raise UsageError(
            '--study trains its runs one after another in one process; run it without torchrun'
        )
