"""Synthetic MS lesions: ellipsoids inside the cord, elongated along it.

A lesion lives in the cord's own coordinates: its centre sits at a fixed fraction ``(u, v)`` of the
cord's semi-axes at body height ``z_mm``, so it follows the curved cord. Its voxels are the points
of the cord (white or grey matter) inside the ellipsoid, so it never leaves the cord.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bids_app.phantoms.anatomy import Anatomy, centerline_xy, cord_semi_axes
from bids_app.phantoms.tissues import is_spinal_cord

#: Where lesions go, with probabilities: dorsal columns, lateral columns, anywhere else.
REGIONS: dict[str, float] = {'dorsal': 0.45, 'lateral': 0.4, 'central': 0.15}
#: Lesion length along the cord and diameter across it, in mm.
LENGTH_RANGE_MM = (3.0, 30.0)
DIAMETER_RANGE_MM = (2.0, 7.0)


@dataclass(frozen=True)
class Lesion:
    """One lesion, in the body frame (see :mod:`bids_app.phantoms.anatomy`).

    Attributes
    ----------
    z_mm : float
        Body z of the lesion centre (mm).
    u, v : float
        Centre as fractions of the cord's L-R and A-P semi-axes (v > 0 anterior).
    length_mm : float
        Length along z (mm), in ``LENGTH_RANGE_MM``.
    diameter_mm : float
        Diameter across the cord (mm), in ``DIAMETER_RANGE_MM``.
    region : str
        ``'dorsal'``, ``'lateral'`` or ``'central'``.
    strength : float
        How much the lesion departs from normal cord on the sagittal T2w, 0..1; the other
        sequences show it at least as strongly (see :mod:`bids_app.phantoms.contrasts`).
    """

    z_mm: float
    u: float
    v: float
    length_mm: float
    diameter_mm: float
    region: str
    strength: float

    def centre_xyz_mm(self, anatomy: Anatomy) -> NDArray[np.float64]:
        """Centre of the lesion in the body frame, shape ``(3,)``, mm."""
        z = np.array([self.z_mm])
        c = centerline_xy(anatomy, z)[0]
        ab = cord_semi_axes(anatomy, z)[0]
        return np.array([c[0] + self.u * ab[0], c[1] + self.v * ab[1], self.z_mm])


def _draw_one(rng: np.random.Generator, z_range: tuple[float, float]) -> Lesion:
    region = str(rng.choice(list(REGIONS), p=list(REGIONS.values())))
    if region == 'dorsal':
        u, v = rng.uniform(-0.2, 0.2), rng.uniform(-0.7, -0.45)
    elif region == 'lateral':
        u, v = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 0.7), rng.uniform(-0.3, 0.2)
    else:
        u, v = rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.4)
    length = float(np.exp(rng.uniform(*np.log(LENGTH_RANGE_MM))))
    return Lesion(
        z_mm=float(rng.uniform(*z_range)),
        u=float(u),
        v=float(v),
        length_mm=length,
        diameter_mm=float(rng.uniform(*DIAMETER_RANGE_MM)),
        region=region,
        strength=float(rng.uniform(0.15, 1.0)),
    )


def _overlaps(a: Lesion, b: Lesion, anatomy: Anatomy) -> bool:
    """Whether two lesions could touch (a 1.5 mm gap is kept between them)."""
    gap_z = abs(a.z_mm - b.z_mm) - (a.length_mm + b.length_mm) / 2
    gap_xy = np.hypot(*(a.centre_xyz_mm(anatomy) - b.centre_xyz_mm(anatomy))[:2])
    gap_xy -= (a.diameter_mm + b.diameter_mm) / 2
    return gap_z < 1.5 and gap_xy < 1.5


def draw_lesions(
    rng: np.random.Generator,
    anatomy: Anatomy,
    z_range_mm: tuple[float, float],
    *,
    max_count: int = 8,
    existing: tuple[Lesion, ...] = (),
) -> tuple[Lesion, ...]:
    """Draw 0 to ``max_count`` non-touching lesions with centres in a body-z range.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    anatomy : Anatomy
        The body whose cord holds the lesions.
    z_range_mm : (float, float)
        Lowest and highest body z (mm) of the lesion centres; lesions keep half their length
        inside it.
    max_count : int
        Most lesions to add.
    existing : tuple of Lesion
        Lesions already present (new ones do not touch them); they are returned first.

    Returns
    -------
    tuple of Lesion
        ``existing`` followed by the new lesions.
    """
    out = list(existing)
    for _ in range(int(rng.integers(0, max_count + 1))):
        for _attempt in range(20):
            lesion = _draw_one(rng, z_range_mm)
            lo, hi = lesion.z_mm - lesion.length_mm / 2, lesion.z_mm + lesion.length_mm / 2
            if lo < z_range_mm[0] - 15 or hi > z_range_mm[1] + 15:
                continue
            if not any(_overlaps(lesion, other, anatomy) for other in out):
                out.append(lesion)
                break
    return tuple(out)


def lesion_at(
    anatomy: Anatomy,
    lesions: tuple[Lesion, ...],
    xyz_mm: NDArray[np.floating],
    tissue: NDArray[np.uint8],
) -> NDArray[np.uint8]:
    """Which lesion each body point is in.

    Parameters
    ----------
    anatomy : Anatomy
        The body.
    lesions : tuple of Lesion
        At most 255 lesions.
    xyz_mm : (N, 3) float array
        Points in the body frame (mm).
    tissue : (N,) uint8 array
        The points' tissue (from :func:`~bids_app.phantoms.anatomy.tissue_at`); only cord counts.

    Returns
    -------
    (N,) uint8 array
        0 outside every lesion, else the 1-based index of the lesion.
    """
    out = np.zeros(len(xyz_mm), dtype=np.uint8)
    cord = np.flatnonzero(is_spinal_cord(tissue))
    if not lesions or cord.size == 0:
        return out
    pts = np.asarray(xyz_mm, dtype=np.float64)[cord]
    for k, lesion in enumerate(lesions, start=1):
        half = lesion.length_mm / 2
        near = np.flatnonzero(np.abs(pts[:, 2] - lesion.z_mm) < half)
        if near.size == 0:
            continue
        z = pts[near, 2]
        centre = centerline_xy(anatomy, z) + np.array([lesion.u, lesion.v]) * cord_semi_axes(
            anatomy, z
        )
        r2 = np.sum((pts[near, :2] - centre) ** 2, axis=1) / (lesion.diameter_mm / 2) ** 2
        inside = r2 + ((z - lesion.z_mm) / half) ** 2 < 1.0
        out[cord[near[inside]]] = k
    return out
