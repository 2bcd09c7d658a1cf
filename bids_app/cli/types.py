"""``argparse`` value types shared by the command lines of sclesion."""

from __future__ import annotations

import argparse


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
