"""Figures of the group report (matplotlib Agg, no pyplot): PNG bytes plus clickable points.

As in MRIQC's group report, every point stands for one subject/session and links to its report.
A PNG cannot hold links, so each figure also returns the pixel position of every point; the
HTML turns them into an image map (``<map>``/``<area>``), which works without JavaScript.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bids_app.stats import bland_altman

if TYPE_CHECKING:  # matplotlib loads on first use (no font cache written on import)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
#: Points are spread sideways over this fraction of a category's width (fixed seed).
JITTER = 0.25
COLOURS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b')


@dataclass(frozen=True)
class Point:
    """One subject/session in a plot."""

    value: float
    name: str
    href: str | None


@dataclass(frozen=True)
class Hotspot:
    """A clickable point, in pixels from the image's top-left corner."""

    x: int
    y: int
    href: str
    title: str


@dataclass(frozen=True)
class Plot:
    """A rendered figure."""

    png: bytes
    width: int
    height: int
    hotspots: tuple[Hotspot, ...]


def _render(fig: Figure, marks: Sequence[tuple[Axes, float, float, Point]]) -> Plot:
    """PNG bytes and the pixel position of each marked point (figure size x DPI, no cropping)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    width, height = (round(float(v)) for v in fig.get_size_inches() * DPI)
    spots = []
    for ax, x, y, point in marks:
        if point.href is None or not (math.isfinite(x) and math.isfinite(y)):
            continue
        px, py = ax.transData.transform((x, y))
        spots.append(Hotspot(round(float(px)), round(height - float(py)), point.href, point.name))
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=DPI)
    return Plot(buffer.getvalue(), width, height, tuple(spots))


def _jitter(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-JITTER, JITTER, n) if n else np.zeros(0)


def strip_plot(
    panels: Mapping[str, Mapping[str, Sequence[Point]]],
    *,
    limits: tuple[float, float] | None = None,
) -> Plot:
    """Box and jittered points per category, one panel per metric.

    Parameters
    ----------
    panels : mapping
        Metric -> category (an output folder, a sequence set...) -> points; ``nan`` values are
        left out of the panel.
    limits : (low, high), optional
        Vertical axis range of every panel (e.g. a little beyond [0, 1] for scores).
    """
    n = max(len(panels), 1)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(min(4.0 * n, 12.0), 4.0))
    axes = fig.subplots(1, n, squeeze=False)
    marks = []
    for ax, (metric, categories) in zip(axes[0], panels.items(), strict=False):
        names = list(categories)
        data = [[p for p in categories[c] if math.isfinite(p.value)] for c in names]
        present = [k for k, points in enumerate(data) if points]
        if present:
            ax.boxplot(
                [[p.value for p in data[k]] for k in present],
                positions=present,
                widths=0.6,
                showfliers=False,
                medianprops={'color': 'k'},
            )
        for k, points in enumerate(data):
            x = k + _jitter(len(points), seed=k)
            y = [p.value for p in points]
            ax.scatter(x, y, s=22, color=COLOURS[k % len(COLOURS)], alpha=0.8, zorder=3)
            marks += [(ax, xi, yi, p) for xi, yi, p in zip(x, y, points, strict=True)]
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 2 else 0)
        ax.set_xlim(-0.7, len(names) - 0.3)
        ax.set_title(metric)
        if limits:
            ax.set_ylim(*limits)
        ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    return _render(fig, marks)


def scatter_plot(
    x: Sequence[float],
    panels: Mapping[str, Sequence[Point]],
    *,
    x_label: str,
    log_x: bool = False,
) -> Plot:
    """Each metric against one per-unit quantity (e.g. reference lesion load), one panel each.

    Parameters
    ----------
    x : (N,) sequence of float
        The horizontal quantity, one per unit, in the order of every panel's points.
    panels : mapping
        Metric -> (N,) points.
    x_label : str
        Axis label with units.
    log_x : bool
        Logarithmic x axis (``log10(1 + x)`` keeps zero loads on the plot).
    """
    n = max(len(panels), 1)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(min(4.0 * n, 12.0), 3.6))
    axes = fig.subplots(1, n, squeeze=False)
    xs = np.log10(1.0 + np.asarray(x, float)) if log_x else np.asarray(x, float)
    marks = []
    for ax, (metric, points) in zip(axes[0], panels.items(), strict=False):
        y = np.array([p.value for p in points], float)
        ax.scatter(xs, y, s=22, color=COLOURS[0], alpha=0.8)
        marks += [(ax, a, b, p) for a, b, p in zip(xs, y, points, strict=True)]
        ax.set_xlabel(f'log10(1 + {x_label})' if log_x else x_label)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _render(fig, marks)


def bland_altman_plot(
    predicted: Sequence[float], reference: Sequence[float], points: Sequence[Point]
) -> Plot:
    """Bland-Altman plot of lesion volume: difference against mean, bias and 95 % limits.

    Parameters
    ----------
    predicted, reference : (N,) sequences of float
        Lesion volumes per unit, mm^3.
    points : (N,) sequence of Point
        Names and links of the units (their ``value`` is not used).
    """
    a, b = np.asarray(predicted, float), np.asarray(reference, float)
    mean, difference = (a + b) / 2, a - b
    agreement = bland_altman(a, b)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    ax.scatter(mean, difference, s=22, color=COLOURS[0], alpha=0.8, zorder=3)
    lines = (
        (agreement.mean_difference, '-', f'bias {agreement.mean_difference:.1f}'),
        (agreement.lower_limit, '--', f'-1.96 SD {agreement.lower_limit:.1f}'),
        (agreement.upper_limit, '--', f'+1.96 SD {agreement.upper_limit:.1f}'),
    )
    for level, style, label in lines:
        if math.isfinite(level):
            ax.axhline(level, color='k', linestyle=style, linewidth=1, label=label)
    ax.axhline(0.0, color='grey', linewidth=0.5)
    ax.set_xlabel('mean of predicted and reference volume (mm³)')
    ax.set_ylabel('predicted - reference (mm³)')
    ax.set_title(f'Lesion volume agreement (n = {agreement.n})')
    if any(math.isfinite(level) for level, _, _ in lines):
        ax.legend(fontsize=8, loc='best')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    marks = [(ax, m, d, p) for m, d, p in zip(mean, difference, points, strict=True)]
    return _render(fig, marks)
