"""Synthetic cord volumes with known centrelines, in any voxel order, and the shared real data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray


def _reorient(
    volume: NDArray,
    affine: NDArray[np.float64],
    perm: tuple[int, int, int],
    flips: tuple[bool, ...],
) -> tuple[NDArray, NDArray[np.float64]]:
    """The same image stored in another voxel order: axes permuted, then flipped; same world."""
    out = np.transpose(volume, perm)
    new_affine = affine.copy()
    new_affine[:3, :3] = affine[:3, list(perm)]
    for axis, flip in enumerate(flips):
        if flip:
            n = out.shape[axis]
            new_affine[:3, 3] += new_affine[:3, axis] * (n - 1)
            new_affine[:3, axis] *= -1
            out = np.flip(out, axis=axis)
    return np.ascontiguousarray(out), new_affine


def _cord_phantom(
    affine: NDArray[np.float64],
    shape: tuple[int, int, int],
    centre_xy: Callable[[NDArray], tuple[NDArray, NDArray]],
    *,
    contrast: str = 'T2',
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """A cord (ellipse 5 x 3.5 mm) in a CSF ring (9 x 6.5 mm) in tissue, on any grid.

    ``centre_xy(z)`` gives the world cord centre (x, y) at world z. Returns the image
    (cord 0.35, CSF 1.0, tissue 0.45 for T2; cord 0.8, CSF 0.1, tissue 0.5 for T1) and the
    cord mask (partial volume ignored: voxel centres).
    """
    ijk = np.indices(shape).reshape(3, -1).astype(np.float64)
    x, y, z = affine[:3, :3] @ ijk + affine[:3, 3:4]
    cx, cy = centre_xy(z)
    r_cord = ((x - cx) / 5.0) ** 2 + ((y - cy) / 3.5) ** 2
    r_csf = ((x - cx) / 9.0) ** 2 + ((y - cy) / 6.5) ** 2
    levels = {'T2': (0.35, 1.0, 0.45), 'T1': (0.8, 0.1, 0.5)}[contrast]
    image = np.full(x.shape, levels[2])
    image[r_csf <= 1] = levels[1]
    image[r_cord <= 1] = levels[0]
    rng = np.random.default_rng(seed)
    image = image + noise * rng.standard_normal(image.shape)
    return image.reshape(shape).astype(np.float32), (r_cord <= 1).reshape(shape).astype(np.uint8)


@pytest.fixture
def reorient() -> Callable[..., tuple[NDArray, NDArray[np.float64]]]:
    """:func:`_reorient`: store an image in another voxel order."""
    return _reorient


@pytest.fixture
def cord_phantom() -> Callable[..., tuple[NDArray[np.float32], NDArray[np.uint8]]]:
    """:func:`_cord_phantom`: a synthetic cord with a known centreline."""
    return _cord_phantom
