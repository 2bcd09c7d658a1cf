"""The study's command-line options (``sclesion BIDS_DIR OUTPUT_DIR train --study variants``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bids_app.cli.types import fraction, positive_int
from bids_app.errors import UsageError
from bids_app.study.plan import MIN_FRACTION
from bids_app.training.options import TrainConfig, read_subject_list

STUDIES: tuple[str, ...] = ('variants',)
DEFAULT_SEEDS = 3
DEFAULT_TEST_FRACTION = 0.2
#: participants.tsv columns taken as the cohort when --cohort-column is not given, in order.
COHORT_COLUMNS: tuple[str, ...] = ('cohort', 'site')


def add_study_arguments(group: argparse._ActionsContainer) -> None:
    """Add the study options to a parser or argument group."""
    group.add_argument(
        '--study',
        choices=STUDIES,
        help='train every variant of the paper for each seed into OUTPUT_DIR/runs, score them '
        'on held-out subjects and write Tables 1 and 2 (docs/study.md); the training options '
        'apply to every run',
    )
    group.add_argument(
        '--seeds',
        type=positive_int,
        default=DEFAULT_SEEDS,
        help='study: training seeds per model (--seed, --seed + 1, ...)',
    )
    group.add_argument(
        '--min-fraction',
        type=fraction,
        default=MIN_FRACTION,
        help='study: train a fixed-combination model for each set of sequences that at least '
        'this share of the training subject/sessions have',
    )
    group.add_argument(
        '--test-subjects',
        type=Path,
        metavar='TSV',
        help='study: TSV with a participant_id column: the held-out test subjects '
        '(replaces --test-fraction)',
    )
    group.add_argument(
        '--test-fraction',
        type=fraction,
        default=DEFAULT_TEST_FRACTION,
        help='study: share of subjects held out for testing, drawn with --split-seed',
    )
    group.add_argument(
        '--cohort-column',
        metavar='COLUMN',
        help='study: participants.tsv column that breaks Table 1 down by cohort '
        f'(default: {" or ".join(COHORT_COLUMNS)} when present)',
    )


def check_study_args(args: argparse.Namespace) -> None:
    """Refuse the training options a study sets itself, a missing test list, and ``torchrun``.

    Called before the pre-processing, so that a mistake costs seconds, not hours.

    Raises
    ------
    UsageError
    """
    given = [
        option
        for option, value in (
            ('--variant', args.variant != TrainConfig().variant),
            ('--slots', args.slots),
            ('--init-encoder', args.init_encoder),
            ('--init-weights', getattr(args, 'init_weights', None)),
            ('--stop-after', args.stop_after),
        )
        if value
    ]
    if given:
        raise UsageError(
            f'--study sets {", ".join(given)} itself for each run; drop {" ".join(given)} '
            '(--time-limit stops a study, the same command resumes it)'
        )
    if args.test_subjects:
        read_subject_list(args.test_subjects, 'test')
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        raise UsageError(
            '--study trains its runs one after another in one process; run it without torchrun'
        )
