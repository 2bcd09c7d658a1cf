"""Put the group report together: ``OUTPUT_DIR/group_lesions.html`` (MRIQC group-report style).

Sections: summary (unit counts, QC, the TSVs), every subject/session with its status, reason,
report link and the QC rater, lesion load, accuracy against the reference labels (strip and box
plots per metric, metric against lesion load, Bland-Altman of lesion volume, breakdown by
sequence set and by ``--group-by`` column) and the comparison of output folders.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bids_app import __version__
from bids_app.group import html
from bids_app.group.collect import Status
from bids_app.group.plots import Point, bland_altman_plot, scatter_plot, strip_plot
from bids_app.group.qc import Rating, unit_name

#: Metrics drawn in the accuracy plots.
PLOTTED = ('dice', 'f1', 'sensitivity', 'precision')
LOAD = ('n_lesions', 'total_volume_mm3')
#: Vertical range of score plots (scores lie in [0, 1]).
SCORE_LIMITS = (-0.05, 1.05)


@dataclass(frozen=True)
class GroupTables:
    """Everything the report shows; rows are those written to the TSVs.

    Attributes
    ----------
    units : list of dict
        ``group_lesions.tsv`` rows, every unit.
    unit_columns : list of str
        Its columns.
    evaluation : dict
        Output folder name -> ``group_eval.tsv`` rows (the primary folder first); empty without
        ``--labels``.
    summary : list of dict
        ``group_summary.tsv`` rows.
    comparison : list of dict
        ``group_compare.tsv`` rows; empty without ``--compare``.
    reports : dict
        Output folder name -> unit name -> link to its subject report (relative to the page).
    ratings : dict
        Unit name -> QC rating read back.
    excluded : set of str
        Units left out of the statistics (rated fail).
    files : list of str
        The TSVs written, relative to the page.
    """

    units: list[dict[str, object]]
    unit_columns: list[str]
    evaluation: dict[str, list[dict[str, object]]]
    summary: list[dict[str, object]]
    comparison: list[dict[str, object]]
    reports: dict[str, dict[str, str | None]]
    ratings: dict[str, Rating] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)


def _name(row: Mapping[str, object]) -> str:
    session = row.get('session_id')
    return unit_name(str(row['participant_id']), str(session) if session else None)


def _value(row: Mapping[str, object], key: str) -> float:
    value = row.get(key)
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _points(
    rows: Sequence[Mapping[str, object]], key: str, links: Mapping[str, str | None]
) -> list[Point]:
    return [Point(_value(r, key), _name(r), links.get(_name(r))) for r in rows]


def _summary_section(tables: GroupTables) -> str:
    counts = Counter(str(r['status']) for r in tables.units)
    parts = [
        html.paragraph(
            f'{len(tables.units)} subject/session(s): '
            + ', '.join(f'{counts.get(s, 0)} {s}' for s in Status)
            + f'. sclesion {__version__}.'
        )
    ]
    if tables.ratings:
        parts.append(
            html.paragraph(
                f'QC ratings read for {len(tables.ratings)} subject/session(s); '
                f'{len(tables.excluded)} rated fail and left out of the statistics'
                + (f': {", ".join(sorted(tables.excluded))}.' if tables.excluded else '.'),
                'note',
            )
        )
    problems = [r for r in tables.units if r['status'] != Status.done]
    if problems:
        parts.append(
            html.paragraph(
                f'{len(problems)} subject/session(s) have no lesion outputs; their reasons are '
                'in the table below.',
                'note',
            )
        )
    return ''.join(parts) + html.links(tables.files)


def _load_section(tables: GroupTables, primary: str) -> str:
    used = [
        r for r in tables.units if r['status'] == Status.done and _name(r) not in tables.excluded
    ]
    links = tables.reports[primary]
    by_set: dict[str, dict[str, list[Point]]] = {key: {} for key in LOAD}
    for row in used:
        for key in LOAD:
            by_set[key].setdefault(str(row.get('slots_used')), []).append(
                Point(_value(row, key), _name(row), links.get(_name(row)))
            )
    plot = strip_plot(by_set)
    summary = [r for r in tables.summary if r['metric'] in LOAD]
    return (
        html.figure(
            plot,
            'load',
            'Lesion count and total lesion volume (mm³) per subject/session, by the set of '
            'sequences the model was given; click a point to open its report.',
        )
        + html.table(summary, ['group_by', 'group', 'metric', 'n', 'mean', 'median', 'std'])
        + _levels_section(used, tables.unit_columns)
    )


def _levels_section(used: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """Lesions and volume per vertebra over the units whose discs were named."""
    levels = [c.removeprefix('volume_mm3_') for c in columns if c.startswith('volume_mm3_')]
    named = [r for r in used if any(r.get(f'n_lesions_{v}') is not None for v in levels)]
    if not named:
        return html.paragraph('No vertebral level could be named in any subject/session.', 'note')
    rows = []
    for level in levels:
        counts = [int(_value(r, f'n_lesions_{level}')) for r in named]
        volumes = [_value(r, f'volume_mm3_{level}') for r in named]
        rows.append(
            {
                'vertebra': level,
                'subjects with lesions': sum(c > 0 for c in counts),
                'lesions': sum(counts),
                'volume (mm³)': round(sum(volumes), 1),
            }
        )
    return html.paragraph(
        f'Per vertebra, over the {len(named)} subject/session(s) whose intervertebral discs '
        f'were named ({len(used) - len(named)} without levels); a lesion spanning two '
        'vertebrae counts at both.'
    ) + html.table(rows, list(rows[0]))


def _accuracy_section(tables: GroupTables, primary: str) -> str:
    evaluation = {
        name: [r for r in rows if _name(r) not in tables.excluded]
        for name, rows in tables.evaluation.items()
    }
    rows = evaluation[primary]
    links = tables.reports[primary]
    summary = [r for r in tables.summary if r['metric'] not in LOAD]
    summary_columns = ['group_by', 'group', 'metric', 'n', 'n_missing', 'mean', 'median', 'std']
    parts = [html.table(summary, summary_columns)]
    panels = {
        metric: {
            name: _points(model_rows, metric, tables.reports[name])
            for name, model_rows in evaluation.items()
        }
        for metric in PLOTTED
    }
    parts.append(
        html.figure(
            strip_plot(panels, limits=SCORE_LIMITS),
            'metrics',
            'Per subject/session metrics (lesion-wise: a reference lesion is detected when '
            '>= 10 % of its voxels are predicted; a predicted lesion is a false positive when '
            '> 70 % of its voxels lie outside the reference); one box per output folder.',
        )
    )
    load = [_value(r, 'ref_volume_mm3') for r in rows]
    parts.append(
        html.figure(
            scatter_plot(
                load,
                {m: _points(rows, m, links) for m in ('dice', 'f1')},
                x_label='reference lesion volume (mm³)',
                log_x=True,
            ),
            'load-metrics',
            f'Dice and lesion-wise F1 against reference lesion load ({primary}).',
        )
    )
    parts.append(
        html.figure(
            bland_altman_plot(
                [_value(r, 'pred_volume_mm3') for r in rows],
                load,
                _points(rows, 'dice', links),
            ),
            'bland-altman',
            f'Bland-Altman plot of total lesion volume, predicted - reference ({primary}); '
            'lines: mean difference and 95 % limits of agreement.',
        )
    )
    by_set: dict[str, dict[str, list[Point]]] = {m: {} for m in ('dice', 'f1')}
    for row in rows:
        for metric in by_set:
            by_set[metric].setdefault(str(row.get('slots_used')), []).append(
                Point(_value(row, metric), _name(row), links.get(_name(row)))
            )
    parts.append(
        html.figure(
            strip_plot(by_set, limits=SCORE_LIMITS),
            'sequence-sets',
            f'Dice and lesion-wise F1 by the set of sequences the model was given ({primary}).',
        )
    )
    columns = [
        'participant_id',
        'session_id',
        'slots_used',
        'dice',
        'f1',
        'sensitivity',
        'precision',
        'lesion_tp',
        'lesion_fp',
        'lesion_fn',
        'ref_volume_mm3',
        'pred_volume_mm3',
    ]
    parts.append(html.table(tables.evaluation[primary], columns))
    return ''.join(parts)


def build_page(tables: GroupTables) -> str:
    """The whole ``group_lesions.html`` as a string."""
    primary = next(iter(tables.reports))
    hidden = ('participant_id', 'session_id', 'qc_rating')
    shown = [c for c in tables.unit_columns if c not in hidden]
    sections = [
        ('summary', 'Summary', _summary_section(tables)),
        (
            'units',
            'Subjects and QC',
            html.unit_table(tables.units, shown, tables.reports[primary], tables.ratings)
            + html.qc_controls(),
        ),
    ]
    if any(r['status'] == Status.done for r in tables.units):
        sections.append(('load', 'Lesion load', _load_section(tables, primary)))
    if tables.evaluation.get(primary):
        sections.append(('accuracy', 'Accuracy', _accuracy_section(tables, primary)))
    if tables.comparison:
        columns = [
            'model',
            'metric',
            'n',
            'mean',
            'median',
            'std',
            'n_pairs',
            'wilcoxon_statistic',
            'p_value',
            'note',
        ]
        sections.append(
            (
                'comparison',
                'Comparison',
                html.paragraph(
                    'Each output folder against the first: two-sided Wilcoxon signed-rank test '
                    'on the subject/sessions both have.'
                )
                + html.table(tables.comparison, columns),
            )
        )
    return html.page('sclesion group report', sections)
