"""The synthetic body: a curved spinal cord in its canal, vertebrae, discs and soft tissue.

Everything here is a pure function of body coordinates in millimetres; :mod:`.tissues` turns the
shapes into tissue classes. The body frame is RAS+:
x towards the subject's right, y anterior, z superior; z = 0 is the foramen magnum, and the cord
runs from the medulla (z > 0) down to the conus (z about -440). Any acquisition grid samples the
same body by mapping its voxel centres into this frame (see :mod:`bids_app.phantoms.render`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Sampling step of the tabulated z profiles, in mm.
Z_STEP_MM = 0.5
#: Body z range covered by the profiles, in mm (beyond it, profiles are clamped).
Z_RANGE_MM = (-620.0, 140.0)
#: Nominal vertebral levels, from the top: (name, height of vertebra + disc below it in mm,
#: fraction of that height that is bone rather than disc).
LEVELS: tuple[tuple[str, float, float], ...] = (
    ('C1', 12.0, 1.0),
    ('C2', 20.0, 0.8),
    *((f'C{k}', 16.0, 0.78) for k in range(3, 8)),
    *((f'T{k}', 20.0 + 0.6 * k, 0.8) for k in range(1, 13)),
    *((f'L{k}', 33.0, 0.76) for k in range(1, 6)),
)


#: Rows of :attr:`Anatomy.profiles`, each a function of body z.
PROFILE_ROWS = (
    'cx',  # cord centre x (mm)
    'cy',  # cord centre y (mm)
    'cord_a',  # cord semi-axis L-R (mm), 0 where there is no cord
    'cord_b',  # cord semi-axis A-P (mm)
    'canal_dy',  # canal centre minus cord centre along y (mm)
    'canal_a',  # canal semi-axis L-R (mm)
    'canal_b',  # canal semi-axis A-P (mm)
    'vb_a',  # vertebral body semi-axis L-R (mm)
    'vb_b',  # vertebral body semi-axis A-P (mm)
    'body_dy',  # body outline centre minus canal centre along y (mm)
    'body_a',  # body outline semi-axis L-R (mm)
    'body_b',  # body outline semi-axis A-P (mm)
    'slope',  # d(cy)/dz of the centreline
)
_ROW = {name: k for k, name in enumerate(PROFILE_ROWS)}


@dataclass(frozen=True)
class Anatomy:
    """One subject's body, tabulated along body z.

    Attributes
    ----------
    profiles : (Nz, 13) float32 array
        The :data:`PROFILE_ROWS` sampled at ``z0_mm + Z_STEP_MM * k``.
    z0_mm : float
        Body z of the first profile sample.
    level_names : tuple of str
        Vertebral levels from the top (C1 ... L5).
    level_top_mm, level_bone_bottom_mm, level_bottom_mm : (L,) float64 arrays
        Body z of each level's upper endplate, of its lower endplate (the disc below starts
        there) and of the bottom of the disc below it.
    cord_top_mm : float
        Body z where the medulla ends and the brainstem begins (the cord mask stops here).
    conus_mm : float
        Body z of the tip of the conus medullaris.
    level_lut : (Nz,) intp array
        Level index at each profile sample (clamped to the first and last level).
    """

    profiles: NDArray[np.float32]
    z0_mm: float
    level_names: tuple[str, ...]
    level_top_mm: NDArray[np.float64]
    level_bone_bottom_mm: NDArray[np.float64]
    level_bottom_mm: NDArray[np.float64]
    cord_top_mm: float
    conus_mm: float
    level_lut: NDArray[np.intp]

    def level_z(self, name: str, where: str = 'top') -> float:
        """Body z (mm) of level ``name``'s ``'top'`` or ``'bottom'`` (bottom of the disc below)."""
        k = self.level_names.index(name)
        return float(self.level_top_mm[k] if where == 'top' else self.level_bottom_mm[k])


def _bump(z: NDArray[np.float64], centre: float, width: float) -> NDArray[np.float64]:
    return np.exp(-(((z - centre) / width) ** 2))


