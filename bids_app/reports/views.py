"""Pure functions that turn volumes into 2D views for the report, in a stated display convention.

Display conventions (written on every figure with the letters R/L/A/P/S/I):

- axial views are **radiological**: the patient's right on the viewer's left, anterior at the top;
- sagittal views have anterior on the viewer's left and superior at the top.

A view is a 2D array in display order (row 0 at the top, column 0 on the left) and an
``extent = (left, right, bottom, top)`` in millimetres, as ``matplotlib.pyplot.imshow`` takes
it with ``origin='upper'``; with ``aspect='equal'`` a millimetre is as wide as it is tall,
whatever the voxel size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Extent = tuple[float, float, float, float]


@dataclass(frozen=True)
class View:
    """A 2D image in display order with its extent in mm and the side letters.

    Attributes
    ----------
    image : (rows, cols) array
        Row 0 is the top of the display, column 0 its left.
    extent : (left, right, bottom, top) floats
        Millimetres along the two canonical voxel axes of the view (outer voxel edges).
    letters : (left, right, top, bottom) str
        Anatomical direction of each side of the display.
    """

    image: NDArray
    extent: Extent
    letters: tuple[str, str, str, str]


def sagittal_view(data: NDArray, zooms: tuple[float, ...], i: int) -> View:
    """Sagittal slice ``i`` of a canonical (RAS) volume: anterior on the left, superior on top.

    Parameters
    ----------
    data : (I, J, K) array
        Volume whose voxel axes point to R, A, S (``nibabel.as_closest_canonical``).
    zooms : (3,) floats
        Voxel sizes in mm.
    i : int
        Index along the R axis.

    Examples
    --------
    >>> v = sagittal_view(np.arange(8).reshape(2, 2, 2), (1.0, 2.0, 3.0), 1)
    >>> v.image.tolist(), v.extent, v.letters
    ([[7, 5], [6, 4]], (3.0, -1.0, -1.5, 4.5), ('A', 'P', 'S', 'I'))
    """
    plane = np.asarray(data)[i]  # (J, K)
    zj, zk = float(zooms[1]), float(zooms[2])
    n_j, n_k = plane.shape
    extent = ((n_j - 0.5) * zj, -0.5 * zj, -0.5 * zk, (n_k - 0.5) * zk)
    return View(plane[::-1, ::-1].T, extent, ('A', 'P', 'S', 'I'))


def axial_view(data: NDArray, zooms: tuple[float, ...], k: int) -> View:
    """Axial slice ``k`` of a canonical (RAS) volume, radiological: R on the left, A on top.

    Parameters
    ----------
    data : (I, J, K) array
        Volume whose voxel axes point to R, A, S.
    zooms : (3,) floats
        Voxel sizes in mm.
    k : int
        Index along the S axis.

    Examples
    --------
    >>> v = axial_view(np.arange(8).reshape(2, 2, 2), (1.0, 2.0, 3.0), 0)
    >>> v.image.tolist(), v.extent, v.letters
    ([[6, 2], [4, 0]], (1.5, -0.5, -1.0, 3.0), ('R', 'L', 'A', 'P'))
    """
    plane = np.asarray(data)[:, :, k]  # (I, J)
    zi, zj = float(zooms[0]), float(zooms[1])
    n_i, n_j = plane.shape
    extent = ((n_i - 0.5) * zi, -0.5 * zi, -0.5 * zj, (n_j - 0.5) * zj)
    return View(plane[::-1, ::-1].T, extent, ('R', 'L', 'A', 'P'))


def crop_axial_patch(crop: NDArray, k: int) -> NDArray:
    """Slice ``k`` of a cord-frame crop (axes LAS) as a radiological patch: R left, A on top.

    Parameters
    ----------
    crop : (N, N, Z) array
        Cord-frame crop, axis 0 towards the left, axis 1 towards anterior.
    k : int
        Reference slice.

    Returns
    -------
    (N, N) array
        Row 0 is the most anterior row, column 0 the patient's right.

    Examples
    --------
    >>> crop_axial_patch(np.arange(4).reshape(2, 2, 1), 0).tolist()
    [[1, 3], [0, 2]]
    """
    return np.asarray(crop)[:, ::-1, k].T


def intensity_window(
    values: NDArray, *, low: float = 1.0, high: float = 99.5
) -> tuple[float, float]:
    """Display window: percentiles of the finite non-zero values (zero is "outside the image").

    Returns ``(0, 1)`` when there is nothing to show, and widens a constant image by 1.

    Examples
    --------
    >>> intensity_window(np.array([0.0, 2.0, 2.0]))
    (2.0, 3.0)
    >>> intensity_window(np.arange(1.0, 102.0), low=10, high=90)
    (11.0, 91.0)
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite != 0)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = (float(v) for v in np.percentile(finite, [low, high]))
    if vmax <= vmin:
        vmax = vmin + 1.0
    return vmin, vmax


def to_grey(image: NDArray, window: tuple[float, float]) -> NDArray[np.float32]:
    """Scale to [0, 1] with a display window and clip.

    >>> to_grey(np.array([0.0, 5.0, 20.0]), (0.0, 10.0)).tolist()
    [0.0, 0.5, 1.0]
    """
    vmin, vmax = window
    scaled = (np.asarray(image, dtype=np.float32) - vmin) / (vmax - vmin)
    return np.clip(np.nan_to_num(scaled), 0.0, 1.0)


