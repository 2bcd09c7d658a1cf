"""The group table: one row per subject/session, with participants.tsv joined in.

Lesions are counted per vertebra (``n_lesions_C3``, ``volume_mm3_C3``... from each unit's levels
summary; n/a where its discs could not be named) and per region along the cord: a fixed band of
:data:`REGION_BAND_MM` of arc length along the cord centreline, counted from the top of the cord
frame (the per-lesion ``distance_along_cord_mm``), which needs no level.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bids_app.derivatives import SUMMARY_COLUMNS
from bids_app.group.collect import SUMMARY_NUMBERS, Status, UnitRecord, read_tsv
from bids_app.slots import SLOTS
from bids_app.vertebrae import VERTEBRAE

logger = logging.getLogger(__name__)

#: Width of a region along the cord, in mm of arc length from the top of the cord frame.
REGION_BAND_MM = 50.0

BASE_COLUMNS: dict[str, dict[str, str]] = {
    'participant_id': SUMMARY_COLUMNS['participant_id'],
    'session_id': SUMMARY_COLUMNS['session_id'],
    'status': {
        'Description': 'Outcome of the participant level',
        'Levels': {
            'done': 'outputs written',
            'failed': 'the unit failed; see reason',
            'skipped': 'the unit cannot run (no sagittal T2w); see reason',
            'not_run': 'no output and no crash file: the participant level did not run it',
        },
    },
    'reason': {'Description': 'Why the unit failed, was skipped or did not run'},
    'slots_found': {'Description': 'Comma-separated sequence slots found in the input dataset'},
    'slots_used': SUMMARY_COLUMNS['slots_used'],
    'n_lesions': SUMMARY_COLUMNS['n_lesions'],
    'total_volume_mm3': SUMMARY_COLUMNS['total_volume_mm3'],
    'centerline_provider': SUMMARY_COLUMNS['centerline_provider'],
    'model': SUMMARY_COLUMNS['model'],
    'threshold': SUMMARY_COLUMNS['threshold'],
    'grow_threshold': SUMMARY_COLUMNS['grow_threshold'],
    'min_lesion_mm3': SUMMARY_COLUMNS['min_lesion_mm3'],
    'qc_rating': {
        'Description': 'Visual QC rating (--qc-ratings); fail leaves the unit out of statistics',
        'Levels': {'pass': 'good', 'fail': 'unusable', 'artefact': 'usable with artefacts'},
    },
}


def region_edges(max_distance_mm: float, band_mm: float = REGION_BAND_MM) -> NDArray[np.float64]:
    """Edges of the bands along the cord that cover ``[0, max_distance_mm]``.

    Examples
    --------
    >>> region_edges(120.0).tolist()
    [0.0, 50.0, 100.0, 150.0]
    >>> region_edges(0.0).tolist()
    [0.0, 50.0]
    """
    n = max(1, math.floor(max_distance_mm / band_mm) + 1)
    return np.arange(n + 1, dtype=float) * band_mm


def region_counts(distances_mm: ArrayLike, edges: ArrayLike) -> NDArray[np.int64]:
    """Lesions per band ``[edges[k], edges[k+1])``; distances outside every band are not counted.

    Parameters
    ----------
    distances_mm : (N,) array
        Each lesion's arc length along the cord from the top of the cord frame, mm.
    edges : (B + 1,) array
        Increasing band edges, mm.

    Returns
    -------
    (B,) int array

    Examples
    --------
    >>> region_counts([0.0, 49.9, 50.0, 130.0], [0.0, 50.0, 100.0, 150.0]).tolist()
    [2, 1, 1]
    """
    distances = np.asarray(distances_mm, dtype=float)
    edges = np.asarray(edges, dtype=float)
    index = np.searchsorted(edges, distances, side='right') - 1
    valid = (index >= 0) & (index < len(edges) - 1)
    return np.bincount(index[valid], minlength=len(edges) - 1).astype(np.int64)


def region_column(low: float, high: float) -> str:
    """``n_lesions_<low>_<high>mm``.

    >>> region_column(50.0, 100.0)
    'n_lesions_50_100mm'
    """
    return f'n_lesions_{low:g}_{high:g}mm'


def level_columns(records: Sequence[UnitRecord]) -> dict[str, dict[str, object]]:
    """``n_lesions_<vertebra>`` and ``volume_mm3_<vertebra>`` for each vertebra any unit has
    lesions at, down the spine."""
    seen = {level for r in records for level in (r.levels or {})}
    columns: dict[str, dict[str, object]] = {}
    for level in (v for v in VERTEBRAE if v in seen):
        columns[f'n_lesions_{level}'] = {
            'Description': f'Lesions with voxels at vertebra {level} (one may span several); '
            'n/a when the intervertebral discs could not be named'
        }
        columns[f'volume_mm3_{level}'] = {
            'Description': f'Lesion volume at vertebra {level}; n/a when the discs could not '
            'be named',
            'Units': 'mm^3',
        }
    return columns


def level_values(record: UnitRecord, columns: Mapping[str, object]) -> dict[str, object]:
    """A done unit's per-vertebra cells: 0 at a vertebra without lesions, None when unknown."""
    values: dict[str, object] = {}
    for column in columns:
        for prefix, index in (('n_lesions_', 0), ('volume_mm3_', 1)):
            level = column.removeprefix(prefix)
            if column.startswith(prefix) and level in VERTEBRAE:
                load = None if record.levels is None else record.levels.get(level, (0, 0.0))
                values[column] = None if load is None else load[index]
    return values


