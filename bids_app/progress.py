"""One progress-bar helper for every long loop (discovery, pre-processing, inference, training)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar('T')


def progress_enabled() -> bool:
    """Bars show only on an interactive stderr, and never with ``SCLESION_PROGRESS=off``."""
    if os.environ.get('SCLESION_PROGRESS', '').lower() in {'off', '0', 'false', 'no'}:
        return False
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, **kwargs) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar that turns itself off when nobody can see it."""
    return tqdm(iterable, desc=desc, total=total, disable=not progress_enabled(), **kwargs)
