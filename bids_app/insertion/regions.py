"""Keep part of an image along the cord: the slices whose centres lie in a world z range.

Used to hold out a cord region when a dataset has a single person for a sequence: train on the
upper half of the cord, measure on the lower half.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bids_app.geometry import superior_axis, translate_grid

#: Names of the regions and which side of the split each keeps.
REGIONS = ('all', 'upper', 'lower')


def slice_z_mm(shape: tuple[int, int, int], affine: NDArray) -> NDArray[np.float64]:
    """World z of the centre of each slice across the image's superior axis.

    Examples
    --------
    >>> slice_z_mm((4, 4, 3), np.diag([1.0, 1.0, 2.0, 1.0])).tolist()
    [0.0, 2.0, 4.0]
    """
    axis = superior_axis(affine)
    centre = (np.asarray(shape, float) - 1) / 2
    index = np.arange(shape[axis], dtype=float)
    ijk = np.repeat(centre[None], len(index), axis=0)
    ijk[:, axis] = index
    return ijk @ np.asarray(affine, float)[2, :3] + affine[2, 3]


def region_bounds(region: str, z_low: float, z_high: float) -> tuple[float, float]:
    """World z range a region keeps, of the cord's extent ``[z_low, z_high]``.

    Examples
    --------
    >>> region_bounds('upper', 0.0, 40.0), region_bounds('lower', 0.0, 40.0)
    ((20.0, inf), (-inf, 20.0))
    """
    middle = (z_low + z_high) / 2
    return {'all': (-np.inf, np.inf), 'upper': (middle, np.inf), 'lower': (-np.inf, middle)}[
        region
    ]


def crop_slices(
    data: NDArray, affine: NDArray, bounds: tuple[float, float]
) -> tuple[NDArray, NDArray[np.float64]] | None:
    """The slices whose centre z lies in ``[low, high)``, with their affine; None when none do.

    Examples
    --------
    >>> vol = np.arange(5.0).reshape(1, 1, 5)
    >>> part, aff = crop_slices(vol, np.eye(4), (1.5, 3.5))
    >>> part.ravel().tolist(), float(aff[2, 3])
    ([2.0, 3.0], 2.0)
    """
    axis = superior_axis(affine)
    z = slice_z_mm(data.shape[:3], affine)
    kept = np.flatnonzero((z >= bounds[0]) & (z < bounds[1]))
    if kept.size == 0:
        return None
    first, last = int(kept.min()), int(kept.max())
    index = [slice(None)] * 3
    index[axis] = slice(first, last + 1)
    offset = [0, 0, 0]
    offset[axis] = first
    return data[tuple(index)], translate_grid(affine, offset)
