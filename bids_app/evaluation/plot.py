"""Table 1 as a figure: per-unit Dice and F1 for each row, beside T2Sag alone on the same units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bids_app.evaluation.scoring import UnitEvaluation
from bids_app.evaluation.table import TableRow
from bids_app.slots import Slot

#: Horizontal offset of the T2Sag-alone strip from its row's strip.
_OFFSET = 0.2


def plot_table(
    path: Path, table: Sequence[TableRow], evaluations: Sequence[UnitEvaluation]
) -> Path:
    """Strip plots of Dice and F1 per row, each unit joined to its T2Sag-alone value.

    Per row: the row's per-unit values (filled, right) and T2Sag alone on the same units
    (hollow, left), a grey line joining each pair, and a bar at each mean; units with reference
    lesions only, as in the table.
    """
    figure = Figure(figsize=(max(6.0, 1.6 * len(table) + 2), 3.6), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    t2sag = str(Slot.T2Sag)
    for axis, metric in zip(axes, ('dice', 'f1'), strict=True):
        for x, row in enumerate(table):
            units = [u for u in evaluations if row.row in u.scores and u.n_ref]
            alone = np.array([getattr(u.scores[t2sag], metric) for u in units])
            given = np.array([getattr(u.scores[row.row], metric) for u in units])
            left, right = x - _OFFSET, x + _OFFSET
            for a, b in zip(alone, given, strict=True):
                axis.plot([left, right], [a, b], color='0.8', linewidth=0.6, zorder=1)
            axis.scatter(np.full(len(alone), left), alone, s=14, facecolors='none',
                         edgecolors='tab:gray', zorder=2)  # fmt: skip
            axis.scatter(np.full(len(given), right), given, s=14, color='tab:blue', zorder=2)
            for position, values in ((left, alone), (right, given)):
                axis.hlines(values.mean(), position - 0.12, position + 0.12, color='k', zorder=3)
        axis.set_xticks(
            range(len(table)), [f'{r.row}\n(n={r.n_units - r.n_lesion_free})' for r in table]
        )
        axis.tick_params(axis='x', labelsize=7)
        axis.set_ylim(-0.02, 1.02)
        axis.set_ylabel('Dice' if metric == 'dice' else 'Lesion-wise F1')
        axis.set_title(f'{"Dice" if metric == "dice" else "F1"}: row (blue) vs T2Sag alone (grey)',
                       fontsize=8)  # fmt: skip
    figure.tight_layout()
    figure.savefig(path)
    return path
