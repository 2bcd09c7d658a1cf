"""Figures on the native grids: each sequence with its centreline, the T2Sag with its lesions.

Images are reoriented to the closest canonical axes (``nibabel.as_closest_canonical``) before
slicing, and drawn with square millimetres (see :mod:`bids_app.reports.views` for the display
conventions, which every panel states with its side letters).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bids_app.reports.canvas import (
    CENTERLINE_COLOUR,
    LESION_COLOUR,
    Panel,
    draw_outline,
    load_canonical,
    panel_row,
    save_png,
    world_to_view_mm,
)
from bids_app.reports.views import View, axial_view, intensity_window, sagittal_view
from bids_app.vertebrae import Discs

logger = logging.getLogger(__name__)

#: An image is shown as axial slices when its S-I voxel size is this many times the in-plane.
AXIAL_RATIO = 1.5
#: Half-width (mm) of the anterior-posterior window of sagittal lesion views, and of the
#: in-plane window of axial centreline views, around the centreline.
HALF_WIDTH_MM = 30.0
#: Most axial slices shown for an axial image, and most sagittal panels in the lesion figure.
MOST_AXIAL = 5
MOST_SAGITTAL = 5
#: Colour of the disc marks (SCT's QC draws labels in yellow-green too).
DISC_COLOUR = '#c6e04a'


def is_axial(zooms: Sequence[float]) -> bool:
    """True when the S-I voxel size dominates (an axial stack of thick slices).

    >>> is_axial((0.5, 0.5, 7.5)), is_axial((1.0, 1.0, 1.0)), is_axial((3.0, 0.7, 0.7))
    (True, False, False)
    """
    return zooms[2] > AXIAL_RATIO * max(zooms[0], zooms[1])


def _inside(points_mm: NDArray, shape: tuple[int, ...], zooms: Sequence[float], axis: int):
    """Points whose coordinate along ``axis`` falls inside the volume's outer voxel edges."""
    extent = (shape[axis] - 0.5) * zooms[axis]
    return (points_mm[:, axis] >= -0.5 * zooms[axis]) & (points_mm[:, axis] <= extent)


def centerline_figure(
    images: Sequence[Path], centerline_xyz_mm: NDArray, out: Path, title: str
) -> Path:
    """A slot's native image(s) with the centreline, as a PNG.

    Sagittal and 3D images show the sagittal slice through the cord with the centreline
    projected on it; axial stacks show up to five axial slices with the centreline's point,
    zoomed on the cord.

    Parameters
    ----------
    images : sequence of Path
        The slot's raw files (several chunks: panels for each).
    centerline_xyz_mm : (Z, 3) array
        The slot's centreline, world RAS+ mm.
    out : Path
        PNG to write.
    title : str
        Figure title.
    """
    panels: list[Panel] = []
    marks: list[NDArray] = []  # per panel: (P, 2) points to draw, as a line or a marker
    for path in images:
        data, affine, zooms = load_canonical(path)
        points = world_to_view_mm(centerline_xyz_mm, affine, zooms)
        window = intensity_window(data)
        if not is_axial(zooms):
            inside = _inside(points, data.shape, zooms, 2)
            view = sagittal_view(data, zooms, _cord_index(points[inside, 0], zooms[0], len(data)))
            panels.append(_panel(view, window, f'{path.name}\nsagittal'))
            marks.append(points[inside][:, 1:])
            continue
        count = min(MOST_AXIAL, data.shape[2])
        for k in np.unique(np.linspace(data.shape[2] - 1, 0, count).round().astype(int))[::-1]:
            view = axial_view(data, zooms, int(k))
            nearest = int(np.argmin(np.abs(points[:, 2] - k * zooms[2]))) if len(points) else 0
            point = points[nearest : nearest + 1, :2]
            if not len(point) or abs(points[nearest, 2] - k * zooms[2]) > zooms[2]:
                point = np.empty((0, 2))
            centre = point[0] if len(point) else None
            panels.append(_panel(view, window, f'{path.name}\naxial slice {k}', centre))
            marks.append(point)
    height = 2.2 if all(p.aspect > 0.8 for p in panels) else 3.6
    figure, axes_list = panel_row(panels, height, title)
    for axes, points in zip(axes_list, marks, strict=True):
        if len(points) > 1:
            axes.plot(points[:, 0], points[:, 1], color=CENTERLINE_COLOUR, lw=1.0)
        elif len(points) == 1:
            axes.plot(points[:, 0], points[:, 1], '+', ms=14, mew=1.5, color=CENTERLINE_COLOUR)
    return save_png(figure, out)


def _panel(
    view: View, window: tuple[float, float], title: str, centre: NDArray | None = None
) -> Panel:
    """The view whole, or its part within :data:`HALF_WIDTH_MM` of ``centre`` (x, y in mm)."""
    left, right, bottom, top = view.extent
    if centre is None:
        return Panel(view, window, title, (left, right), (bottom, top))
    x, y = float(centre[0]), float(centre[1])
    xlim = (min(left, x + HALF_WIDTH_MM), max(right, x - HALF_WIDTH_MM))
    if len(centre) == 1 or np.isnan(y):
        return Panel(view, window, title, xlim, (bottom, top))
    return Panel(view, window, title, xlim, (max(bottom, y - HALF_WIDTH_MM),
                                             min(top, y + HALF_WIDTH_MM)))  # fmt: skip


