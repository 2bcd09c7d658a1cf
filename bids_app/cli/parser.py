"""The ``sclesion`` argument parser and its ``type=`` validators (CONVENTIONS section 1)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from bids_app import __version__
from bids_app.cli.train_args import add_study_arguments, add_training_arguments
from bids_app.cli.types import bids_filter, non_negative_float, positive_int, probability
from bids_app.slots import SLOTS, Slot

LEVELS = ('participant', 'group', 'train')
CENTERLINE_PROVIDERS = ('auto', 'masks', 'sct', 'builtin')


def _to_gb(value: str) -> float:
    """Memory as GB: ``16G``, ``16000M``, ``2T``; a bare number is MB (fMRIPrep's rule).

    >>> _to_gb('16G'), _to_gb('16000M'), _to_gb('8000')
    (16.0, 16.0, 8.0)
    """
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*', value.lower())
    if not match:
        raise argparse.ArgumentTypeError(
            f'cannot read {value!r} as memory; write e.g. 16G or 16000M'
        )
    number, unit = float(match.group(1)), match.group(2) or 'm'
    return number * {'k': 1e-6, 'm': 1e-3, 'g': 1.0, 't': 1e3}[unit]


def _existing_dir(value: str) -> Path:
    path = Path(value).expanduser().absolute()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f'{path} is not an existing folder')
    return path


def _existing_file(value: str) -> Path:
    path = Path(value).expanduser().absolute()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f'{path} is not an existing file')
    return path


def _device(value: str) -> str:
    if not re.fullmatch(r'auto|cpu|cuda(:\d+)?', value):
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a device; use auto, cpu, cuda or cuda:N'
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser; positional arguments first, as in the BIDS-Apps template."""
    parser = argparse.ArgumentParser(
        prog='sclesion',
        description='Multiple-sclerosis lesions in spinal-cord MRI from whichever sequences each '
        'subject has (mean imputation, Walsh et al. MICCAI 2024).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument('bids_dir', type=Path, help='the input BIDS dataset (never written to)')
    parser.add_argument(
        'output_dir',
        type=Path,
        help='where the derivatives go, e.g. <bids_dir>/derivatives/sclesion',
    )
    parser.add_argument(
        'analysis_level',
        nargs='+',
        choices=LEVELS,
        help='participant, group, or train; "participant group" runs both',
    )
    parser.add_argument('--version', action='version', version=f'sclesion v{__version__}')

    bids = parser.add_argument_group('selecting inputs')
    bids.add_argument(
        '--participant-label',
        '--participant_label',
        nargs='+',
        metavar='LABEL',
        help='subjects to process, with or without "sub-" (default: all)',
    )
    bids.add_argument(
        '--session-label',
        '--session-id',
        nargs='+',
        metavar='LABEL',
        help='sessions to process, with or without "ses-" (default: all)',
    )
    bids.add_argument(
        '--bids-filter-file',
        type=bids_filter,
        metavar='FILE',
        help='JSON {"<slot>": {"<entity>": value}} replacing the default query of a slot '
        f'(slots: {", ".join(SLOTS)}; null = entity absent, "*" = any value)',
    )
    bids.add_argument(
        '--ignore',
        nargs='+',
        default=[],
        choices=[s.value for s in SLOTS if s is not Slot.T2Sag],
        metavar='SLOT',
        help='leave these sequence slots out',
    )
    bids.add_argument(
        '--force-sequences',
        action='store_true',
        help='use every sequence found, even one whose cord centreline is far from the sagittal '
        "T2w's or uncertain (by default such a sequence is left out of inference, with a warning)",
    )
    bids.add_argument(
        '--cord-masks',
        type=_existing_dir,
        metavar='DIR',
        help='derivatives dataset with cord masks (_label-SC_seg), the first centreline provider',
    )
    bids.add_argument(
        '--labels',
        type=_existing_dir,
        metavar='DIR',
        help='derivatives dataset with reference lesion masks (_label-lesion_seg), '
        'for train and group',
    )
    bids.add_argument(
        '--lesion-label-suffix',
        metavar='SUFFIX',
        help='reference lesion file suffix to use, e.g. _desc-rater3_label-lesion_seg',
    )
    bids.add_argument(
        '--skip-bids-validation',
        '--skip_bids_validation',
        action='store_true',
        help='do not run the BIDS validator on the input',
    )

    model = parser.add_argument_group('model and inference')
    model.add_argument(
        '--model', metavar='NAME|DIR', help='a model folder or the name of a shipped model'
    )
    model.add_argument(
        '--threshold',
        type=probability,
        help="probability threshold of the mask; when not given, the model card's "
        '"postprocess" value, else 0.5',
    )
    model.add_argument(
        '--grow-threshold',
        type=probability,
        metavar='P',
        help='hysteresis: a lesion extends over the voxels of at least this probability '
        "connected to one at the threshold (never above it); when not given, the model card's "
        '"postprocess" value, else the threshold (plain thresholding)',
    )
    model.add_argument(
        '--min-lesion-mm3',
        type=non_negative_float,
        metavar='MM3',
        help="lesions smaller than this (mm^3) are removed; when not given, the model card's "
        '"postprocess" value, else 1.0',
    )
    model.add_argument('--device', type=_device, default='auto', help='auto, cpu, cuda or cuda:N')
    model.add_argument(
        '--tta', action=argparse.BooleanOptionalAction,
        help="mirroring test-time augmentation (twice the inference time); when not given, the "
        'model card\'s "postprocess" choice, else off',
    )  # fmt: skip
    model.add_argument(
        '--centerline',
        choices=CENTERLINE_PROVIDERS,
        default='auto',
        help='centreline provider: auto = cord masks if given, else SCT if on PATH, else built-in',
    )

    perf = parser.add_argument_group('performance and resources')
    perf.add_argument(
        '--nprocs',
        '--nthreads',
        '--n_cpus',
        '--n-cpus',
        type=positive_int,
        default=os.cpu_count() or 1,
        help='most threads across all processes',
    )
    perf.add_argument('--omp-nthreads', type=positive_int, help='most threads one process may use')
    perf.add_argument(
        '--mem',
        '--mem_mb',
        '--mem-mb',
        type=_to_gb,
        metavar='MEM',
        help='upper memory bound, e.g. 16G or 16000M (a bare number is MB)',
    )
    perf.add_argument(
        '--use-plugin', type=_existing_file, metavar='FILE', help='Nipype plugin YAML'
    )

    group = parser.add_argument_group('group level')
    group.add_argument(
        '--compare',
        nargs='+',
        type=_existing_dir,
        default=[],
        metavar='DIR',
        help='other sclesion output folders (models, variants) to compare with OUTPUT_DIR',
    )
    group.add_argument(
        '--group-by',
        nargs='+',
        default=[],
        metavar='COLUMN',
        help='participants.tsv columns to break the statistics down by, e.g. site',
    )
    group.add_argument(
        '--qc-ratings',
        type=_existing_file,
        metavar='FILE',
        help='ratings TSV saved from the group report: subjects rated fail leave the statistics',
    )

    train = parser.add_argument_group(
        'training (train level: OUTPUT_DIR becomes the model folder; needs --labels)'
    )
    add_training_arguments(train)
    train.add_argument(
        '--preprocess-only',
        action='store_true',
        help='pre-process and cache the cord frames, then stop (run this once before torchrun)',
    )
    add_study_arguments(
        parser.add_argument_group(
            'study (train level: every variant x seeds, then Tables 1 and 2; docs/study.md)'
        )
    )

    work = parser.add_argument_group('work directory, reruns and reports')
    work.add_argument(
        '-w',
        '--work-dir',
        type=Path,
        default=Path('work'),
        help='Nipype working directory (reused by reruns)',
    )
    work.add_argument(
        '--clean-workdir', action='store_true', help='empty the work directory first'
    )
    work.add_argument(
        '--overwrite', action='store_true', help='recompute outputs that already exist'
    )
    work.add_argument(
        '--stop-on-first-crash',
        action='store_true',
        help='stop at the first failure instead of processing the other subjects',
    )
    work.add_argument(
        '--dry-run',
        action='store_true',
        help='print the sequences found per subject and what would run; write nothing',
    )
    work.add_argument(
        '--boilerplate-only', action='store_true', help='write only logs/CITATION.md'
    )
    work.add_argument(
        '--reports-only',
        action='store_true',
        help='rebuild the HTML reports from existing figures',
    )
    work.add_argument('--write-graph', action='store_true', help='write the workflow graph')
    work.add_argument(
        '--resource-monitor', action='store_true', help="log the workflow's resource use"
    )
    work.add_argument(
        '--notrack',
        action='store_true',
        help='accepted for fMRIPrep habits: sclesion never tracks',
    )
    work.add_argument(
        '-v', '--verbose', action='count', default=0, help='more output (repeat: -vv, -vvv)'
    )
    return parser