def read_participants(bids_dir: Path) -> dict[str, dict[str, str | None]]:
    """``participants.tsv`` as participant_id -> its other columns (empty without the file)."""
    path = bids_dir / 'participants.tsv'
    if not path.is_file():
        logger.info('%s is absent: no participant columns in the group table', path)
        return {}
    rows = read_tsv(path)
    return {
        str(row['participant_id']): {k: v for k, v in row.items() if k != 'participant_id'}
        for row in rows
        if row.get('participant_id')
    }


def _distances(record: UnitRecord) -> list[float]:
    return [
        float(row['distance_along_cord_mm'])
        for row in record.lesions
        if row.get('distance_along_cord_mm') is not None
    ]


def group_rows(
    records: Sequence[UnitRecord],
    participants: Mapping[str, Mapping[str, str | None]],
    ratings: Mapping[str, str],
    band_mm: float = REGION_BAND_MM,
) -> tuple[list[dict[str, object]], dict[str, dict[str, object]]]:
    """Rows of ``group_lesions.tsv`` and the descriptions of their columns.

    Parameters
    ----------
    records : sequence of UnitRecord
        Every unit, whatever its status.
    participants : mapping
        participant_id -> participants.tsv columns (joined after the base columns).
    ratings : mapping
        Unit name (``sub-<s>[_ses-<t>]``) -> QC rating.
    band_mm : float
        Width of a region along the cord.

    Returns
    -------
    rows : list of dict
        One per record, column -> value (None for ``n/a``).
    columns : dict
        Column -> ``{'Description', 'Units'...}``, in table order.
    """
    distances = [d for r in records for d in _distances(r)]
    edges = region_edges(max(distances, default=0.0), band_mm)
    columns: dict[str, dict[str, object]] = dict(BASE_COLUMNS)
    for low, high in itertools.pairwise(edges):
        columns[region_column(low, high)] = {
            'Description': f'Lesions whose centroid lies {low:g} to {high:g} mm along the cord '
            'centreline from the top of the cord frame',
        }
    columns |= level_columns(records)
    extra = sorted({key for row in participants.values() for key in row} - set(columns))
    for key in extra:
        columns[key] = {'Description': f'{key} from the input participants.tsv'}
    rows = []
    for record in records:
        summary = record.summary
        found = [str(s) for s in SLOTS if s in record.unit.slots]
        row: dict[str, object] = {
            'participant_id': record.participant_id,
            'session_id': record.session_id,
            'status': str(record.status),
            'reason': record.reason,
            'slots_found': ','.join(found) or None,
            'qc_rating': ratings.get(record.unit.name),
        }
        for key in ('slots_used', 'centerline_provider', 'model'):
            row[key] = summary.get(key)
        for key in SUMMARY_NUMBERS:
            value = summary.get(key)
            row[key] = float(value) if value is not None else None
        if row['n_lesions'] is not None:
            row['n_lesions'] = int(row['n_lesions'])
        if record.status is Status.done:
            counts = region_counts(_distances(record), edges)
            for low, high, count in zip(edges[:-1], edges[1:], counts, strict=True):
                row[region_column(low, high)] = int(count)
            row |= level_values(record, columns)
        joined = participants.get(record.participant_id, {})
        row.update({key: joined.get(key) for key in extra})
        rows.append(row)
    return rows, columns
