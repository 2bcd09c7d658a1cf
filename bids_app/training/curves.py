"""The training log (TSV) and its figure (loss and validation metrics against iterations)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

LOG_NAME = 'training_log.tsv'
CURVES_NAME = 'training_curves.png'

#: Columns of the log, in order; missing values are written ``n/a``. ``data_s`` is the mean time
#: per iteration spent waiting for the batch and augmenting it, ``network_s`` in the forward and
#: backward passes and the optimiser step.
LOG_COLUMNS = (
    'iteration',
    'lr',
    'loss',
    'segmentation',
    'lesion_wise',
    'distillation',
    'val_dice',
    'val_f1',
    'val_score',
    'elapsed_s',
    'data_s',
    'network_s',
)


def _cell(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.6g}' if isinstance(value, float) else str(value)


def read_log(path: Path) -> list[dict[str, float]]:
    """Rows of a log as floats (``n/a`` -> nan); empty when the file does not exist."""
    if not path.is_file():
        return []
    with path.open(newline='') as handle:
        rows = list(csv.DictReader(handle, delimiter='\t'))
    return [{k: math.nan if v == 'n/a' else float(v) for k, v in row.items()} for row in rows]


def truncate_log(path: Path, iteration: int) -> None:
    """Drop rows after ``iteration`` (written after the checkpoint a run resumes from)."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if int(line.split('\t', 1)[0]) <= iteration]
    path.write_text(''.join(kept))


def append_log(path: Path, row: Mapping[str, float | int | None]) -> None:
    """Append one row (the header first when the file is new).

    A log begun by an older version keeps its own columns, so a resumed run stays readable.
    """
    new = not path.is_file() or not path.stat().st_size
    columns = LOG_COLUMNS
    if not new:
        with path.open() as handle:
            columns = tuple(handle.readline().rstrip('\n').split('\t'))
    with path.open('a') as handle:
        if new:
            handle.write('\t'.join(columns) + '\n')
        handle.write('\t'.join(_cell(row.get(c)) for c in columns) + '\n')


def plot_curves(rows: list[Mapping[str, float]], path: Path, title: str) -> Path:
    """Training loss (log scale) and validation Dice / lesion-wise F1 against iterations.

    Drawn on a bare :class:`~matplotlib.figure.Figure` (Agg canvas): no pyplot state, no display.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    figure = Figure(figsize=(7, 6))
    top, bottom = figure.subplots(2, 1, sharex=True)
    figure.subplots_adjust(left=0.12, right=0.97, top=0.94, bottom=0.09, hspace=0.08)
    loss = [(r['iteration'], r['loss']) for r in rows if not math.isnan(r['loss'])]
    if loss:
        top.plot(*zip(*loss, strict=True), color='tab:blue', lw=1)
        top.set_yscale('log')
        top.yaxis.set_major_formatter(FormatStrFormatter('%.3g'))
        top.yaxis.set_minor_formatter(FormatStrFormatter('%.3g'))
    top.set_ylabel('training loss (CE + Dice)')
    top.set_title(title)
    for key, label, colour in (
        ('val_dice', 'Dice', 'tab:green'),
        ('val_f1', 'lesion-wise F1', 'tab:orange'),
    ):
        points = [(r['iteration'], r[key]) for r in rows if not math.isnan(r[key])]
        if points:
            bottom.plot(*zip(*points, strict=True), marker='o', ms=3, color=colour, label=label)
            bottom.legend(loc='lower right')
    bottom.set_ylim(0, 1)
    bottom.set_ylabel('validation')
    bottom.set_xlabel('iteration')
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return path
