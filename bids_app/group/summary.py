"""Means, medians and standard deviations of per-unit metrics, overall and by group.

Groups are the set of sequences the model was given (``slots_used``) and any column the user
names with ``--group-by`` (a participants.tsv column such as ``site``). Each summary comes from
:func:`bids_app.stats.describe`, which leaves ``nan`` values out and says how many.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bids_app.errors import UsageError
from bids_app.stats import describe

SUMMARY_COLUMNS: dict[str, dict[str, str]] = {
    'group_by': {'Description': 'Column the units are grouped by; "all" for every unit'},
    'group': {'Description': 'Value of that column (n/a where a unit has none)'},
    'metric': {'Description': 'Metric summarised (a column of group_eval.tsv)'},
    'n': {'Description': 'Units with a value'},
    'n_missing': {'Description': 'Units in the group whose value is undefined (n/a)'},
    'mean': {'Description': 'Mean over the units with a value'},
    'median': {'Description': 'Median over the units with a value'},
    'std': {'Description': 'Sample standard deviation (ddof = 1); n/a below two values'},
}


def _number(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _group_value(row: Mapping[str, object], column: str) -> str:
    value = row.get(column)
    return 'n/a' if value is None else str(value)


def check_group_by(group_by: Sequence[str], available: Sequence[str]) -> None:
    """Raise :class:`UsageError` for a ``--group-by`` column that no table has."""
    unknown = [c for c in group_by if c not in available]
    if unknown:
        raise UsageError(
            f'--group-by {" ".join(unknown)}: no such column; choose among '
            f'{", ".join(sorted(available))}'
        )


def summarise(
    rows: Sequence[Mapping[str, object]], metrics: Sequence[str], group_by: Sequence[str] = ()
) -> list[dict[str, object]]:
    """Summary rows: every metric over all rows, then per value of each ``group_by`` column.

    Parameters
    ----------
    rows : sequence of mapping
        One per unit; each has the ``metrics`` (None or ``nan`` where undefined) and the
        ``group_by`` columns.
    metrics : sequence of str
        Columns to summarise.
    group_by : sequence of str
        Columns to group by, in order; groups are sorted by value, ``n/a`` last.

    Returns
    -------
    list of dict
        The columns of :data:`SUMMARY_COLUMNS`.

    Examples
    --------
    >>> rows = [{'dice': 0.5, 'site': 'A'}, {'dice': 1.0, 'site': 'B'}, {'dice': 0.0, 'site': 'A'}]
    >>> [(r['group'], r['mean']) for r in summarise(rows, ['dice'], ['site'])]
    [('all', 0.5), ('A', 0.25), ('B', 1.0)]
    """
    groups: list[tuple[str, str, list[Mapping[str, object]]]] = [('all', 'all', list(rows))]
    for column in group_by:
        values = {_group_value(r, column) for r in rows}
        for value in sorted(values, key=lambda v: (v == 'n/a', v)):
            members = [r for r in rows if _group_value(r, column) == value]
            groups.append((column, value, members))
    out = []
    for column, value, members in groups:
        for metric in metrics:
            summary = describe([_number(r.get(metric)) for r in members])
            out.append(
                {
                    'group_by': column,
                    'group': value,
                    'metric': metric,
                    'n': summary.n,
                    'n_missing': summary.n_missing,
                    'mean': summary.mean,
                    'median': summary.median,
                    'std': summary.std,
                }
            )
    return out
