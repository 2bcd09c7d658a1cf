"""Remake a study's tables and its HTML page from the study folder alone.

Reads ``study.json``, ``test_units.tsv``, each run's card and ``evaluation/units.tsv``; writes in
the study folder:

- ``table1.tsv``: Dice and F1 per model, set of sequences at inference and cohort;
- ``table2.tsv`` and ``table2.md``: T2Sag-only inference, mean +- std over seeds and the Wilcoxon
  p of each model against the baseline;
- ``runs.tsv``: every run's training state and validation scores;
- ``study.html``: one self-contained page with the tables and figures (PNG data URIs), and
  ``figures/*.png``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from bids_app.group.html import figure, page, paragraph, table
from bids_app.model.card import CARD_NAME, read_card
from bids_app.study.evaluate import ABOUT_NAME, EVALUATION_DIR, SCORES_NAME, read_scores
from bids_app.study.manifest import read_manifest, read_test_units
from bids_app.study.plan import StudyRun
from bids_app.study.plots import t2sag_plot, table1_plot
from bids_app.study.tables import (
    ALL_COHORTS,
    TABLE1_COLUMNS,
    TABLE2_COLUMNS,
    Score,
    Table1Row,
    Table2Row,
    row_order,
    table1,
    table2,
)

logger = logging.getLogger(__name__)

#: The command that remakes the tables and the page.
TABLES_COMMAND = 'python -m bids_app.study'
RUN_COLUMNS = (
    'model', 'seed', 'finished', 'iterations_done', 'wall_time_s', 'val_dice', 'val_f1',
    'evaluated',
)  # fmt: skip


def _number(text: str | None) -> float:
    return math.nan if text in (None, '', 'n/a') else float(text)


def collect_scores(study_dir: Path, runs: Sequence[StudyRun]) -> list[Score]:
    """The per-unit scores of every evaluated run (runs not yet evaluated are skipped)."""
    scores = []
    for run in runs:
        folder = run.directory(study_dir) / EVALUATION_DIR
        if not (folder / ABOUT_NAME).is_file():
            continue
        scores += [
            Score(run.model, run.seed, line['unit'], line['row'], _number(line['dice']),
                  _number(line['f1']))
            for line in read_scores(folder / SCORES_NAME)
        ]  # fmt: skip
    return scores


def run_states(study_dir: Path, runs: Sequence[StudyRun]) -> list[dict[str, Any]]:
    """One line per run: training progress from its card, validation, whether it is evaluated."""
    lines = []
    for run in runs:
        folder = run.directory(study_dir)
        line: dict[str, Any] = {'model': run.model, 'seed': run.seed, 'finished': 'no'}
        if (folder / CARD_NAME).is_file():
            card = read_card(folder)
            training, validation = card.get('training', {}), card.get('validation', {})
            line |= {
                'finished': 'yes' if training.get('finished') else 'no',
                'iterations_done': training.get('iterations_done'),
                'wall_time_s': training.get('wall_time_s'),
                'val_dice': validation.get('dice'),
                'val_f1': validation.get('f1'),
            }
        line['evaluated'] = 'yes' if (folder / EVALUATION_DIR / ABOUT_NAME).is_file() else 'no'
        lines.append(line)
    return lines


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.6g}' if isinstance(value, float) else str(value)


def write_tsv(path: Path, columns: Sequence[str], lines: Sequence[Mapping[str, Any]]) -> Path:
    """A TSV with ``columns``; missing values and ``nan`` as ``n/a``."""
    text = [
        '\t'.join(columns),
        *('\t'.join(_text(line.get(c)) for c in columns) for line in lines),
    ]
    path.write_text('\n'.join(text) + '\n')
    return path


def _mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return 'n/a'
    return f'{mean:.3f}' if math.isnan(std) else f'{mean:.3f} ± {std:.3f}'


def _p(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2g}'


def table2_markdown(rows: Sequence[Table2Row]) -> str:
    """Table 2 as GitHub markdown.

    Examples
    --------
    >>> row = Table2Row('distillation', 3, 20, 0.5, 0.02, 0.6, 0.01, 20, 0.031, 0.5)
    >>> print(table2_markdown([row]).splitlines()[-1])
    | distillation | 3 | 20 | 0.500 ± 0.020 | 0.031 | 0.600 ± 0.010 | 0.5 |
    """
    lines = [
        '| Model (T2Sag at inference) | Seeds | Units | Dice | p | Lesion F1 | p |',
        '|---|---:|---:|---:|---:|---:|---:|',
    ]
    lines += [
        f'| {r.model} | {r.n_seeds} | {r.n_units} | {_mean_std(r.dice, r.dice_seed_std)} '
        f'| {_p(r.dice_p)} | {_mean_std(r.f1, r.f1_seed_std)} | {_p(r.f1_p)} |'
        for r in rows
    ]
    return '\n'.join(lines)


def _table2_html(rows: Sequence[Table2Row]) -> str:
    shown = [
        {'model': r.model, 'seeds': r.n_seeds, 'units': r.n_units,
         'Dice (mean ± std over seeds)': _mean_std(r.dice, r.dice_seed_std),
         'Dice p': _p(r.dice_p), 'F1 (mean ± std over seeds)': _mean_std(r.f1, r.f1_seed_std),
         'F1 p': _p(r.f1_p)}
        for r in rows
    ]  # fmt: skip
    return table(shown, list(shown[0]) if shown else ['model'])


def _cell_text(row: Table1Row | None, metric: str) -> str:
    if row is None:
        return ''
    spread = _mean_std(getattr(row, metric), getattr(row, f'{metric}_seed_std'))
    return f'{spread} (n={row.n_units})'


def _pivot_html(rows: Sequence[Table1Row], metric: str, models: Sequence[str]) -> str:
    """Models down, sets of sequences across, ``mean ± std (n units)`` in each cell."""
    names = sorted({r.row for r in rows}, key=row_order)
    shown = []
    for model in models:
        found = {r.row: r for r in rows if r.model == model}
        if found:
            shown.append({'model': model} | {n: _cell_text(found.get(n), metric) for n in names})
    return table(shown, ['model', *names])


def _models(runs: Sequence[StudyRun]) -> list[str]:
    return list(dict.fromkeys(run.model for run in runs))


def _code(text: str) -> str:
    return f'<pre><code>{escape(text)}</code></pre>\n'


def build_page(
    about: Mapping[str, Any],
    t1: Sequence[Table1Row],
    t2: Sequence[Table2Row],
    states: Sequence[Mapping[str, Any]],
    figures: Mapping[str, Any],
    models: Sequence[str],
) -> str:
    """The study's HTML page."""
    finished = sum(s['finished'] == 'yes' for s in states)
    evaluated = sum(s['evaluated'] == 'yes' for s in states)
    settings = about.get('train_config', {})
    overview = paragraph(
        f'{len(states)} runs ({len(models)} models x seeds {about.get("seeds")}), {finished} '
        f'trained, {evaluated} evaluated; {len(about.get("train_units", []))} training and '
        f'{len(about.get("test_units", []))} held-out test units; cohort column: '
        f'{about.get("cohort_column") or "none"}; {settings.get("iterations")} iterations per '
        f'run, widths {settings.get("widths")}, patch {settings.get("patch_size")}.'
    )
    if finished < len(states) or evaluated < len(states):
        overview += paragraph(
            'The study is incomplete: the tables hold the evaluated runs only. Run the study '
            'command again to continue it.',
            'note',
        )
    overview += paragraph('The study ran as:') + _code(' '.join(about.get('command_line', [])))
    overview += paragraph('Remake these tables and this page from the folder with:')
    overview += _code(f'{TABLES_COMMAND} {about.get("study_dir", "STUDY_DIR")}')
    table2_section = (
        paragraph(
            'T2Sag alone at inference. Dice and lesion-wise F1 per test unit, averaged over '
            'the units for each seed; mean ± sample std over seeds. p: two-sided Wilcoxon '
            'signed-rank test against the baseline over the test units, each unit the mean '
            'of its scores over the seeds.'
        )
        + _table2_html(t2)
        + figure(
            figures['t2sag'],
            't2sag',
            'Per-unit Dice and F1 (mean over seeds) with T2Sag alone at inference; boxes: '
            'quartiles and median.',
        )
    )
    table1_section = paragraph(
        'Each model with each set of sequences at inference, on the test units that have '
        'them all; mean ± std over seeds of the mean over units, n = units.'
    )
    for cohort in dict.fromkeys(r.cohort for r in t1):
        rows = [r for r in t1 if r.cohort == cohort]
        for metric, title in (('dice', 'Dice'), ('f1', 'Lesion-wise F1')):
            table1_section += f'<h3>{escape(title)}, cohort {escape(cohort)}</h3>\n'
            table1_section += _pivot_html(rows, metric, models)
    table1_section += figure(
        figures['table1'],
        'table1',
        'Table 1, every test unit: bars are means over seeds, error bars the std over seeds.',
    )
    runs_section = table(list(states), list(RUN_COLUMNS))
    return page(
        'Study of the variants of Walsh et al. (MICCAI 2024)',
        [
            ('overview', 'Overview', overview),
            ('table2', 'Table 2: T2Sag-only inference', table2_section),
            ('table1', 'Table 1: sets of sequences at inference', table1_section),
            ('runs', 'Runs', runs_section),
        ],
        script='',
    )


