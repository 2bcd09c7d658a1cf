"""``python -m bids_app.study STUDY_DIR``: remake a study's tables and page from its folder.

Needs nothing but the study folder (``study.json``, ``test_units.tsv``, the runs' cards and
scores): no dataset, no model is loaded. Table 2 goes to stdout as markdown.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from bids_app import __version__
from bids_app.cli.console import console_main
from bids_app.study.report import make_report

logger = logging.getLogger('bids_app')


def build_parser() -> argparse.ArgumentParser:
    """The parser of the tables command."""
    parser = argparse.ArgumentParser(
        prog='python -m bids_app.study',
        description='Remake Tables 1 and 2 and study.html of a study '
        '(sclesion BIDS_DIR OUTPUT_DIR train --study variants) from its output folder.',
    )
    parser.add_argument('study_dir', type=Path, help='the OUTPUT_DIR of the study')
    parser.add_argument('-v', '--verbose', action='count', default=0, help='more output')
    parser.add_argument('--version', action='version', version=f'sclesion v{__version__}')
    return parser


def _tables(args: argparse.Namespace, argv: list[str]) -> int:
    paths = make_report(args.study_dir)
    print(paths['table2.md'].read_text(), end='')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 when the folder holds no study)."""
    return console_main(build_parser, _tables, argv)
