"""Visual QC ratings, as raters give them in SCT's QC index: pass, fail or artefact per unit.

The group report lets a rater mark each subject/session in the browser and save the marks as a
TSV (``participant_id session_id rating note``); ``group --qc-ratings FILE`` reads it back, and
units rated ``fail`` are left out of the statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bids_app.errors import DatasetError
from bids_app.group.collect import read_tsv

logger = logging.getLogger(__name__)

RATINGS = ('pass', 'fail', 'artefact')
#: Ratings that leave a unit out of the statistics.
EXCLUDING = frozenset({'fail'})
COLUMNS = ('participant_id', 'session_id', 'rating', 'note')


@dataclass(frozen=True)
class Rating:
    """One unit's QC mark."""

    rating: str
    note: str


def unit_name(participant_id: str, session_id: str | None) -> str:
    """``sub-<s>[_ses-<t>]`` from BIDS ids, prefixes optional.

    >>> unit_name('01', 'ses-M0'), unit_name('sub-01', None)
    ('sub-01_ses-M0', 'sub-01')
    """
    name = f'sub-{participant_id.removeprefix("sub-")}'
    return name + (f'_ses-{session_id.removeprefix("ses-")}' if session_id else '')


def read_ratings(path: Path) -> dict[str, Rating]:
    """Ratings by unit name from a ratings TSV; unrated rows (empty rating) are ignored.

    Raises
    ------
    DatasetError
        A missing column, an unknown rating, or one unit rated twice.
    """
    rows = read_tsv(path)
    header = set(rows[0]) if rows else set(COLUMNS)
    missing = [c for c in ('participant_id', 'rating') if c not in header]
    if missing:
        raise DatasetError(
            f'{path}: missing column(s) {", ".join(missing)}; save the ratings from the group '
            'report, or write columns participant_id, session_id, rating, note'
        )
    ratings: dict[str, Rating] = {}
    for line, row in enumerate(rows, start=2):
        if not row.get('participant_id') or not row.get('rating'):
            continue
        rating = str(row['rating']).strip().lower()
        if rating not in RATINGS:
            raise DatasetError(
                f'{path} line {line}: rating {row["rating"]!r} is not one of {", ".join(RATINGS)}'
            )
        name = unit_name(str(row['participant_id']), row.get('session_id'))
        if name in ratings:
            raise DatasetError(f'{path} line {line}: {name} is rated twice; keep one row')
        ratings[name] = Rating(rating, row.get('note') or '')
    logger.info('read %d QC rating(s) from %s', len(ratings), path)
    return ratings


def excluded_units(ratings: Mapping[str, Rating], known: Iterable[str]) -> set[str]:
    """Units rated ``fail``; ratings of units not in ``known`` are logged and ignored."""
    known = set(known)
    strangers = sorted(set(ratings) - known)
    if strangers:
        logger.warning(
            'QC ratings for unknown subject/session(s) ignored: %s', ', '.join(strangers)
        )
    return {name for name, r in ratings.items() if r.rating in EXCLUDING and name in known}
