"""Synthetic MS lesions in cord coordinates: unions of ellipsoids placed relative to the cord.

A point of an image is in *cord coordinates* ``(u, v, z)`` when ``u = x - cx(z)`` and
``v = y - cy(z)``, with ``(cx, cy)`` that image's own cord centreline at world height ``z``
(RAS+ mm). A lesion defined in these coordinates sits at the same place in every sequence of a
subject even where the sequences' cords are shifted against each other (patient motion between
series): each sequence draws it around its own cord.

A lesion is one to three *lobes* (ellipsoids, long axis along the cord, tilted in the axial plane);
several lobes make the confluent and irregular shapes seen in MS. Its edge is soft: occupancy
falls from 1 to 0 over ``softness`` of its radius, so both sharp and blurred borders occur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Kinds of lesion and how often each is drawn.
KINDS: dict[str, float] = {'small': 0.3, 'ovoid': 0.35, 'long': 0.2, 'confluent': 0.15}

#: In-plane and along-cord semi-axes (mm) of one lobe, per kind of lesion.
SEMI_AXES_MM: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    'small': ((1.0, 1.8), (1.2, 3.0)),
    'ovoid': ((1.5, 3.0), (2.5, 7.0)),
    'long': ((1.5, 3.0), (8.0, 22.0)),
    'confluent': ((1.5, 3.0), (3.0, 10.0)),
}


@dataclass(frozen=True)
class Lobe:
    """One ellipsoid of a lesion, in cord coordinates (mm).

    Attributes
    ----------
    u, v, z : float
        Centre: left-right and anterior-posterior offsets from the cord centreline (RAS+ x and
        y directions), and world z.
    a, b, c : float
        Semi-axes along the tilted in-plane axes and along z.
    angle : float
        In-plane tilt of the ``a`` axis from world x, radians.
    """

    u: float
    v: float
    z: float
    a: float
    b: float
    c: float
    angle: float = 0.0

    def radius(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.float64]:
        """Ellipsoidal radius of points (1 on the surface), any matching shapes.

        Examples
        --------
        >>> lobe = Lobe(0.0, 0.0, 10.0, a=2.0, b=1.0, c=4.0)
        >>> lobe.radius(np.array([2.0, 0.0]), np.array([0.0, 0.5]), np.array([10.0, 10.0]))
        array([1. , 0.5])
        """
        du, dv = np.asarray(u) - self.u, np.asarray(v) - self.v
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        p, q = du * cos + dv * sin, -du * sin + dv * cos
        dz = (np.asarray(z) - self.z) / self.c
        return np.sqrt((p / self.a) ** 2 + (q / self.b) ** 2 + dz**2)


@dataclass(frozen=True)
class InsertedLesion:
    """A lesion: its lobes, the softness of its edge and its kind.

    Attributes
    ----------
    lobes : tuple of Lobe
    softness : float
        Fraction of the radius over which occupancy falls from 1 to 0 (0: a sharp edge).
    kind : str
        One of :data:`KINDS`.
    """

    lobes: tuple[Lobe, ...]
    softness: float
    kind: str

    @property
    def z_range_mm(self) -> tuple[float, float]:
        """Lowest and highest world z the lesion reaches (mm)."""
        return (
            min(lobe.z - lobe.c for lobe in self.lobes),
            max(lobe.z + lobe.c for lobe in self.lobes),
        )

    @property
    def reach_mm(self) -> float:
        """Largest in-plane distance of any of its points from the centreline (mm)."""
        return max(np.hypot(lobe.u, lobe.v) + max(lobe.a, lobe.b) for lobe in self.lobes)

    def inside(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.bool_]:
        """Whether points lie inside the lesion (its surface at radius 1)."""
        return np.min([lobe.radius(u, v, z) for lobe in self.lobes], axis=0) < 1.0

    def occupancy(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.float64]:
        """Soft occupancy in [0, 1]: 1 inside ``1 - softness``, 0 outside the surface.

        Examples
        --------
        >>> lesion = InsertedLesion((Lobe(0.0, 0.0, 0.0, 2.0, 2.0, 2.0),), 0.5, 'small')
        >>> lesion.occupancy(np.array([0.0, 1.5, 2.5]), np.zeros(3), np.zeros(3)).tolist()
        [1.0, 0.5, 0.0]
        """
        radius = np.min([lobe.radius(u, v, z) for lobe in self.lobes], axis=0)
        if self.softness <= 0:
            return (radius < 1.0).astype(np.float64)
        return np.clip((1.0 - radius) / self.softness, 0.0, 1.0)


def draw_lesion(
    rng: np.random.Generator, centre_uvz: tuple[float, float, float], kind: str | None = None
) -> InsertedLesion:
    """One random lesion whose first lobe is centred at ``centre_uvz`` (cord coordinates, mm).

    Further lobes of a confluent lesion start within about one lobe size of the first, so the
    lobes overlap.
    """
    kind = kind or str(rng.choice(list(KINDS), p=list(KINDS.values())))
    (in_low, in_high), (z_low, z_high) = SEMI_AXES_MM[kind]
    n_lobes = int(rng.integers(2, 4)) if kind == 'confluent' else 1
    lobes = []
    u0, v0, z0 = centre_uvz
    for k in range(n_lobes):
        a = float(rng.uniform(in_low, in_high))
        b = float(rng.uniform(in_low, in_high) * rng.uniform(0.6, 1.0))
        c = float(np.exp(rng.uniform(np.log(z_low), np.log(z_high))))
        u, v, z = u0, v0, z0
        if k:
            u += float(rng.normal(0.0, 1.2))
            v += float(rng.normal(0.0, 0.8))
            z += float(rng.uniform(-1.2, 1.2) * c)
        lobes.append(Lobe(u, v, z, a, b, c, float(rng.uniform(0, np.pi))))
    return InsertedLesion(tuple(lobes), float(rng.uniform(0.0, 0.35)), kind)
