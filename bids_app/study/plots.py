"""Figures of the study page: per-unit scores at T2Sag-only inference, and Table 1 as bars."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from bids_app.group.plots import DPI, Plot, Point, strip_plot
from bids_app.study.tables import T2SAG_ROW, Score, Table1Row, row_order, unit_means

#: Panel titles of the two metrics.
METRICS = {'dice': 'Dice', 'f1': 'Lesion-wise F1'}
#: Vertical range of score panels: a little beyond [0, 1] so that 0 and 1 stay visible.
SCORE_LIMITS = (-0.02, 1.02)


def t2sag_plot(scores: Sequence[Score], models: Sequence[str]) -> Plot:
    """Box and points of each model's per-unit Dice and F1 (mean over seeds), T2Sag alone."""
    t2sag = [s for s in scores if s.row == T2SAG_ROW]
    panels = {
        title: {
            model: [
                Point(value, unit, None)
                for unit, value in unit_means(
                    [s for s in t2sag if s.model == model], metric
                ).items()
            ]
            for model in models
            if any(s.model == model for s in t2sag)
        }
        for metric, title in METRICS.items()
    }
    return strip_plot(panels, limits=SCORE_LIMITS)


def table1_plot(rows: Sequence[Table1Row], models: Sequence[str]) -> Plot:
    """Grouped bars: for each set of sequences at inference, each model's mean over seeds, with
    the standard deviation over seeds as an error bar; one panel per metric."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = sorted({r.row for r in rows}, key=row_order)
    present = [m for m in models if any(r.model == m for r in rows)]
    colours = colormaps['tab10' if len(present) <= 10 else 'tab20']
    width = 0.8 / max(len(present), 1)
    figure = Figure(figsize=(min(3.0 + 1.4 * len(names), 14.0), 6.4))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 1)
    for axis, (metric, title) in zip(axes, METRICS.items(), strict=True):
        for k, model in enumerate(present):
            found = {r.row: r for r in rows if r.model == model}
            x = np.array([i for i, n in enumerate(names) if n in found], float)
            means = [getattr(found[n], metric) for n in names if n in found]
            stds = [getattr(found[n], f'{metric}_seed_std') for n in names if n in found]
            axis.bar(x - 0.4 + (k + 0.5) * width, means, width, yerr=np.nan_to_num(stds),
                     color=colours(k % colours.N), label=model, capsize=2)  # fmt: skip
        axis.set_xticks(range(len(names)), names, fontsize=8)
        axis.set_ylim(0, 1)
        axis.set_ylabel(title)
        axis.grid(axis='y', alpha=0.3)
    axes[0].legend(fontsize=7, ncol=3, loc='lower left', bbox_to_anchor=(0, 1.02), frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=DPI)
    width_px, height_px = (round(float(v)) for v in figure.get_size_inches() * DPI)
    return Plot(buffer.getvalue(), width_px, height_px, ())