def _step(z: NDArray[np.float64], edge: float, width: float) -> NDArray[np.float64]:
    """Smooth step from 0 (far below ``edge``) to 1 (far above), over about ``width`` mm."""
    return 0.5 * (1.0 + np.tanh((z - edge) / width))


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one subject's anatomy: level heights, curvatures, cord and canal sizes.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the subject's random parameters.

    Returns
    -------
    Anatomy
        The tabulated body (cord about 450 mm from medulla to conus, 13 x 8 mm cross-section).
    """
    scale = rng.uniform(0.93, 1.07)
    heights = np.array([h for _, h, _ in LEVELS]) * scale * rng.uniform(0.97, 1.03, len(LEVELS))
    bone = np.array([f for _, _, f in LEVELS])
    bottom = -np.cumsum(heights)
    top = bottom + heights
    bone_bottom = top - bone * heights
    names = tuple(name for name, _, _ in LEVELS)
    lvl = {name: k for k, name in enumerate(names)}

    z = Z_RANGE_MM[0] + Z_STEP_MM * np.arange(int((Z_RANGE_MM[1] - Z_RANGE_MM[0]) / Z_STEP_MM) + 1)
    mid = (top + bottom) / 2
    conus = float(mid[lvl['L1']] + rng.uniform(-0.5, 0.6) * heights[lvl['L1']])
    cord_top = 30.0 * scale

    # Centreline: cervical lordosis (anterior convexity), thoracic kyphosis, lumbar lordosis.
    cy = (
        rng.uniform(7.0, 14.0) * _bump(z, mid[lvl['C4']], 45.0)
        - rng.uniform(14.0, 24.0) * _bump(z, mid[lvl['T7']], 110.0)
        + rng.uniform(8.0, 16.0) * _bump(z, mid[lvl['L3']], 70.0)
        + 0.25 * np.clip(z, 0.0, None)
    )
    cx = rng.uniform(0.0, 3.0) * np.sin(
        2 * np.pi * z / rng.uniform(250, 400) + rng.uniform(0, 6.3)
    )

    cervical = _step(z, bottom[lvl['C7']], 10.0)
    enlargement = _bump(z, mid[lvl['C5']], 22.0)
    lumbar = _bump(z, top[lvl['T12']], 25.0)
    size = rng.uniform(0.9, 1.1)
    cord_a = size * (5.0 + 1.5 * cervical + 0.9 * enlargement + 0.6 * lumbar)
    cord_b = size * (3.8 + 0.2 * cervical + 0.5 * lumbar)
    medulla = np.clip(z / cord_top, 0.0, None)
    cord_a = cord_a + 5.0 * medulla**1.5
    cord_b = cord_b + 5.0 * medulla**1.5
    taper = np.clip((z - conus) / 28.0, 0.0, 1.0) ** 0.6
    cord_a, cord_b = cord_a * taper, cord_b * taper

    canal_a = rng.uniform(0.95, 1.1) * (
        8.2 + 1.0 * cervical + 1.5 * _step(-z, -bottom[lvl['T12']], 15)
    )
    canal_b = rng.uniform(0.95, 1.1) * (7.0 + 0.3 * cervical)
    canal_dy = -0.8 - 1.0 * (1 - cervical)
    head = _step(z, 0.0, 6.0)
    canal_a = canal_a + head * 24.0 * np.clip(z / 40.0, 0.0, 1.0)
    canal_b = canal_b + head * 20.0 * np.clip(z / 40.0, 0.0, 1.0)
    canal_dy = canal_dy - head * 14.0 * np.clip(z / 40.0, 0.0, 1.0)

    vb_a = 9.5 + 6.0 * (1 - cervical) + 5.0 * _step(-z, -bottom[lvl['T12']], 30)
    vb_b = 7.5 + 5.0 * (1 - cervical) + 3.0 * _step(-z, -bottom[lvl['T12']], 30)
    thorax = _step(-z, -bottom[lvl['T1']], 20.0)
    body_dy = 6.0 + 45.0 * thorax
    body_a = 55.0 + 95.0 * thorax + 20.0 * head
    body_b = 55.0 + 60.0 * thorax + 40.0 * head
    profiles = np.stack(
        [
            cx,
            cy,
            cord_a,
            cord_b,
            np.broadcast_to(canal_dy, z.shape),
            canal_a,
            canal_b,
            vb_a,
            vb_b,
            body_dy,
            body_a,
            body_b,
            np.gradient(cy, Z_STEP_MM),
        ],
        axis=1,
    ).astype(np.float32)
    return Anatomy(
        profiles=profiles,
        z0_mm=float(z[0]),
        level_names=names,
        level_top_mm=top,
        level_bone_bottom_mm=bone_bottom,
        level_bottom_mm=bottom,
        cord_top_mm=cord_top,
        conus_mm=conus,
        level_lut=np.clip(np.searchsorted(-bottom, -z, side='right'), 0, len(LEVELS) - 1),
    )


def sample_profiles(anatomy: Anatomy, z_mm: NDArray[np.floating]) -> NDArray[np.float32]:
    """Every profile at body z, from the nearest tabulated sample (at most 0.25 mm away).

    Parameters
    ----------
    anatomy : Anatomy
        The body.
    z_mm : (N,) float array
        Body z in mm; values beyond :data:`Z_RANGE_MM` take the end values.

    Returns
    -------
    (N, 13) float32 array
        The :data:`PROFILE_ROWS` (columns) at each z.
    """
    k = np.rint((np.asarray(z_mm, dtype=np.float32) - anatomy.z0_mm) / Z_STEP_MM)
    k = np.clip(k, 0, anatomy.profiles.shape[0] - 1).astype(np.intp)
    return anatomy.profiles[k]


def centerline_xy(anatomy: Anatomy, z_mm: NDArray[np.floating]) -> NDArray[np.float64]:
    """The true cord centreline in the body frame, linearly interpolated between samples.

    Parameters
    ----------
    anatomy : Anatomy
        The body.
    z_mm : (N,) float array
        Body z in mm.

    Returns
    -------
    (N, 2) float64 array
        Body x and y (mm) of the centre of the cord's cross-section at each z.
    """
    grid = anatomy.z0_mm + Z_STEP_MM * np.arange(anatomy.profiles.shape[0])
    return np.stack(
        [np.interp(z_mm, grid, anatomy.profiles[:, _ROW[name]]) for name in ('cx', 'cy')], axis=1
    )


def cord_semi_axes(anatomy: Anatomy, z_mm: NDArray[np.floating]) -> NDArray[np.float64]:
    """Cord semi-axes ``(a, b)`` (mm; L-R, A-P) at body z, shape ``(N, 2)``; 0 below the conus."""
    grid = anatomy.z0_mm + Z_STEP_MM * np.arange(anatomy.profiles.shape[0])
    return np.stack(
        [np.interp(z_mm, grid, anatomy.profiles[:, _ROW[k]]) for k in ('cord_a', 'cord_b')], axis=1
    )
