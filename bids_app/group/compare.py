"""Several output folders (models or variants) side by side, as the paper's Table 2.

Each metric is summarised per output folder, and each folder after the first is tested against
the first with a two-sided Wilcoxon signed-rank test on the units both have
(:func:`bids_app.stats.wilcoxon_paired`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bids_app.stats import describe, wilcoxon_paired

COMPARE_COLUMNS: dict[str, dict[str, str]] = {
    'model': {'Description': 'Output folder (the first is the reference of the tests)'},
    'metric': {'Description': 'Metric compared'},
    'n': {'Description': 'Units with a value'},
    'mean': {'Description': 'Mean over the units with a value'},
    'median': {'Description': 'Median over the units with a value'},
    'std': {'Description': 'Sample standard deviation (ddof = 1)'},
    'n_pairs': {'Description': 'Units with a value here and in the first folder'},
    'wilcoxon_statistic': {
        'Description': 'Wilcoxon signed-rank statistic min(W+, W-) against the first folder'
    },
    'p_value': {'Description': 'Two-sided p-value of the Wilcoxon signed-rank test'},
    'note': {'Description': 'Pairs left out or why the test is degenerate'},
}


def model_labels(folders: Sequence[Path]) -> list[str]:
    """Short unique names of output folders: the folder name, with parents where needed.

    >>> model_labels([Path('/a/x/out'), Path('/a/y/out'), Path('/b/base')])
    ['x/out', 'y/out', 'base']
    """
    depth = [1] * len(folders)
    while True:
        names = ['/'.join(f.parts[-d:]) for f, d in zip(folders, depth, strict=True)]
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            return names
        depth = [d + 1 if n in clashes else d for n, d in zip(names, depth, strict=True)]
        if all(d >= len(f.parts) for f, d in zip(folders, depth, strict=True)):
            return [str(f) for f in folders]


def _key(row: Mapping[str, object]) -> tuple[object, object]:
    return row.get('participant_id'), row.get('session_id')


def _values(rows: Sequence[Mapping[str, object]], metric: str) -> dict[tuple, float]:
    return {
        _key(r): math.nan if r.get(metric) is None else float(r[metric])  # type: ignore[arg-type]
        for r in rows
    }


def compare_models(
    tables: Mapping[str, Sequence[Mapping[str, object]]], metrics: Sequence[str]
) -> list[dict[str, object]]:
    """Per-folder summaries and paired tests against the first folder.

    Parameters
    ----------
    tables : mapping
        Folder name -> its per-unit rows (``participant_id``, ``session_id`` and the metrics),
        the reference folder first.
    metrics : sequence of str
        Columns to compare.

    Returns
    -------
    list of dict
        One row per metric and folder, columns of :data:`COMPARE_COLUMNS`; the tests are
        ``n/a`` on the first folder's rows.

    Examples
    --------
    >>> base = [{'participant_id': f'sub-{d}', 'dice': d} for d in (1, 2, 3, 4, 5)]
    >>> other = [{'participant_id': f'sub-{d}', 'dice': 2 * d} for d in (1, 2, 3, 4, 5)]
    >>> rows = compare_models({'base': base, 'other': other}, ['dice'])
    >>> rows[1]['model'], rows[1]['mean'], rows[1]['n_pairs'], rows[1]['p_value']
    ('other', 6.0, 5, 0.0625)
    """
    names = list(tables)
    out = []
    for metric in metrics:
        reference = _values(tables[names[0]], metric)
        for index, name in enumerate(names):
            values = _values(tables[name], metric)
            summary = describe(list(values.values()))
            row: dict[str, object] = {
                'model': name,
                'metric': metric,
                'n': summary.n,
                'mean': summary.mean,
                'median': summary.median,
                'std': summary.std,
            }
            if index:
                keys = sorted(set(reference) | set(values), key=str)
                test = wilcoxon_paired(
                    [values.get(k, math.nan) for k in keys],
                    [reference.get(k, math.nan) for k in keys],
                )
                row |= {
                    'n_pairs': test.n_pairs,
                    'wilcoxon_statistic': test.statistic,
                    'p_value': test.p_value,
                    'note': test.note or None,
                }
            out.append(row)
    return out
