"""The group level: every unit's outputs -> group TSVs (+ JSON sidecars) and the group report.

Files written in OUTPUT_DIR (CONVENTIONS section 4; ``group_*`` is in ``.bidsignore``):
``group_lesions.tsv`` (one row per subject/session, whatever its status), ``group_summary.tsv``
(means, medians and std overall, by sequence set and by ``--group-by`` column),
``group_eval.tsv`` (with ``--labels``), ``group_compare.tsv`` (with ``--compare``) and
``group_lesions.html``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bids_app.derivatives import file_mode, write_json, write_tsv
from bids_app.discovery import Unit
from bids_app.group.collect import Status, UnitRecord, check_output_dir, collect_outputs
from bids_app.group.compare import COMPARE_COLUMNS, compare_models, model_labels
from bids_app.group.evaluate import EVAL_COLUMNS, SUMMARISED, evaluate_records
from bids_app.group.qc import Rating, excluded_units, read_ratings
from bids_app.group.report import LOAD, GroupTables, build_page
from bids_app.group.summary import SUMMARY_COLUMNS, check_group_by, summarise
from bids_app.group.tables import group_rows, read_participants

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupResult:
    """What the group level wrote and found.

    Attributes
    ----------
    report : Path
        ``group_lesions.html``.
    tables : tuple of Path
        Every TSV written (each has a same-name JSON).
    counts : dict
        Units per status (``done``, ``failed``, ``skipped``, ``not_run``).
    n_evaluated : int
        Units compared with a reference label in OUTPUT_DIR.
    excluded : tuple of str
        Units rated fail and left out of the statistics.
    """

    report: Path
    tables: tuple[Path, ...]
    counts: dict[str, int]
    n_evaluated: int
    excluded: tuple[str, ...]


def _write_table(
    path: Path, rows: Sequence[Mapping[str, object]], columns: Mapping[str, object]
) -> Path:
    write_json(path.with_suffix('.json'), columns)
    return write_tsv(path, rows, list(columns))


def _write_text(path: Path, text: str) -> Path:
    """Write atomically: a temporary name in the same folder, then rename."""
    handle = tempfile.NamedTemporaryFile(
        'w', dir=path.parent, prefix=f'.{path.name}.', delete=False
    )
    with handle:
        handle.write(text)
    os.chmod(handle.name, file_mode())
    os.replace(handle.name, path)
    return path


def _metric_rows(records: Sequence[UnitRecord]) -> list[dict[str, object]]:
    """Lesion-load rows of the finished units (for comparisons without labels)."""
    return [
        {
            'participant_id': r.participant_id,
            'session_id': r.session_id,
            **{k: float(r.summary[k]) if r.summary.get(k) is not None else None for k in LOAD},
        }
        for r in records
        if r.status is Status.done
    ]


def run_group(
    bids_dir: Path,
    output_dir: Path,
    units: Sequence[Unit],
    *,
    labels_dir: Path | None = None,
    lesion_label_suffix: str | None = None,
    compare: Sequence[Path] = (),
    group_by: Sequence[str] = (),
    qc_ratings: Path | None = None,
) -> GroupResult:
    """Write the group tables and report of OUTPUT_DIR.

    Parameters
    ----------
    bids_dir : Path
        The input dataset (participants.tsv; the raw T2Sag chunks when labels are fused).
    output_dir : Path
        The participant level's output folder; the group files are written there.
    units : sequence of Unit
        Every discovered subject/session, runnable or not.
    labels_dir : Path, optional
        Reference lesion labels (``--labels``): adds ``group_eval.tsv`` and the accuracy plots.
    lesion_label_suffix : str, optional
        ``--lesion-label-suffix``.
    compare : sequence of Path
        Other sclesion output folders of the same units (``--compare``), tested against
        OUTPUT_DIR.
    group_by : sequence of str
        Columns of the group table (participants.tsv columns) to break the statistics down by.
    qc_ratings : Path, optional
        A ratings TSV saved from the group report; units rated fail leave the statistics.

    Raises
    ------
    DatasetError
        OUTPUT_DIR or a ``--compare`` folder is not a sclesion output, or holds no finished
        unit; a bad ratings file.
    UsageError
        A ``--group-by`` column that the group table does not have.
    """
    folders = [Path(output_dir), *(Path(c) for c in compare)]
    for folder in folders[1:]:
        check_output_dir(folder)
    records = collect_outputs(folders[0], units)
    others = [collect_outputs(folder, units) for folder in folders[1:]]
    names = model_labels(folders)
    ratings: dict[str, Rating] = read_ratings(qc_ratings) if qc_ratings else {}
    excluded = excluded_units(ratings, [u.name for u in units])
    if ratings:
        logger.log(
            25,
            'QC: %d subject/session(s) rated fail, left out of the statistics: %s',
            len(excluded),
            ', '.join(sorted(excluded)) or 'none',
        )
    rows, columns = group_rows(
        records, read_participants(Path(bids_dir)), {k: r.rating for k, r in ratings.items()}
    )
    check_group_by(group_by, list(columns))
    by = ['slots_used', *group_by]
    keep = [r for r in rows if r['status'] == Status.done and _key(r) not in excluded]
    summary = summarise(keep, LOAD, by)
    out = Path(output_dir)
    written = [_write_table(out / 'group_lesions.tsv', rows, columns)]
    evaluation: dict[str, list[dict[str, object]]] = {}
    tables = {names[0]: _metric_rows(records)}
    tables |= {name: _metric_rows(r) for name, r in zip(names[1:], others, strict=True)}
    if labels_dir is not None:
        joined = {_key(r): r for r in rows}
        for name, folder_records in zip(names, [records, *others], strict=True):
            evaluation[name] = [
                {**e, **{c: joined.get(_key(e), {}).get(c) for c in group_by}}
                for e in evaluate_records(
                    folder_records, Path(bids_dir), Path(labels_dir), lesion_label_suffix
                )
            ]
        eval_columns = {**EVAL_COLUMNS, **{c: columns[c] for c in group_by}}
        written.append(_write_table(out / 'group_eval.tsv', evaluation[names[0]], eval_columns))
        summary += summarise(
            [e for e in evaluation[names[0]] if _key(e) not in excluded], SUMMARISED, by
        )
        tables = evaluation
    written.insert(1, _write_table(out / 'group_summary.tsv', summary, SUMMARY_COLUMNS))
    comparison: list[dict[str, object]] = []
    if compare:
        metrics = SUMMARISED if labels_dir is not None else LOAD
        kept = {n: [r for r in t if _key(r) not in excluded] for n, t in tables.items()}
        comparison = compare_models(kept, metrics)
        written.append(_write_table(out / 'group_compare.tsv', comparison, COMPARE_COLUMNS))
    reports = {
        name: {
            r.unit.name: os.path.relpath(r.report, out) if r.report else None
            for r in folder_records
        }
        for name, folder_records in zip(names, [records, *others], strict=True)
    }
    page = build_page(
        GroupTables(
            units=rows,
            unit_columns=list(columns),
            evaluation=evaluation,
            summary=summary,
            comparison=comparison,
            reports=reports,
            ratings=ratings,
            excluded=excluded,
            files=[p.name for p in written],
        )
    )
    report = _write_text(out / 'group_lesions.html', page)
    counts = Counter(str(r.status) for r in records)
    n_evaluated = len(evaluation.get(names[0], []))
    logger.log(
        25,
        'group: %d subject/session(s) (%s); %d evaluated against reference labels; report %s',
        len(records),
        ', '.join(f'{counts.get(s, 0)} {s}' for s in Status),
        n_evaluated,
        report,
    )
    return GroupResult(
        report=report,
        tables=tuple(written),
        counts={str(s): counts.get(str(s), 0) for s in Status},
        n_evaluated=n_evaluated,
        excluded=tuple(sorted(excluded)),
    )


def _key(row: Mapping[str, object]) -> str:
    """``sub-<s>[_ses-<t>]`` of a table row."""
    session = row.get('session_id')
    name = str(row['participant_id'])
    return name + (f'_{session}' if session else '')
