"""Matplotlib plumbing shared by the report's figures: Agg figures, letters, atomic PNG writes.

No ``pyplot``: every figure is a :class:`matplotlib.figure.Figure` on an Agg canvas, so report
building needs no display and keeps no global state between units.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.orientations import OrientationError
from numpy.typing import NDArray

from bids_app.errors import InputImageError
from bids_app.headers import load_nifti
from bids_app.image_checks import check_shape
from bids_app.reports.views import View, outline_segments

if TYPE_CHECKING:  # matplotlib loads on first use: importing sclesion writes no font cache
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Dots per inch of every PNG (small files, sharp enough on screen).
DPI = 90
#: Lesion outline colour (SCT QC: lesions in cyan) and the reference outline.
LESION_COLOUR = '#00ffff'
#: Colour of centrelines and of their markers.
CENTERLINE_COLOUR = '#ff3030'
#: Side letters and panel titles.
TEXT_COLOUR = '#ffd24d'
#: Fill of a patch outside a sequence's field of view.
NOT_COVERED_GREY = 0.35


def new_figure(width_in: float, height_in: float) -> Figure:
    """A black Agg figure of the given size in inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI, facecolor='black')
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    """Write the figure as PNG atomically (temporary name in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.png', dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, format='png', dpi=DPI, facecolor=figure.get_facecolor())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass(frozen=True)
class Panel:
    """A view to draw, its display window and the part of it to show.

    Attributes
    ----------
    view : View
        Image in display order with its extent in mm.
    window : (vmin, vmax)
        Grey-level display window.
    title : str
        Shown above the panel.
    xlim, ylim : (float, float)
        Shown range, ``(left, right)`` and ``(bottom, top)`` in the view's mm.
    """

    view: View
    window: tuple[float, float]
    title: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    @property
    def aspect(self) -> float:
        """Width over height of the shown range (mm are square)."""
        return abs(self.xlim[1] - self.xlim[0]) / max(abs(self.ylim[1] - self.ylim[0]), 1e-6)


def panel_row(
    panels: list[Panel], height_in: float, title: str, *, most_width_in: float = 12.0
) -> tuple[Figure, list[Axes]]:
    """A figure with the panels side by side, all ``height_in`` tall, mm square in each.

    Rows of panels wider than ``most_width_in`` in total are scaled down to fit.
    """
    widths = [height_in * p.aspect for p in panels]
    gap, head, top_band = 0.08, 0.42, 0.3 if title else 0.0
    scale = min(1.0, (most_width_in - gap * (len(panels) + 1)) / sum(widths))
    widths, height = [w * scale for w in widths], height_in * scale
    fig_w, fig_h = sum(widths) + gap * (len(panels) + 1), height + head + top_band + gap
    figure = new_figure(fig_w, fig_h)
    if title:
        figure.suptitle(title, color='white', fontsize=10, y=1 - 0.05 / fig_h)
    axes_list, left = [], gap
    for panel, width in zip(panels, widths, strict=True):
        axes = figure.add_axes((left / fig_w, gap / fig_h, width / fig_w, height / fig_h))
        show_view(axes, panel.view, panel.window, panel.title)
        axes.set_xlim(*panel.xlim)
        axes.set_ylim(*panel.ylim)
        axes_list.append(axes)
        left += width + gap
    return figure, axes_list


def show_view(axes: Axes, view: View, window: tuple[float, float], title: str = '') -> None:
    """Draw a grey-level view with square millimetres, its side letters and a title."""
    axes.imshow(
        view.image,
        cmap='gray',
        vmin=window[0],
        vmax=window[1],
        extent=view.extent,
        origin='upper',
        interpolation='bilinear',
        aspect='equal',
    )
    axes.set_axis_off()
    left, right, top, bottom = view.letters
    style = {
        'color': TEXT_COLOUR,
        'fontsize': 9,
        'fontweight': 'bold',
        'transform': axes.transAxes,
    }
    axes.text(0.02, 0.5, left, ha='left', va='center', **style)
    axes.text(0.98, 0.5, right, ha='right', va='center', **style)
    axes.text(0.5, 0.99, top, ha='center', va='top', **style)
    axes.text(0.5, 0.01, bottom, ha='center', va='bottom', **style)
    if title:
        axes.set_title(title, color='white', fontsize=8, pad=2)


def draw_outline(
    axes: Axes, mask: NDArray, extent: tuple[float, float, float, float] | None = None
) -> None:
    """Outline the mask's pixels (cyan, SCT style) on axes showing an image of the same shape."""
    segments = outline_segments(mask, extent)
    if len(segments):
        from matplotlib.collections import LineCollection

        axes.add_collection(LineCollection(segments, colors=LESION_COLOUR, linewidths=1.0))


def load_canonical(path: Path) -> tuple[NDArray[np.float32], NDArray[np.float64], tuple]:
    """Load a NIfTI reoriented to the closest canonical (RAS) voxel axes.

    Returns
    -------
    data : (I, J, K) float32
        Voxel axes towards R, A, S (the first volume of a 4D image).
    vox2world : (4, 4) float64
        Affine of the reoriented data (RAS+ mm).
    zooms : (3,) floats
        Voxel sizes in mm.
    """
    try:
        image = load_nifti(path)
        # The header first: a broken affine or a huge grid must not be read (memory stays bounded).
        check_shape(image.shape[:3], image.affine, str(path))
        image = nib.as_closest_canonical(image)
        data = np.asanyarray(image.dataobj, dtype=np.float32)
    except InputImageError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, ImageFileError, OrientationError) as error:
        raise InputImageError(f'{path}: cannot read the image for the report ({error})') from error
    if data.ndim == 4:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputImageError(f'{path}: expected a 3D image for the report, got {data.shape}')
    return data, image.affine, tuple(float(z) for z in image.header.get_zooms()[:3])


def world_to_view_mm(
    xyz_mm: NDArray, vox2world: NDArray, zooms: tuple[float, ...]
) -> NDArray[np.float64]:
    """World points (RAS+ mm) as millimetres along a canonical volume's voxel axes.

    Parameters
    ----------
    xyz_mm : (P, 3) array
        World points.
    vox2world : (4, 4) array
        Affine of the canonical volume.
    zooms : (3,) floats
        Its voxel sizes.

    Returns
    -------
    (P, 3) float64
        ``ijk * zooms``, the coordinates the views' extents use.
    """
    points = np.asarray(xyz_mm, dtype=float).reshape(-1, 3)
    ijk = (np.linalg.inv(vox2world) @ np.c_[points, np.ones(len(points))].T)[:3].T
    return ijk * np.asarray(zooms, dtype=float)
