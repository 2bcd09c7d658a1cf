"""``argparse`` value types shared by the command lines of sclesion."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from bids_app.slots import SLOTS


def positive_int(value: str) -> int:
    """An integer of at least 1.

    >>> positive_int('3')
    3
    """
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'{value!r} is not a whole number') from exc
    if number < 1:
        raise argparse.ArgumentTypeError(f'{value} must be at least 1')
    return number


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'{value!r} is not a number') from exc


def probability(value: str) -> float:
    """A number strictly between 0 and 1 (a probability threshold).

    >>> probability('0.4')
    0.4
    """
    number = _number(value)
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(f'{value} must lie strictly between 0 and 1')
    return number


def non_negative_float(value: str) -> float:
    """A finite number of at least 0 (a size, a volume).

    >>> non_negative_float('0')
    0.0
    """
    number = _number(value)
    if not 0.0 <= number < math.inf:
        raise argparse.ArgumentTypeError(f'{value} must be a finite number of at least 0')
    return number


def positive_float(value: str) -> float:
    """A finite number above 0 (a thickness).

    >>> positive_float('2.5')
    2.5
    """
    number = _number(value)
    if not 0.0 < number < math.inf:
        raise argparse.ArgumentTypeError(f'{value} must be a finite number above 0')
    return number


def fraction(value: str) -> float:
    """A number from 0 to 1, both included (a share of subjects).

    >>> fraction('0.25')
    0.25
    """
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f'{value} must lie between 0 and 1')
    return number


def bids_filter(value: str) -> dict[str, dict[str, Any]]:
    """Read and check a ``--bids-filter-file``: keys are slot names, values entity dicts."""
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f'filter file {path} does not exist')
    try:
        filters = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f'filter file {path} is not valid JSON: {exc}') from exc
    if not isinstance(filters, dict):
        raise argparse.ArgumentTypeError(
            f'filter file {path} must hold a JSON object {{"<slot>": {{"<entity>": value}}}}'
        )
    for key, query in filters.items():
        if key not in SLOTS:
            raise argparse.ArgumentTypeError(
                f'filter file {path}: unknown slot {key!r}; use one of {", ".join(SLOTS)}'
            )
        if not isinstance(query, dict):
            raise argparse.ArgumentTypeError(
                f'filter file {path}: the value of {key!r} must be an object of entities'
            )
    return filters