def make_report(study_dir: Path) -> dict[str, Path]:
    """Write the files of the module docstring from what the study folder holds.

    Returns
    -------
    dict
        File name -> path.
    """
    study_dir = Path(study_dir)
    runs, about = read_manifest(study_dir)
    about = {**about, 'study_dir': str(study_dir)}
    models = _models(runs)
    scores = collect_scores(study_dir, runs)
    cohorts = read_test_units(study_dir) if about.get('cohort_column') else {}
    t1, t2 = table1(scores, cohorts, models), table2(scores, models)
    states = run_states(study_dir, runs)
    paths = {
        'table1.tsv': write_tsv(
            study_dir / 'table1.tsv', list(TABLE1_COLUMNS), [asdict(r) for r in t1]
        ),
        'table2.tsv': write_tsv(
            study_dir / 'table2.tsv', list(TABLE2_COLUMNS), [asdict(r) for r in t2]
        ),
        'runs.tsv': write_tsv(study_dir / 'runs.tsv', RUN_COLUMNS, states),
    }
    paths['table2.md'] = study_dir / 'table2.md'
    paths['table2.md'].write_text(table2_markdown(t2) + '\n')
    figures = {
        't2sag': t2sag_plot(scores, models),
        'table1': table1_plot([r for r in t1 if r.cohort == ALL_COHORTS], models),
    }
    (study_dir / 'figures').mkdir(exist_ok=True)
    for name, plot in figures.items():
        paths[f'figures/{name}.png'] = study_dir / 'figures' / f'{name}.png'
        paths[f'figures/{name}.png'].write_bytes(plot.png)
    paths['study.html'] = study_dir / 'study.html'
    paths['study.html'].write_text(build_page(about, t1, t2, states, figures, models))
    evaluated = len({(s.model, s.seed) for s in scores})
    logger.log(25, 'study tables of %d evaluated run(s) in %s', evaluated, study_dir)
    return paths
