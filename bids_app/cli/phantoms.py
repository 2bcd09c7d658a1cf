"""``sclesion-phantoms``: write a BIDS dataset of synthetic spines (tests, demos, training)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bids_app import __version__
from bids_app.cli.console import IMPORTANT, console_main
from bids_app.cli.types import positive_int
from bids_app.phantoms.dataset import write_dataset

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``sclesion-phantoms``."""
    parser = argparse.ArgumentParser(
        prog='sclesion-phantoms',
        description='Write a BIDS dataset of synthetic spinal-cord MRI with MS-like lesions, '
        'with reference cord and lesion masks in derivatives/labels.',
    )
    parser.add_argument(
        'out_dir', type=Path, help='folder to create (must not exist, or be empty)'
    )
    parser.add_argument('--n-subjects', type=positive_int, default=1, help='default: 1')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed (default: 0)')
    parser.add_argument(
        '--small', action='store_true', help='cervical-only subjects with small images (fast)'
    )
    parser.add_argument(
        '--sessions', type=positive_int, default=1, help='sessions per subject (default: 1)'
    )
    parser.add_argument(
        '--all-sequences', action='store_true', help='every session gets all six sequences'
    )
    parser.add_argument('-v', '--verbose', action='count', default=0, help='more log output')
    parser.add_argument('--version', action='version', version=f'sclesion v{__version__}')
    return parser


def _phantoms(args: argparse.Namespace, argv: list[str]) -> int:
    written = write_dataset(
        args.out_dir,
        args.n_subjects,
        args.seed,
        small=args.small,
        sessions=args.sessions,
        all_sequences=args.all_sequences,
    )
    logger.log(IMPORTANT, 'wrote %d images to %s', len(written.images), written.root)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sclesion-phantoms``; returns the exit code (0, or the error's exit code)."""
    return console_main(build_parser, _phantoms, argv)


if __name__ == '__main__':
    sys.exit(main())
