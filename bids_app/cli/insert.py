"""``sclesion-insert-lesions``: synthetic MS lesions in real scans with cord masks.

Writes a BIDS dataset that ``sclesion ... train`` and ``sclesion-evaluate`` read as they read
any labelled dataset: real anatomy for training, and for measuring on people left out.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bids_app import __version__
from bids_app.cli.console import console_main
from bids_app.cli.types import bids_filter, positive_float, positive_int
from bids_app.errors import DatasetError
from bids_app.insertion.dataset import InsertionConfig, write_insertions
from bids_app.insertion.regions import REGIONS
from bids_app.insertion.sources import plan_units

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``sclesion-insert-lesions``."""
    parser = argparse.ArgumentParser(
        prog='sclesion-insert-lesions',
        description='Insert synthetic MS lesions into real spinal-cord scans that have cord '
        "masks, each lesion around every sequence's own cord, with partial volume and a "
        'contrast per sequence; write them, and the scans without lesions, as a labelled BIDS '
        'dataset for training and evaluation.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument('source_dir', type=Path, help='BIDS dataset of real scans (read only)')
    parser.add_argument(
        'out_dir', type=Path, help='new folder, or a BIDS dataset to add the subjects to'
    )
    parser.add_argument(
        '--cord-masks', type=Path, metavar='DIR',
        help='derivatives folder with the cord masks (default: SOURCE_DIR/derivatives/labels)',
    )  # fmt: skip
    parser.add_argument('--copies', type=positive_int, default=8, help='lesion sets per scan')
    parser.add_argument(
        '--max-lesions', type=positive_int, default=5, help='each set has 1 to this many lesions'
    )
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--no-negatives', dest='negatives', action='store_false',
        help='do not write the unmodified scans (with empty lesion masks)',
    )  # fmt: skip
    parser.add_argument(
        '--region', choices=REGIONS, default='all',
        help='keep the whole scan, or the slices above / below the middle of the sagittal '
        "T2w's cord (to hold out a cord region when there is one person)",
    )  # fmt: skip
    parser.add_argument(
        '--pseudo-sagittal', action='store_true',
        help='where a subject has no sagittal T2w, let its axial T2w or T2*w stand in for it '
        '(written again as acq-pseudosag_T2w)',
    )  # fmt: skip
    parser.add_argument(
        '--sagittal-slice-mm', type=positive_float, metavar='MM',
        help='rebin each sagittal image (T2w, STIR; not a pseudo-sagittal stand-in) and its cord '
        'mask into slices MM thick left-right before inserting, as clinical 2D sagittal scans '
        'are acquired (2.5-4 mm), so that 3D scans of healthy people also teach and test that '
        'partial volume; output subjects are tagged sag<MM>mm',
    )  # fmt: skip
    parser.add_argument(
        '--participant-label', nargs='+', default=[], metavar='LABEL',
        help='source participants to use (default: all)',
    )  # fmt: skip
    parser.add_argument(
        '--bids-filter-file', type=bids_filter, metavar='FILE',
        help="slot queries as for sclesion's participant level",
    )  # fmt: skip
    parser.add_argument('-v', '--verbose', action='count', default=0, help='more log output')
    parser.add_argument('--version', action='version', version=f'sclesion v{__version__}')
    return parser


def _insert(args: argparse.Namespace, argv: list[str]) -> int:
    config = InsertionConfig(
        copies=args.copies,
        max_lesions=args.max_lesions,
        seed=args.seed,
        negatives=args.negatives,
        region=args.region,
        sagittal_slice_mm=args.sagittal_slice_mm,
    )
    masks = args.cord_masks or args.source_dir / 'derivatives' / 'labels'
    if not (args.source_dir / 'dataset_description.json').is_file():
        raise DatasetError(
            f'{args.source_dir} has no dataset_description.json; give a BIDS dataset'
        )
    if not masks.is_dir():
        raise DatasetError(f'no cord-mask folder {masks}; give one with --cord-masks')
    units = plan_units(
        args.source_dir,
        masks,
        participant_labels=[label.removeprefix('sub-') for label in args.participant_label],
        bids_filters=args.bids_filter_file,
        pseudo_sagittal=args.pseudo_sagittal,
    )
    if not units:
        raise DatasetError(
            f'no subject of {args.source_dir} has a sagittal T2w with a cord mask in {masks}'
            + ('' if args.pseudo_sagittal else '; --pseudo-sagittal uses axial images')
        )
    written, lesions = write_insertions(args.source_dir, args.out_dir, units, config)
    logger.log(25, 'wrote %d subjects, %d lesions, to %s', written, lesions, args.out_dir)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sclesion-insert-lesions``; returns the exit code."""
    return console_main(build_parser, _insert, argv)


if __name__ == '__main__':
    sys.exit(main())
