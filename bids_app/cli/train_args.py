"""The ``train`` and ``--study`` flags of ``sclesion``, and the frozen configs built from them.

Below ``cli/`` nothing reads these flags: training gets a :class:`TrainConfig` and a
:class:`TrainStop`, a study a :class:`StudyConfig` (checked before any pre-processing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bids_app.cli.types import fraction, positive_int
from bids_app.config import CordFrameConfig
from bids_app.model.config import VARIANTS, WIDTH_PRESETS
from bids_app.slots import SLOTS
from bids_app.study.options import (
    COHORT_COLUMNS,
    DEFAULT_SEEDS,
    DEFAULT_TEST_FRACTION,
    STUDIES,
    StudyConfig,
    check_study,
)
from bids_app.study.plan import MIN_FRACTION
from bids_app.training.options import AUGMENTATIONS, TrainConfig, TrainStop, read_subject_list


def add_training_arguments(group: argparse._ActionsContainer) -> None:
    """Add the ``train`` options to a parser or argument group (``--device`` is the main one's)."""
    defaults = TrainConfig()
    group.add_argument(
        '--variant', choices=sorted(VARIANTS), default=defaults.variant, help='model variant'
    )
    group.add_argument(
        '--slots',
        nargs='+',
        choices=[str(s) for s in SLOTS],
        metavar='SLOT',
        help='model slots (combination: required; default: every slot some subject has)',
    )
    group.add_argument(
        '--widths', choices=sorted(WIDTH_PRESETS), default=defaults.widths, help='channel widths'
    )
    group.add_argument(
        '--patch-z',
        type=positive_int,
        default=defaults.patch_size[2],
        help='patch length along the cord in 0.5 mm slices, a multiple of 16 (paper: 320; '
        'e.g. 64 on a CPU)',
    )
    group.add_argument('--batch-size', type=positive_int, default=defaults.batch_size)
    group.add_argument('--iterations', type=positive_int, default=defaults.iterations)
    group.add_argument(
        '--val-interval',
        type=positive_int,
        default=defaults.val_interval,
        help='validate and checkpoint every N iterations',
    )
    group.add_argument(
        '--log-interval',
        type=positive_int,
        default=defaults.log_interval,
        help='log the mean loss every N iterations',
    )
    group.add_argument('--lr', type=float, default=defaults.lr, help='initial learning rate')
    group.add_argument('--seed', type=int, default=defaults.seed, help='training seed')
    group.add_argument(
        '--split-seed', type=int, default=defaults.split_seed, help='seed of the subject split'
    )
    group.add_argument(
        '--val-fraction',
        type=fraction,
        default=defaults.val_fraction,
        help='fraction of subjects held out for validation',
    )
    group.add_argument(
        '--val-subjects',
        type=Path,
        metavar='TSV',
        help='TSV with a participant_id column: the validation subjects (replaces the fraction)',
    )
    group.add_argument(
        '--bf16',
        action='store_true',
        help='bfloat16 autocast for training and inference, on a GPU or a CPU with '
        'AVX512-BF16/AMX (float32 elsewhere, with a warning)',
    )
    group.add_argument(
        '--num-workers',
        type=int,
        default=defaults.num_workers,
        help='data-loading worker processes',
    )
    group.add_argument(
        '--oversample',
        type=fraction,
        default=defaults.oversample,
        help='probability that a patch is centred on a lesion',
    )
    group.add_argument(
        '--lesion-weight',
        type=float,
        default=defaults.lesion_weight,
        metavar='W',
        help='add W x a lesion-wise Dice ("blob loss") so that small lesions count as much as '
        'large ones (default: %(default)s, off)',
    )
    group.add_argument(
        '--view-cut',
        type=fraction,
        default=defaults.view_cut,
        metavar='P',
        help="end the field of view of a share P of the patches at a random slice, as a scan's "
        "or slab's end (default: %(default)s, off)",
    )
    group.add_argument(
        '--augmentation',
        choices=AUGMENTATIONS,
        default=defaults.augmentation,
        help="nnU-Net's transforms ('standard'), plus contrast/resolution randomisation "
        "('synth', for training on phantoms), or 'none'",
    )
    group.add_argument(
        '--init-encoder',
        type=Path,
        metavar='MODEL_DIR',
        help='model folder whose encoders initialise ours (frozen-encoder: a trained baseline)',
    )
    group.add_argument(
        '--init-weights',
        type=Path,
        metavar='MODEL_DIR',
        help='fine-tune: start from the weights of this model folder (same slots and widths), '
        'e.g. the shipped model, instead of a random initialisation',
    )
    group.add_argument(
        '--resume', action='store_true', help='continue the run in the model folder'
    )
    group.add_argument(
        '--stop-after',
        type=positive_int,
        metavar='ITER',
        help='checkpoint and stop at this iteration (resume later with --resume)',
    )
    group.add_argument(
        '--time-limit',
        type=float,
        metavar='MIN',
        help='checkpoint and stop after this many minutes of training',
    )


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


def train_config(args: argparse.Namespace) -> TrainConfig:
    """Build from the options of :func:`add_training_arguments` (and the main ``--device``)."""
    val_subjects = read_subject_list(args.val_subjects) if args.val_subjects else ()
    crop = CordFrameConfig().crop_size
    return TrainConfig(
        variant=args.variant,
        slots=tuple(args.slots) if args.slots else None,
        widths=args.widths,
        patch_size=(crop, crop, args.patch_z),
        batch_size=args.batch_size,
        iterations=args.iterations,
        val_interval=args.val_interval,
        log_interval=args.log_interval,
        lr=args.lr,
        seed=args.seed,
        split_seed=args.split_seed,
        val_fraction=args.val_fraction,
        val_subjects=val_subjects,
        device=getattr(args, 'device', 'auto'),
        bf16=args.bf16,
        num_workers=args.num_workers,
        oversample=args.oversample,
        lesion_weight=args.lesion_weight,
        view_cut=args.view_cut,
        augmentation=args.augmentation,
        init_encoder=str(args.init_encoder) if args.init_encoder else None,
        init_weights=str(args.init_weights) if args.init_weights else None,
    )


def train_stop(args: argparse.Namespace) -> TrainStop:
    """``--resume``, ``--stop-after`` and ``--time-limit`` (minutes)."""
    minutes = args.time_limit
    return TrainStop(args.resume, args.stop_after, None if minutes is None else 60 * minutes)


def study_config(args: argparse.Namespace, train: TrainConfig) -> StudyConfig:
    """The study's settings; ``UsageError`` for options a study sets itself, ``torchrun`` or an
    unreadable ``--test-subjects`` list."""
    check_study(train, ['--stop-after'] if args.stop_after else [])
    tests = read_subject_list(args.test_subjects, 'test') if args.test_subjects else ()
    minutes = args.time_limit
    return StudyConfig(
        study=args.study,
        seeds=args.seeds,
        min_fraction=args.min_fraction,
        test_subjects=tests,
        test_fraction=args.test_fraction,
        cohort_column=args.cohort_column,
        time_limit_s=None if minutes is None else 60 * minutes,
    )