def _cord_index(i_mm: NDArray, zoom: float, size: int) -> int:
    """Sagittal slice index nearest the centreline's median R-L position (mid-volume if none)."""
    if i_mm.size == 0:
        return size // 2
    return int(np.clip(round(float(np.median(i_mm)) / zoom), 0, size - 1))


def lesion_figures(
    t2sag: Path,
    lesions: Path | None,
    centerline_xyz_mm: NDArray,
    out_overlay: Path,
    out_plain: Path,
    discs: Discs | None = None,
) -> tuple[Path, Path]:
    """Sagittal T2Sag panels through the cord and through each lesion, with and without outlines.

    Both PNGs have the same geometry, so the report can switch between them in place.

    Parameters
    ----------
    t2sag : Path
        The T2Sag on its native grid.
    lesions : Path or None
        Numbered lesions (dseg) or binary mask on the same grid; None draws no outline.
    centerline_xyz_mm : (Z, 3) array
        T2Sag centreline, world RAS+ mm (centres the panels on the cord).
    out_overlay, out_plain : Path
        PNGs to write: with the cyan lesion outlines and numbers, and without.
    discs : Discs, optional
        Named intervertebral discs, marked in front of the cord on both PNGs.
    """
    data, affine, zooms = load_canonical(t2sag)
    labels = np.zeros(data.shape, dtype=np.int32)
    if lesions is not None:
        label_data, _, _ = load_canonical(lesions)
        if label_data.shape != data.shape:
            logger.warning('%s: not on the T2Sag grid, lesion outlines left out', lesions)
        else:
            labels = np.rint(label_data).astype(np.int32)
    points = world_to_view_mm(centerline_xyz_mm, affine, zooms)
    inside = _inside(points, data.shape, zooms, 2)
    columns = _sagittal_columns(labels, points[inside, 0], zooms[0])
    y_centre = float(np.median(points[inside, 1])) if inside.any() else None
    window = intensity_window(data)
    panels = []
    for i in columns:
        x_mm = float((affine @ np.array([i, 0, 0, 1]))[0])
        title = f'slice {i}\nx = {abs(x_mm):.0f} mm {"R" if x_mm >= 0 else "L"}'
        centre = None if y_centre is None else np.array([y_centre, np.nan])
        panels.append(_panel(sagittal_view(data, zooms, i), window, title, centre))
    figure, axes_list = panel_row(panels, 5.5, '')
    if discs is not None and discs.named and inside.any():
        for axes in axes_list:
            _mark_discs(axes, discs, centerline_xyz_mm, affine, zooms)
    save_png(figure, out_plain)
    for axes, i in zip(axes_list, columns, strict=True):
        view = sagittal_view(labels, zooms, i)
        draw_outline(axes, view.image, view.extent)
        _number_lesions(axes, view.image, view.extent)
    return save_png(figure, out_overlay), out_plain


def _mark_discs(axes, discs: Discs, centerline_xyz_mm: NDArray, affine, zooms) -> None:
    """A tick in front of the cord at each disc, with its name (sagittal view: A-P, S-I mm)."""
    line = np.asarray(centerline_xyz_mm, float)
    z = discs.z_mm
    points = np.column_stack(
        [np.interp(z, line[:, 2], line[:, 0]), np.interp(z, line[:, 2], line[:, 1]), z]
    )
    for (_, j, k), name in zip(world_to_view_mm(points, affine, zooms), discs.names, strict=True):
        axes.plot([j + 7.0, j + 16.0], [k, k], color=DISC_COLOUR, lw=1.0)
        axes.text(j + 11.5, k + 0.8, name, color=DISC_COLOUR, fontsize=5, ha='center',
                  va='bottom', clip_on=True)  # fmt: skip


def _sagittal_columns(labels: NDArray, cord_i_mm: NDArray, zoom: float) -> list[int]:
    """Slices to show: through the cord, then through each lesion's largest sagittal section.

    Lesions come by decreasing volume; at most :data:`MOST_SAGITTAL` slices, ordered R to L.
    """
    chosen = [_cord_index(cord_i_mm, zoom, labels.shape[0])]
    indices, volumes = np.unique(labels[labels > 0], return_counts=True)
    for index in indices[np.argsort(-volumes, kind='stable')]:
        per_slice = (labels == index).sum(axis=(1, 2))
        i = int(np.argmax(per_slice))
        if i not in chosen and len(chosen) < MOST_SAGITTAL:
            chosen.append(i)
    return sorted(chosen, reverse=True)


def _number_lesions(axes, image: NDArray, extent: tuple[float, float, float, float]) -> None:
    """Write each lesion's number beside its section in this panel (posterior side)."""
    rows, cols = image.shape
    left, right, bottom, top = extent
    for index in np.unique(image[image > 0]):
        r, c = np.argwhere(image == index).mean(axis=0)
        x = left + (right - left) * (c + 0.5) / cols
        y = top + (bottom - top) * (r + 0.5) / rows
        offset = 6.0 if right < left else -6.0
        axes.text(
            x - offset,
            y,
            str(int(index)),
            color=LESION_COLOUR,
            fontsize=8,
            fontweight='bold',
            ha='center',
            va='center',
            clip_on=True,
        )
