"""``sclesion``: control flow and exit codes (CONVENTIONS section 1)."""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from collections.abc import Sequence
from datetime import datetime

from bids_app.cli.boilerplate import write_boilerplate
from bids_app.cli.console import console_main
from bids_app.cli.frames import cached_frames, preprocess_frames
from bids_app.cli.parser import build_parser
from bids_app.cli.paths import (
    check_output_links,
    check_output_not_input,
    check_output_owner,
    check_paths,
)
from bids_app.cli.train_args import study_config, train_config, train_stop
from bids_app.cli.workflow import (
    run_participant,
    unit_work_dirs,
)
from bids_app.config import RunConfig
from bids_app.dataset_checks import check_dataset_folder, index_dataset, run_validator
from bids_app.discovery import Unit, discover, format_table
from bids_app.errors import EXIT_OK, EXIT_USAGE, UsageError
from bids_app.group import run_group
from bids_app.group.tables import read_participants
from bids_app.insertion.dataset import SOURCE_COLUMN
from bids_app.outcomes import report_outcomes
from bids_app.reports.collect import write_reports
from bids_app.slots import Slot
from bids_app.study.entry import run_study
from bids_app.training import distributed_session, run_training

logger = logging.getLogger('bids_app')


def build_config(args: argparse.Namespace, argv: Sequence[str]) -> RunConfig:
    """Resolve paths and defaults once; everything downstream receives this object."""
    bids_dir = args.bids_dir.expanduser().absolute().resolve()
    output_dir = args.output_dir.expanduser().absolute().resolve()
    work_dir = args.work_dir.expanduser().absolute().resolve()
    check_paths(bids_dir, output_dir, work_dir)
    check_output_not_input(output_dir, {'--cord-masks': args.cord_masks, '--labels': args.labels})
    check_output_owner(output_dir, bids_dir)
    check_output_links(output_dir, bids_dir)
    omp = args.omp_nthreads or args.nprocs
    if omp > args.nprocs:
        logger.warning('--omp-nthreads %d is above --nprocs %d', omp, args.nprocs)
    if args.mem:
        logger.log(25, 'memory limit: %.1f GB', args.mem)
    run_uuid = f'{datetime.now():%Y%m%d-%H%M%S}_{uuid.uuid4()}'
    return RunConfig(
        bids_dir=bids_dir,
        output_dir=output_dir,
        analysis_levels=tuple(dict.fromkeys(args.analysis_level)),
        work_dir=work_dir,
        run_uuid=run_uuid,
        participant_labels=tuple(args.participant_label or ()),
        session_labels=tuple(args.session_label or ()),
        bids_filters=args.bids_filter_file or {},
        ignore=tuple(Slot(s) for s in args.ignore),
        force_sequences=args.force_sequences,
        cord_masks=args.cord_masks,
        labels=args.labels,
        lesion_label_suffix=args.lesion_label_suffix,
        skip_bids_validation=args.skip_bids_validation,
        model=args.model,
        threshold=args.threshold,
        grow_threshold=args.grow_threshold,
        min_lesion_mm3=args.min_lesion_mm3,
        device=args.device,
        tta=args.tta,
        bf16=args.bf16,
        centerline=args.centerline,
        nprocs=args.nprocs,
        omp_nthreads=omp,
        mem_gb=args.mem,
        use_plugin=args.use_plugin,
        clean_workdir=args.clean_workdir,
        overwrite=args.overwrite,
        stop_on_first_crash=args.stop_on_first_crash,
        write_graph=args.write_graph,
        resource_monitor=args.resource_monitor,
        compare=tuple(args.compare),
        group_by=tuple(args.group_by),
        qc_ratings=args.qc_ratings,
        command_line=('sclesion', *argv),
    )


def discover_units(config: RunConfig, *, dry_run: bool = False) -> list[Unit]:
    """Check the dataset, validate it unless asked not to, and map each unit's images to slots."""
    check_dataset_folder(config.bids_dir)
    if config.skip_bids_validation:
        logger.info('BIDS validation skipped (--skip-bids-validation)')
    else:
        run_validator(config.bids_dir, None if dry_run else config.work_dir / '.cache')
    layout = index_dataset(config.bids_dir)
    return discover(
        layout,
        participant_labels=config.participant_labels,
        session_labels=config.session_labels,
        bids_filters=config.bids_filters,
        ignore=config.ignore,
    )


