"""Cord-frame mosaics, SCT QC style: axial patches centred on the cord, 0.5 mm pixels.

Patches come from the crops the model saw (axes LAS, see :mod:`bids_app.frame`), drawn
radiologically (R on the left, A on top). A patch, or part of one, outside a sequence's field of
view is filled with grey and labelled "not covered".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bids_app.config import CordFrameConfig
from bids_app.frame import CordFrame
from bids_app.frame_geometry import sample_crop
from bids_app.reports.canvas import (
    DPI,
    NOT_COVERED_GREY,
    TEXT_COLOUR,
    draw_outline,
    new_figure,
    save_png,
)
from bids_app.reports.views import (
    crop_axial_patch,
    intensity_window,
    mosaic_origins,
    mosaic_shape,
    slices_every,
    to_grey,
)
from bids_app.slots import Slot

#: Screen pixels per crop pixel (0.5 mm), and pixels between patches.
SCALE = 2
GAP = 2
#: Margins (pixels at scale 1) for row and column headers of the lesion grid.
ROW_HEADER = 44
COLUMN_HEADER = 12


@dataclass(frozen=True)
class LesionSlice:
    """Where one lesion is shown in the cord frame.

    Attributes
    ----------
    index : int
        Lesion number (dseg value).
    k : int
        Reference slice with the lesion's largest axial section.
    z_mm : float
        World z of that slice (RAS+ mm).
    outline : (N, N) bool array
        The lesion in that slice, as a radiological patch (see ``crop_axial_patch``).
    """

    index: int
    k: int
    z_mm: float
    outline: NDArray[np.bool_]


def lesion_slices(
    labels: NDArray,
    vox2world: NDArray,
    centerline_xyz_mm: NDArray,
    z_mm: NDArray,
    lesions: Sequence[tuple[int, float, float]],
    *,
    frame: CordFrameConfig | None = None,
) -> list[LesionSlice]:
    """Pick the cord-frame slice of each lesion: its largest axial section in the frame.

    Parameters
    ----------
    labels : (I, J, K) int array
        Numbered lesions on the native T2Sag grid.
    vox2world : (4, 4) array
        Its affine, RAS+ mm.
    centerline_xyz_mm : (Z, 3) array
        T2Sag centreline at the reference slices (the crop's centre).
    z_mm : (Z,) array
        World z of the reference slices.
    lesions : sequence of (index, z_min_mm, z_max_mm)
        From the lesion table.
    frame : CordFrameConfig, optional
        Crop size and voxel size.

    Returns
    -------
    list of LesionSlice
        One per lesion, in the order given. A lesion outside the frame gets the slice nearest
        its z range and an empty outline.
    """
    frame = frame or CordFrameConfig()
    z = np.asarray(z_mm, dtype=float)
    picked = []
    for index, z_min, z_max in lesions:
        ks = np.flatnonzero((z >= z_min - frame.voxel_mm) & (z <= z_max + frame.voxel_mm))
        if ks.size == 0:
            k = int(np.argmin(np.abs(z - (z_min + z_max) / 2)))
            ks = np.array([k])
        ks = np.arange(ks[0], ks[-1] + 1)
        sampled, _ = sample_crop(
            np.asarray(labels, dtype=np.float32),
            vox2world,
            centerline_xyz_mm[ks, :2],
            z[ks],
            order=0,
            frame=frame,
        )
        areas = (sampled == index).sum(axis=(0, 1))
        best = int(np.argmax(areas))
        outline = crop_axial_patch(sampled == index, best)
        picked.append(LesionSlice(int(index), int(ks[best]), float(z[ks[best]]), outline))
    return picked


def patch_rgb(crop: NDArray, covered: NDArray, k: int, window: tuple[float, float]) -> NDArray:
    """One radiological RGB patch, grey where the slice is outside the field of view."""
    grey = to_grey(crop_axial_patch(crop, k), window)
    grey = np.where(crop_axial_patch(covered, k), grey, NOT_COVERED_GREY)
    return np.repeat(grey[..., None], 3, axis=-1)


def _letters(axes, row: int, col: int, n: int) -> None:
    """R, L, A, P on the sides of the patch at ``(row, col)`` (radiological display)."""
    style = {'color': TEXT_COLOUR, 'fontsize': 6, 'fontweight': 'bold'}
    axes.text(col + 1, row + n / 2, 'R', ha='left', va='center', **style)
    axes.text(col + n - 2, row + n / 2, 'L', ha='right', va='center', **style)
    axes.text(col + n / 2, row + 1, 'A', ha='center', va='top', **style)
    axes.text(col + n / 2, row + n - 1, 'P', ha='center', va='bottom', **style)


def _canvas(shape: tuple[int, int], margin: tuple[int, int]):
    """A black figure of ``shape`` pixels plus (top, left) margin, with one full-size axes."""
    rows, cols = shape[0] + margin[0], shape[1] + margin[1]
    figure = new_figure(cols * SCALE / DPI, rows * SCALE / DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(-margin[1] - 0.5, shape[1] - 0.5)
    axes.set_ylim(shape[0] - 0.5, -margin[0] - 0.5)
    return figure, axes


def crop_mosaic(
    crop: NDArray,
    coverage: NDArray,
    z_mm: NDArray,
    out: Path,
    *,
    step_mm: float = 5.0,
    most: int = 40,
    columns: int = 10,
) -> Path:
    """Axial patches of one slot's crop every ``step_mm`` over its field of view, as a PNG.

    Parameters
    ----------
    crop : (N, N, Z) float array
        The slot's cord-frame crop, axes LAS.
    coverage : (N, N, Z) bool array
        True inside the slot's field of view.
    z_mm : (Z,) array
        World z of the reference slices.
    out : Path
        PNG to write.
    step_mm, most, columns : float, int, int
        Distance between patches (widened to keep at most ``most``), patches per row.
    """
    covered = coverage.any(axis=(0, 1))
    ks = slices_every(z_mm, covered, step_mm, most)
    n = crop.shape[0]
    origins = mosaic_origins(len(ks), columns, (n, n), GAP)
    shape = mosaic_shape(len(ks), columns, (n, n), GAP)
    rgb = np.zeros((*shape, 3), dtype=np.float32)
    window = intensity_window(crop[coverage])
    figure, axes = _canvas(shape, (COLUMN_HEADER, 0))
    for (r, c), k in zip(origins, ks, strict=True):
        rgb[r : r + n, c : c + n] = patch_rgb(crop, coverage, int(k), window)
        label = f'{z_mm[k]:.0f}' if covered[k] else f'{z_mm[k]:.0f} n/c'
        axes.text(c + 1, r + 1, label, color=TEXT_COLOUR, fontsize=7, ha='left', va='top')
    axes.imshow(rgb, interpolation='bilinear', extent=(-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5))
    if len(ks):
        _letters(axes, *origins[0], n)
    axes.text(
        GAP,
        -COLUMN_HEADER / 2,
        'z (mm, superior first) - radiological: R on the left, A on top - 0.5 mm pixels',
        color='white',
        fontsize=8,
        va='center',
    )
    return save_png(figure, out)


def lesion_grid(
    cordframe: CordFrame,
    slices: Sequence[LesionSlice],
    probability: NDArray | None,
    out_overlay: Path,
    out_plain: Path,
) -> tuple[Path, Path]:
    """One row per lesion, one column per slot: the axial patch at the lesion's slice.

    The same patch position in every column is the same place along the cord, each slot's
    crop being centred on its own centreline. The last column shows the lesion probability
    when given. The overlay PNG adds the lesion's outline (cyan) on every patch.

    Parameters
    ----------
    cordframe : CordFrame
        Crops and coverage of every slot.
    slices : sequence of LesionSlice
        From :func:`lesion_slices`.
    probability : (N, N, Z) array or None
        Lesion probability in the cord frame.
    out_overlay, out_plain : Path
        PNGs to write.
    """
    slots: list[Slot | str] = list(cordframe.slots)
    if probability is not None:
        slots.append('probability')
    n = next(iter(cordframe.crops.values())).shape[0]
    origins = mosaic_origins(len(slices) * len(slots), len(slots), (n, n), GAP)
    shape = mosaic_shape(len(slices) * len(slots), len(slots), (n, n), GAP)
    rgb = np.zeros((*shape, 3), dtype=np.float32)
    windows = {
        s: intensity_window(cordframe.crops[s][cordframe.coverage[s]]) for s in cordframe.slots
    }
    figure, axes = _canvas(shape, (COLUMN_HEADER, ROW_HEADER))
    from matplotlib import colormaps

    heat = colormaps['hot']
    for row, lesion in enumerate(slices):
        for col, slot in enumerate(slots):
            r, c = origins[row * len(slots) + col]
            if slot == 'probability':
                patch = crop_axial_patch(probability, lesion.k)
                rgb[r : r + n, c : c + n] = heat(np.clip(patch, 0, 1))[..., :3]
                continue
            covered = cordframe.coverage[slot]
            rgb[r : r + n, c : c + n] = patch_rgb(
                cordframe.crops[slot], covered, lesion.k, windows[slot]
            )
            if not covered[:, :, lesion.k].any():
                axes.text(c + n / 2, r + n / 2, 'not\ncovered', color='white', fontsize=7,
                          ha='center', va='center')  # fmt: skip
        r0 = origins[row * len(slots)][0]
        axes.text(-ROW_HEADER + 2, r0 + n / 2, f'lesion {lesion.index}\nz {lesion.z_mm:.0f} mm',
                  color='white', fontsize=7, ha='left', va='center')  # fmt: skip
    for col, slot in enumerate(slots):
        axes.text(origins[col][1] + n / 2, -COLUMN_HEADER / 2, str(slot), color='white',
                  fontsize=8, ha='center', va='center')  # fmt: skip
    axes.imshow(rgb, interpolation='bilinear', extent=(-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5))
    _letters(axes, *origins[0], n)
    save_png(figure, out_plain)
    for row, lesion in enumerate(slices):
        for col in range(len(slots)):
            r, c = origins[row * len(slots) + col]
            extent = (c - 0.5, c + n - 0.5, r + n - 0.5, r - 0.5)
            draw_outline(axes, lesion.outline, extent)
    return save_png(figure, out_overlay), out_plain
