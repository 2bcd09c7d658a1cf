"""The centreline of the spinal cord as data: world points, confidence and the cord's z extent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bids_app.errors import GeometryError


@dataclass(frozen=True)
class Centerline:
    """Points of the cord centreline in world millimetres, sorted by increasing z.

    Parameters
    ----------
    xyz_mm : (N, 3) array of float64
        Centreline points, world ``xyz_mm`` (NIfTI RAS+ of the source image's affine), sorted by
        strictly increasing z. ``N >= 1``.
    confidence : (N,) array of float64
        How sure the provider is of each point, in [0, 1] (1 for points taken from a mask).
    z_extent_mm : tuple of float
        ``(z_min, z_max)``, world z in mm of the part of the image where the cord is visible.
        It bounds the cord frame's reference z range.

    Examples
    --------
    >>> cl = Centerline(np.array([[3.0, 0.0, 0.0], [3.0, 0.0, 10.0]]), np.ones(2), (0.0, 10.0))
    >>> cl.z_mm.tolist()
    [0.0, 10.0]
    """

    xyz_mm: NDArray[np.float64]
    confidence: NDArray[np.float64]
    z_extent_mm: tuple[float, float]

    def __post_init__(self) -> None:
        xyz = np.asarray(self.xyz_mm, dtype=np.float64)
        conf = np.asarray(self.confidence, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) == 0:
            raise GeometryError(
                f'centreline points must be a non-empty (N, 3) array, got {xyz.shape}'
            )
        if conf.shape != (len(xyz),):
            raise GeometryError(
                f'centreline confidence must have shape ({len(xyz)},), got {conf.shape}'
            )
        if not np.all(np.isfinite(xyz)) or np.any(np.diff(xyz[:, 2]) <= 0):
            raise GeometryError('centreline points must be finite with strictly increasing z')
        xyz.setflags(write=False)
        conf.setflags(write=False)
        object.__setattr__(self, 'xyz_mm', xyz)
        object.__setattr__(self, 'confidence', conf)
        object.__setattr__(
            self, 'z_extent_mm', (float(self.z_extent_mm[0]), float(self.z_extent_mm[1]))
        )

    @property
    def z_mm(self) -> NDArray[np.float64]:
        """(N,) world z of the points, in mm."""
        return self.xyz_mm[:, 2]