def run(config: RunConfig, args: argparse.Namespace, *, verbosity: int = 0) -> int:
    """Run the requested analysis levels; return the exit code."""
    units = discover_units(config, dry_run=args.dry_run)
    runnable = [u for u in units if u.runnable]
    dry_run, reports_only = args.dry_run, args.reports_only
    if dry_run:
        print(format_table(units, config.bids_dir))
        print(
            f'\nwould run {", ".join(config.analysis_levels)} on {len(runnable)} of '
            f'{len(units)} subject/session(s), writing to {config.output_dir}'
        )
    if not runnable:
        logger.error('no subject/session can run: each lacks a sagittal T2w or failed to read')
        return EXIT_USAGE
    if dry_run:
        return EXIT_OK
    if 'train' in config.analysis_levels:
        return run_train(units, config, args, verbosity)
    code = EXIT_OK
    if 'participant' in config.analysis_levels:
        code = run_participant_level(units, config, reports_only=reports_only, verbosity=verbosity)
    if 'group' in config.analysis_levels:
        run_group_level(units, config)
    return code


def run_participant_level(
    units: Sequence[Unit], config: RunConfig, *, reports_only: bool, verbosity: int
) -> int:
    """Participant workflows (unless ``--reports-only``), then one HTML report per subject.

    A subject whose every unit was reused and whose report exists keeps its report.
    """
    started = datetime.now()
    reused: set[str] = set()
    if reports_only:
        outcomes: dict[str, str | None] = {u.name: None for u in units if u.runnable}
    else:
        outcomes, reused = run_participant(units, config, verbosity)
    kept = {
        u.subject
        for u in units
        if u.name in reused and (config.output_dir / f'sub-{u.subject}.html').is_file()
    } - {u.subject for u in units if u.name in outcomes and u.name not in reused}
    failed_reports = write_reports(
        [u for u in units if u.subject not in kept],
        outcomes,
        config,
        work_dir_of=unit_work_dirs(units, config),
        started=started,
    )
    for subject in failed_reports:
        outcomes[f'report of sub-{subject}'] = 'the HTML report failed (see logs/)'
    return report_outcomes(outcomes)


def run_group_level(units: Sequence[Unit], config: RunConfig) -> None:
    """Group tables and report from every unit's outputs (errors raise, exit 2)."""
    run_group(
        config.bids_dir,
        config.output_dir,
        units,
        labels_dir=config.labels,
        lesion_label_suffix=config.lesion_label_suffix,
        compare=config.compare,
        group_by=config.group_by,
        qc_ratings=config.qc_ratings,
    )


def person_groups(config: RunConfig) -> dict[str, str]:
    """Subject -> the person it was made from, from participants.tsv's ``source_participant``.

    ``sclesion-insert-lesions`` writes many subjects from one scan; validating on some of them
    while training on the others would measure new lesions in a known person, not a new person.
    So the validation split holds out whole people (unless ``--val-subjects`` names them).
    """
    rows = read_participants(config.bids_dir)
    groups = {s: str(row[SOURCE_COLUMN]) for s, row in rows.items() if row.get(SOURCE_COLUMN)}
    if groups:
        logger.info(
            'validation holds out whole people: %d subjects made from %d (participants.tsv %s)',
            len(groups),
            len(set(groups.values())),
            SOURCE_COLUMN,
        )
    return groups


def run_train(
    units: Sequence[Unit], config: RunConfig, args: argparse.Namespace, verbosity: int
) -> int:
    """Pre-process with labels (or read the cache under ``torchrun``), then train.

    OUTPUT_DIR becomes the model folder, usable as it is by ``participant --model OUTPUT_DIR``;
    with ``--study``, the study folder (:func:`bids_app.study.entry.run_study`).
    """
    if config.labels is None:
        raise UsageError('the train level needs reference lesion labels: add --labels DERIV_DIR')
    train = train_config(args)
    study = study_config(args, train) if args.study else None  # before hours of pre-processing
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        frames = cached_frames(units, config)
    else:
        frames = preprocess_frames(units, config, verbosity)
    left_out = {name: why for name, why in frames.items() if isinstance(why, str)}
    for name, why in sorted(left_out.items()):
        logger.warning('%s left out of training: %s', name, why)
    if args.preprocess_only:
        logger.log(
            25,
            '%d cord frame(s) ready in %s',
            len(frames) - len(left_out),
            config.work_dir / 'frames',
        )
        return EXIT_OK
    groups = person_groups(config)
    if study:
        return run_study(frames, study, train, config, groups)
    with distributed_session(config.device) as context:
        result = run_training(
            frames, train, config.output_dir, train_stop(args), context, groups=groups
        )
    logger.log(25, 'model folder: %s (%d iterations)', result.model_dir, result.iterations_done)
    return EXIT_OK


def _sclesion(args: argparse.Namespace, argv: list[str]) -> int:
    config = build_config(args, argv)
    # Caches go to the work folder, never HOME (which may be read-only in a container).
    os.environ.setdefault('MPLCONFIGDIR', str(config.work_dir / '.cache' / 'matplotlib'))
    if args.boilerplate_only:
        return write_boilerplate(config.output_dir)
    return run(config, args, verbosity=args.verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sclesion`` and ``python -m bids_app``; returns the exit code."""
    return console_main(build_parser, _sclesion, argv)
