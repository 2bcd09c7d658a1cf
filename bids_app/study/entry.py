"""What ``sclesion BIDS_DIR OUTPUT_DIR train --study variants`` calls once the frames are ready.

Holds the test subjects out, plans the runs on the others, trains (or resumes, or skips) every
run, scores each on the test subjects and writes the tables (:mod:`bids_app.study.report`).
Every step skips what is already done, so the same command continues an interrupted study.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bids_app import __version__
from bids_app.config import RunConfig
from bids_app.errors import DatasetError, UsageError
from bids_app.group.tables import read_participants
from bids_app.postprocess import PostprocessOptions, resolve_options
from bids_app.study.evaluate import evaluate_run
from bids_app.study.manifest import write_manifest, write_test_units
from bids_app.study.options import COHORT_COLUMNS, StudyConfig
from bids_app.study.plan import (
    combination_name,
    frequent_combinations,
    labelled_slots,
    plan_study,
    split_test,
)
from bids_app.study.report import TABLES_COMMAND, make_report
from bids_app.study.run import train_runs
from bids_app.training.options import TrainConfig
from bids_app.training.subjects import subject_of

logger = logging.getLogger(__name__)


def cohorts_of(
    bids_dir: Path, units: Sequence[str], column: str | None
) -> tuple[str | None, dict[str, str | None]]:
    """The cohort column of participants.tsv and each test unit's value of it.

    Parameters
    ----------
    bids_dir : Path
    units : sequence of str
        Test units.
    column : str, optional
        The column to use; default the first of :data:`COHORT_COLUMNS` the file has.

    Raises
    ------
    UsageError
        ``column`` is not a column of participants.tsv.
    """
    participants = read_participants(bids_dir)
    present = {key for row in participants.values() for key in row}
    if column is not None and column not in present:
        raise UsageError(
            f'{bids_dir / "participants.tsv"} has no column {column!r} (columns: '
            f'{sorted(present)}); fix --cohort-column'
        )
    column = column or next((c for c in COHORT_COLUMNS if c in present), None)
    if column is None:
        return None, dict.fromkeys(units)
    return column, {unit: participants.get(subject_of(unit), {}).get(column) for unit in units}


def _check_val_subjects(config: TrainConfig, test_units: Sequence[str]) -> None:
    both = sorted(set(config.val_subjects) & {subject_of(u) for u in test_units})
    if both:
        raise UsageError(
            f'subjects {both} are both validation and test subjects; take them out of '
            '--val-subjects or --test-subjects'
        )


def _settings(
    study: StudyConfig, config: RunConfig, base: TrainConfig, options: PostprocessOptions
) -> dict[str, Any]:
    """What ``study.json`` records of the options, the dataset and the commands."""
    return {
        'study': study.study,
        'min_fraction': study.min_fraction,
        'train_config': base.to_dict(),
        'postprocess': asdict(options),
        'bids_dir': str(config.bids_dir),
        'labels': str(config.labels),
        'sclesion_version': __version__,
        'command_line': list(config.command_line),
        'tables_command': f'{TABLES_COMMAND} {config.output_dir}',
    }


def run_study(
    frames: Mapping[str, Path | str],
    study: StudyConfig,
    base: TrainConfig,
    config: RunConfig,
    groups: Mapping[str, str] | None = None,
) -> int:
    """Plan, train, score and tabulate a study into ``config.output_dir``; return the exit code.

    Parameters
    ----------
    frames : mapping
        Unit name -> cord frame file (with reference labels), or why it has none.
    study : StudyConfig
        Seeds, test subjects, time limit (checked by :func:`~bids_app.study.options.check_study`).
    base : TrainConfig
        The training options of every run (each run sets its variant, slots and seed).
    config : RunConfig
    groups : mapping of str to str, optional
        Subject -> person (``sclesion-insert-lesions`` copies): the test set and each run's
        validation hold out whole people.

    Raises
    ------
    UsageError
        Test subjects that are also validation subjects.
    DatasetError
        No labelled unit, or none left to train or to test on.
    """
    study_dir = config.output_dir
    usable = labelled_slots(frames)
    if not usable:
        raise DatasetError(
            f'no subject/session of {config.bids_dir} has a cord frame with reference labels; '
            'see the warnings above'
        )
    train_units, test_units = split_test(
        sorted(usable),
        test_subjects=study.test_subjects,
        test_fraction=study.test_fraction,
        seed=base.split_seed,
        groups=groups,
    )
    _check_val_subjects(base, test_units)
    seeds = list(range(base.seed, base.seed + study.seeds))
    train_slots = {u: usable[u] for u in train_units}
    runs = plan_study(train_slots, seeds, study.min_fraction)
    column, cohorts = cohorts_of(config.bids_dir, test_units, study.cohort_column)
    # Every run is scored with the same post-processing (the study's options, else the built-in
    # defaults) so that the variants are compared alike; the runs' cards choose none.
    options = resolve_options(
        None,
        threshold=config.threshold,
        min_lesion_mm3=config.min_lesion_mm3,
        grow_threshold=config.grow_threshold,
    )
    about = {
        **_settings(study, config, base, options),
        'seeds': seeds,
        'combinations': {
            combination_name(c): round(f, 4)
            for c, f in frequent_combinations(train_slots, study.min_fraction).items()
        },
        'train_units': train_units,
        'test_units': test_units,
        'cohort_column': column,
    }
    write_manifest(study_dir, runs, about)
    write_test_units(study_dir, cohorts)
    logger.log(
        25,
        'study: %d runs (%d models x %d seeds), %d training and %d test units',
        len(runs),
        len(runs) // len(seeds),
        len(seeds),
        len(train_units),
        len(test_units),
    )
    outcomes = train_runs(
        {u: frames[u] for u in train_units},
        runs,
        base,
        study_dir,
        time_limit_s=study.time_limit_s,
        groups=groups,
    )
    unfinished = [o.run.key for o in outcomes if o.status != 'finished']
    if unfinished:
        logger.log(
            25,
            'study: %d of %d runs trained (next: %s); run the same command again to continue',
            len(runs) - len(unfinished),
            len(runs),
            unfinished[0],
        )
        return 0
    test_frames = {u: Path(frames[u]) for u in test_units}
    for run in runs:
        logger.info('scoring %s on %d test units', run.key, len(test_frames))
        evaluate_run(
            run.directory(study_dir),
            test_frames,
            device=config.device,
            n_threads=config.omp_nthreads,
            options=options,
        )
    paths = make_report(study_dir)
    logger.log(25, 'study tables: %s', paths['study.html'])
    return 0