def outline_segments(mask: NDArray, extent: Extent | None = None) -> NDArray[np.float64]:
    """Pixel-edge outline of a 2D mask, as line segments in display coordinates.

    Each segment lies on the edge between a pixel inside the mask and one outside (or the
    border), so the outline hugs the pixels exactly, as SCT's QC outlines do.

    Parameters
    ----------
    mask : (rows, cols) array
        Non-zero inside; row 0 at the top of the display.
    extent : (left, right, bottom, top), optional
        Display coordinates of the outer pixel edges (as ``imshow(origin='upper')``). Default:
        pixel coordinates, ``(-0.5, cols - 0.5, rows - 0.5, -0.5)``.

    Returns
    -------
    (S, 2, 2) float64 array
        Segment ``s`` goes from ``(x, y)`` = ``out[s, 0]`` to ``out[s, 1]``.

    Examples
    --------
    >>> outline_segments(np.array([[1]])).tolist()
    [[[-0.5, -0.5], [0.5, -0.5]], [[-0.5, 0.5], [0.5, 0.5]], [[-0.5, -0.5], [-0.5, 0.5]], \
[[0.5, -0.5], [0.5, 0.5]]]
    """
    inside = np.asarray(mask) != 0
    rows, cols = inside.shape
    left, right, bottom, top = extent or (-0.5, cols - 0.5, rows - 0.5, -0.5)
    x_edges = left + (right - left) * np.arange(cols + 1) / cols
    y_edges = top + (bottom - top) * np.arange(rows + 1) / rows
    padded = np.pad(inside, 1)
    horizontal = np.argwhere(padded[1:, 1:-1] != padded[:-1, 1:-1])  # (edge row, col)
    vertical = np.argwhere(padded[1:-1, 1:] != padded[1:-1, :-1])  # (row, edge col)
    h = np.stack(
        [
            np.stack([x_edges[horizontal[:, 1]], y_edges[horizontal[:, 0]]], axis=-1),
            np.stack([x_edges[horizontal[:, 1] + 1], y_edges[horizontal[:, 0]]], axis=-1),
        ],
        axis=1,
    )
    v = np.stack(
        [
            np.stack([x_edges[vertical[:, 1]], y_edges[vertical[:, 0]]], axis=-1),
            np.stack([x_edges[vertical[:, 1]], y_edges[vertical[:, 0] + 1]], axis=-1),
        ],
        axis=1,
    )
    return np.concatenate([h, v]).reshape(-1, 2, 2)


def mosaic_origins(
    count: int, columns: int, patch_shape: tuple[int, int], gap: int
) -> list[tuple[int, int]]:
    """Top-left pixel ``(row, col)`` of each patch in a mosaic filled row by row.

    >>> mosaic_origins(3, 2, (4, 5), 1)
    [(1, 1), (1, 7), (6, 1)]
    """
    rows, cols = patch_shape
    return [
        (gap + (n // columns) * (rows + gap), gap + (n % columns) * (cols + gap))
        for n in range(count)
    ]


def mosaic_shape(
    count: int, columns: int, patch_shape: tuple[int, int], gap: int
) -> tuple[int, int]:
    """Size in pixels of the mosaic of :func:`mosaic_origins` (a gap on every side).

    >>> mosaic_shape(3, 2, (4, 5), 1)
    (11, 13)
    """
    n_rows = max(1, -(-count // columns))
    n_cols = max(1, min(count, columns))
    return gap + n_rows * (patch_shape[0] + gap), gap + n_cols * (patch_shape[1] + gap)


def slices_every(z_mm: NDArray, covered: NDArray, step_mm: float, most: int) -> NDArray[np.intp]:
    """Reference slices every ``step_mm`` (widened to keep at most ``most``), superior first.

    Only the z range covered by the image is sampled, so a short axial slab is not lost among
    empty patches.

    Parameters
    ----------
    z_mm : (Z,) array
        World z of the reference slices, increasing.
    covered : (Z,) bool array
        Slices inside the image's field of view; all False means "sample everything".
    step_mm : float
        Wanted distance between shown slices.
    most : int
        Most slices returned.

    Examples
    --------
    >>> z = np.arange(0.0, 10.0, 0.5)
    >>> slices_every(z, z >= 2, 2.0, 10).tolist()
    [19, 15, 11, 7]
    >>> slices_every(z, z >= 2, 2.0, 2).tolist()
    [19, 4]
    """
    z = np.asarray(z_mm, dtype=float)
    inside = np.flatnonzero(covered) if np.any(covered) else np.arange(z.size)
    top, bottom = z[inside[-1]], z[inside[0]]
    step = max(step_mm, (top - bottom) / max(most - 1, 1))
    wanted = top - step * np.arange(int(np.floor((top - bottom) / step + 1e-9)) + 1)
    picked = np.searchsorted(z, wanted)
    picked = np.clip(picked, 0, z.size - 1)
    closer = np.abs(z[np.maximum(picked - 1, 0)] - wanted) < np.abs(z[picked] - wanted)
    picked = np.where(closer, np.maximum(picked - 1, 0), picked)
    return np.array(sorted(set(picked.tolist()), reverse=True)[:most], dtype=np.intp)
