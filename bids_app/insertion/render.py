"""Draw a lesion onto a native image grid, with partial volume, around that image's own cord.

Each voxel's share of a lesion is the mean occupancy over sub-samples spread evenly inside the
voxel (about every 0.25 mm along each axis), so a lesion 3 mm long fills a tenth of a 7.5 mm
axial slice at a tenth of its contrast, as a scanner would show it. Only the voxels of the
lesion's bounding box are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel.affines import apply_affine, voxel_sizes
from numpy.typing import NDArray

from bids_app.centerline.from_mask import centerline_from_mask
from bids_app.centerline.smoothing import smooth_centerline
from bids_app.geometry import sample_world
from bids_app.insertion.shapes import InsertedLesion

#: Sub-sample spacing inside a voxel (mm) and the most sub-samples along one voxel axis.
SUBSAMPLE_MM = 0.25
MAX_SUBSAMPLES = 24


@dataclass(frozen=True)
class CordTrack:
    """One image's cord centreline as a function of world z.

    Attributes
    ----------
    z_mm : (N,) float64
        Increasing world z of the points (RAS+ mm).
    xy_mm : (N, 2) float64
        World ``(x, y)`` of the centreline there; held constant beyond either end.
    """

    z_mm: NDArray[np.float64]
    xy_mm: NDArray[np.float64]

    def xy_at(self, z_mm: NDArray) -> NDArray[np.float64]:
        """Centreline ``(x, y)`` at world heights of any shape; shape ``(..., 2)``.

        Examples
        --------
        >>> track = CordTrack(np.array([0.0, 10.0]), np.array([[0.0, 0.0], [2.0, -1.0]]))
        >>> track.xy_at(np.array([5.0, 20.0])).tolist()
        [[1.0, -0.5], [2.0, -1.0]]
        """
        z = np.asarray(z_mm, dtype=np.float64)
        return np.stack([np.interp(z, self.z_mm, self.xy_mm[:, d]) for d in range(2)], axis=-1)

    def to_cord(self, xyz_mm: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """World points ``(..., 3)`` -> cord coordinates ``u, v, z``."""
        centre = self.xy_at(xyz_mm[..., 2])
        return xyz_mm[..., 0] - centre[..., 0], xyz_mm[..., 1] - centre[..., 1], xyz_mm[..., 2]

    def to_world(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.float64]:
        """Cord coordinates -> world points ``(..., 3)``."""
        centre = self.xy_at(z)
        return np.stack([u + centre[..., 0], v + centre[..., 1], np.asarray(z, float)], -1)


def cord_track(mask: NDArray, affine: NDArray, smoothing_mm: float = 8.0) -> CordTrack:
    """The smoothed centreline of a cord mask (its centroid per slice), as a :class:`CordTrack`."""
    centerline = smooth_centerline(centerline_from_mask(mask, affine), smoothing_mm)
    return CordTrack(centerline.xyz_mm[:, 2].copy(), centerline.xyz_mm[:, :2].copy())


@dataclass(frozen=True)
class CordGate:
    """Which cord-coordinate points are inside the reference image's cord mask.

    Every sequence tests its points against the same mask (the sagittal T2w's), moved onto its
    own cord, so a lesion has the same shape in every sequence.
    """

    mask: NDArray[np.float32]
    affine: NDArray[np.float64]
    track: CordTrack

    def __call__(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.bool_]:
        values, _ = sample_world(self.mask, self.affine, self.track.to_world(u, v, z))
        return values >= 0.5


def lesion_box(
    shape: tuple[int, int, int],
    affine: NDArray,
    lesion: InsertedLesion,
    track: CordTrack,
    margin_vox: int = 1,
) -> tuple[slice, slice, slice] | None:
    """Voxel slices of ``shape`` that can hold the lesion, or None when it is out of view."""
    low, high = lesion.z_range_mm
    z = np.linspace(low, high, 16)
    centre = track.xy_at(z)
    reach = lesion.reach_mm
    x = (centre[:, 0].min() - reach, centre[:, 0].max() + reach)
    y = (centre[:, 1].min() - reach, centre[:, 1].max() + reach)
    corners = np.array([[cx, cy, cz] for cx in x for cy in y for cz in (low, high)])
    ijk = apply_affine(np.linalg.inv(affine), corners)
    first = np.maximum(np.floor(ijk.min(0)).astype(int) - margin_vox, 0)
    last = np.minimum(np.ceil(ijk.max(0)).astype(int) + margin_vox, np.asarray(shape) - 1)
    if np.any(last < first):
        return None
    return tuple(slice(int(a), int(b) + 1) for a, b in zip(first, last, strict=True))


def subsample_offsets(affine: NDArray) -> NDArray[np.float64]:
    """Sub-sample positions inside a voxel, in voxel units about its centre; shape ``(M, 3)``.

    Examples
    --------
    >>> subsample_offsets(np.diag([0.5, 0.5, 1.0, 1.0])).shape  # 2 x 2 x 4
    (16, 3)
    """
    counts = np.clip(np.ceil(voxel_sizes(affine) / SUBSAMPLE_MM - 1e-6), 1, MAX_SUBSAMPLES)
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts.astype(int)]
    return np.stack(np.meshgrid(*axes, indexing='ij'), -1).reshape(-1, 3)


def lesion_fractions(
    shape: tuple[int, int, int],
    affine: NDArray,
    lesion: InsertedLesion,
    track: CordTrack,
    gate: CordGate,
) -> tuple[tuple[slice, slice, slice], NDArray[np.float32], NDArray[np.float32]] | None:
    """The lesion's share of each voxel of its bounding box on one native grid.

    Parameters
    ----------
    shape : (int, int, int)
        The image's grid.
    affine : (4, 4) array
        Its voxel-to-world affine (RAS+ mm).
    lesion : InsertedLesion
    track : CordTrack
        This image's own cord centreline.
    gate : CordGate
        The reference cord mask (points outside it are not lesion).

    Returns
    -------
    box : tuple of slice
        Where the two arrays sit in the image.
    soft : float32 array
        Mean soft occupancy (what the image shows).
    hard : float32 array
        Fraction of the voxel inside the lesion's surface (what the label is made of).
    None when the lesion is outside the image.
    """
    box = lesion_box(shape, affine, lesion, track)
    if box is None:
        return None
    grid = np.stack(
        np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing='ij'), -1
    ).astype(np.float64)
    soft = np.zeros(grid.shape[:3], np.float64)
    hard = np.zeros(grid.shape[:3], np.float64)
    offsets = subsample_offsets(affine)
    for offset in offsets:
        u, v, z = track.to_cord(apply_affine(affine, grid + offset))
        inside_cord = gate(u, v, z)
        soft += lesion.occupancy(u, v, z) * inside_cord
        hard += lesion.inside(u, v, z) & inside_cord
    n = len(offsets)
    return box, (soft / n).astype(np.float32), (hard / n).astype(np.float32)
