"""``python -m bids_app.evaluation``: Table 1 of a model on a held-out labelled BIDS dataset.

Pre-processes every unit with its reference labels exactly as training does (cached cord frames
in the work folder), predicts each unit with every row's sequences, post-processes as the
participant level does, and writes the files of :mod:`bids_app.evaluation.outputs` plus
``table1.md``; the markdown table also goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bids_app import __version__
from bids_app.cli.console import console_main
from bids_app.cli.frames import preprocess_frames
from bids_app.cli.parser import build_parser as build_run_parser
from bids_app.cli.run import build_config, discover_units
from bids_app.cli.types import non_negative_float, probability
from bids_app.config import RunConfig
from bids_app.errors import DatasetError
from bids_app.evaluation.faint import CORD_RADIUS_MM, FAINT_CONTRAST, SHELL_MM
from bids_app.evaluation.outputs import markdown_table, write_outputs
from bids_app.evaluation.plot import plot_table
from bids_app.evaluation.scoring import evaluate_frames, frame_slots
from bids_app.evaluation.subsets import table_rows
from bids_app.evaluation.table import build_table
from bids_app.inference import LesionPredictor
from bids_app.model.registry import resolve_model_dir
from bids_app.postprocess import resolve_options

logger = logging.getLogger('bids_app')


def _existing_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f'{value} is not a folder')
    return path


def _contrast(value: str) -> float:
    number = float(value)
    if math.isnan(number):
        raise argparse.ArgumentTypeError('the faint contrast must be a number')
    return number


def build_parser() -> argparse.ArgumentParser:
    """The evaluation command's parser."""
    parser = argparse.ArgumentParser(
        prog='python -m bids_app.evaluation',
        description='Table 1 of Walsh et al. (MICCAI 2024) on a held-out labelled dataset: Dice '
        'and lesion-wise F1 per set of sequences given at inference, paired with T2Sag alone '
        'on the same units, and sensitivity on lesions faint on the sagittal T2w.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument('bids_dir', type=Path, help='the held-out BIDS dataset (read only)')
    parser.add_argument(
        '--labels', type=_existing_dir, required=True, metavar='DIR',
        help='derivatives dataset with the reference lesion masks (_label-lesion_seg)',
    )  # fmt: skip
    parser.add_argument(
        '--model', metavar='NAME|DIR', help='model folder or shipped model name (default: shipped)'
    )
    parser.add_argument(
        '--out', type=Path, required=True, metavar='DIR', help='where the tables go'
    )
    parser.add_argument(
        '-w', '--work-dir', type=Path, default=Path('work'),
        help='work folder; the cord frames are cached in a sub-folder named after the dataset',
    )  # fmt: skip
    parser.add_argument(
        '--cord-masks', type=_existing_dir, metavar='DIR',
        help='derivatives dataset with cord masks (_label-SC_seg): centrelines, post-processing',
    )  # fmt: skip
    parser.add_argument(
        '--nprocs', type=int, default=os.cpu_count() or 1, help='processes and torch threads'
    )
    parser.add_argument('--skip-bids-validation', action='store_true', help='skip the validator')
    parser.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    parser.add_argument(
        '--tta', action=argparse.BooleanOptionalAction,
        help="mirroring test-time augmentation; when not given, the model card's, else off",
    )  # fmt: skip
    parser.add_argument(
        '--threshold', type=probability,
        help="probability threshold of the mask; when not given, the model card's, else 0.5",
    )  # fmt: skip
    parser.add_argument(
        '--grow-threshold', type=probability, metavar='P',
        help='hysteresis: lesions extend over connected voxels of at least this probability; '
        "when not given, the model card's, else the threshold",
    )  # fmt: skip
    parser.add_argument(
        '--min-lesion-mm3', type=non_negative_float, metavar='MM3',
        help="lesions smaller than this (mm^3) are removed; when not given, the model card's, "
        'else 1.0',
    )  # fmt: skip
    parser.add_argument(
        '--faint-contrast', type=_contrast, default=FAINT_CONTRAST,
        help='T2Sag contrast (crop SDs) below which a reference lesion is faint',
    )  # fmt: skip
    parser.add_argument('--plot', action='store_true', help='also write table1.png')
    parser.add_argument('-v', '--verbose', action='count', default=0, help='more output')
    parser.add_argument('--version', action='version', version=f'sclesion v{__version__}')
    return parser


def frames_work_dir(work_dir: Path, bids_dir: Path) -> Path:
    """A work sub-folder per dataset, so held-out frames never mix with training frames.

    Units are named by subject alone (``sub-001``), and phantom training and test sets share
    those names: one folder per dataset path keeps their cached cord frames apart.
    """
    resolved = bids_dir.expanduser().absolute().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    return work_dir / f'evaluation-{resolved.name}-{digest}'


def _run_config(args: argparse.Namespace) -> RunConfig:
    argv = [
        str(args.bids_dir), str(args.out), 'train',
        '-w', str(frames_work_dir(args.work_dir, args.bids_dir)),
        '--labels', str(args.labels), '--nprocs', str(args.nprocs),
    ]  # fmt: skip
    if args.cord_masks:
        argv += ['--cord-masks', str(args.cord_masks)]
    if args.skip_bids_validation:
        argv.append('--skip-bids-validation')
    return build_config(build_run_parser().parse_args(argv), argv)


def evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    """Pre-process, predict, score and write; return the exit code."""
    config = _run_config(args)
    frames = preprocess_frames(discover_units(config), config, args.verbose)
    ready = {name: Path(f) for name, f in frames.items() if not isinstance(f, str)}
    for name, why in sorted(frames.items()):
        if isinstance(why, str):
            logger.warning('%s left out of the evaluation: %s', name, why)
    if not ready:
        raise DatasetError(
            f'no unit of {config.bids_dir} could be pre-processed with labels from '
            f'{config.labels}; see the warnings above'
        )
    model_dir = resolve_model_dir(args.model)
    predictor = LesionPredictor.from_model_dir(
        model_dir, args.device, tta=args.tta, n_threads=args.nprocs
    )
    rows = table_rows(predictor.slots, {name: frame_slots(path) for name, path in ready.items()})
    options = resolve_options(
        predictor.card,
        threshold=args.threshold,
        min_lesion_mm3=args.min_lesion_mm3,
        grow_threshold=args.grow_threshold,
    )
    evaluations = evaluate_frames(predictor, ready, rows, options)
    table = build_table(rows, evaluations, args.faint_contrast)
    about = {
        'model': {
            'dir': str(model_dir),
            'name': predictor.card.get('name'),
            'sha256': predictor.card['weights']['sha256'],
        },
        'bids_dir': str(config.bids_dir),
        'labels': str(config.labels),
        'cord_masks': str(config.cord_masks) if config.cord_masks else None,
        'left_out': {n: why for n, why in frames.items() if isinstance(why, str)},
        'postprocess': asdict(options),
        'tta': predictor.tta,
        'faint_shell_mm': SHELL_MM,
        'faint_cord_radius_mm': CORD_RADIUS_MM,
        'sclesion_version': __version__,
        'command_line': ['python', '-m', 'bids_app.evaluation', *argv],
    }
    out = args.out.expanduser().absolute()
    paths = write_outputs(out, table, evaluations, faint_contrast=args.faint_contrast, about=about)
    markdown = markdown_table(table)
    (out / 'table1.md').write_text(markdown + '\n')
    if args.plot:
        paths['table1.png'] = plot_table(out / 'table1.png', table, evaluations)
    logger.log(25, 'Table 1 of %d unit(s) in %s', len(evaluations), out)
    print(markdown)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sclesion-evaluate`` and ``python -m bids_app.evaluation``."""
    return console_main(build_parser, evaluate, argv)
