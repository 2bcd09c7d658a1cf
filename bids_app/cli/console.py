"""What every console script shares: logging to stderr and one error line with its exit code.

Each of ``sclesion``, ``sclesion-phantoms``, ``sclesion-insert-lesions``, ``sclesion-evaluate``
and ``sclesion-study-tables`` is ``console_main(build_parser, command, argv)``: parse (``--help``
and ``--version`` exit 0, usage errors 2), set up logging from ``-v``, run, and turn a
:class:`~bids_app.errors.SclesionError` into its one-line message and exit code (CONVENTIONS
section 1); the traceback is logged at debug level (``-vvv``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from bids_app.errors import SclesionError

logger = logging.getLogger('bids_app')

#: Log levels between INFO and WARNING, and between DEBUG and INFO.
IMPORTANT, VERBOSE = 25, 15


def setup_logging(verbosity: int) -> None:
    """``-v`` count to level: 25 (IMPORTANT) by default, then INFO, VERBOSE (15), DEBUG."""
    logging.addLevelName(IMPORTANT, 'IMPORTANT')
    logging.addLevelName(VERBOSE, 'VERBOSE')
    level = max(IMPORTANT - 5 * verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(asctime)s [%(levelname)s] %(message)s', '%H:%M:%S'))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def console_main(
    build_parser: Callable[[], argparse.ArgumentParser],
    command: Callable[[argparse.Namespace, list[str]], int],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run ``command(args, argv)``; the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    setup_logging(getattr(args, 'verbose', 0))
    os.environ.setdefault('NIPYPE_NO_ET', '1')  # no version check over the network
    try:
        return command(args, argv)
    except SclesionError as exc:
        logger.debug('traceback', exc_info=True)
        logger.error('%s', exc)
        return exc.exit_code
