"""Tissue classes at body points: vertebrae, discs, canal, cord with grey matter, soft tissue.

Pure functions of body coordinates (mm, the frame of :mod:`bids_app.phantoms.anatomy`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from bids_app.phantoms.anatomy import PROFILE_ROWS, Z_STEP_MM, Anatomy, sample_profiles

_ROW = {name: k for k, name in enumerate(PROFILE_ROWS)}
#: Points per block in :func:`tissue_at` (blocks that fit in the CPU cache run about 2x faster).
_BLOCK = 65536


class Tissue(IntEnum):
    """Tissue classes of the phantom; each sequence gives each class an intensity."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    VISCERA = 3
    LUNG = 4
    CORTEX = 5
    MARROW = 6
    DISC = 7
    CSF = 8
    WM = 9
    GM = 10
    BRAIN = 11
    BRAINSTEM = 12


def _in_grey_matter(u: NDArray, v: NDArray) -> NDArray[np.bool_]:
    """Butterfly grey matter in cord-normalised coordinates (u: L-R, v: anterior; unit disc)."""
    au = np.abs(u)
    bar = (np.abs(v + 0.02) < 0.11) & (au < 0.34)
    ventral = ((au - 0.3) / 0.25) ** 2 + ((v - 0.28) / 0.33) ** 2 < 1.0
    # Dorsal horns: narrow ellipses pointing postero-laterally, reaching the cord's surface.
    pu, pv = au - 0.3, v + 0.45
    along = pu * 0.42 - pv * 0.91
    across = pu * 0.91 + pv * 0.42
    dorsal = (along / 0.5) ** 2 + (across / 0.11) ** 2 < 1.0
    return bar | ventral | dorsal


def _level_index(anatomy: Anatomy, s: NDArray) -> NDArray[np.intp]:
    """Index of the vertebral level (vertebra + disc below) at column height ``s`` (mm)."""
    k = np.rint((s - anatomy.z0_mm) / Z_STEP_MM)
    return anatomy.level_lut[np.clip(k, 0, len(anatomy.level_lut) - 1).astype(np.intp)]


def _spine_tissue(anatomy: Anatomy, p: NDArray, dx: NDArray, dy: NDArray, z: NDArray) -> NDArray:
    """Tissue near the spine (column, canal, cord), or AIR where none of them is present."""
    col = {name: p[:, k] for name, k in _ROW.items()}
    ccy = dy - col['canal_dy']
    out = np.zeros(dx.shape, dtype=np.uint8)
    head = z > 0.0
    # Level lookup along the column axis: shift z by the A-P offset times the local slope, so
    # that endplates and discs lie perpendicular to the spine rather than horizontal.
    s = z + dy * col['slope']
    k = _level_index(anatomy, s)
    in_column = (s <= anatomy.level_top_mm[0]) & (s >= anatomy.level_bottom_mm[-1]) & ~head
    is_bone = in_column & (s >= anatomy.level_bone_bottom_mm[k])

    vb_b = col['vb_b']
    r_vb = np.hypot(dx / col['vb_a'], (ccy - col['canal_b'] - 1.5 - vb_b) / vb_b)
    in_vb = in_column & (r_vb < 1.0)
    out[in_vb] = Tissue.DISC
    out[in_vb & is_bone] = Tissue.CORTEX
    out[in_vb & is_bone & (r_vb < 1.0 - 1.2 / vb_b)] = Tissue.MARROW

    canal_b = col['canal_b']
    r_canal = np.hypot(dx / col['canal_a'], ccy / canal_b)
    lamina = is_bone & (ccy < 0) & (r_canal >= 1.0) & (r_canal < 1.0 + 5.0 / canal_b)
    out[lamina] = Tissue.CORTEX
    out[lamina & (r_canal < 1.0 + 3.5 / canal_b)] = Tissue.MARROW
    # Spinous processes slope downwards posteriorly and fill the middle of their level's height.
    depth = -ccy - canal_b
    s_sp = s - 0.5 * np.clip(depth, 0, None)
    k_sp = _level_index(anatomy, s_sp)
    frac = (s_sp - anatomy.level_bottom_mm[k_sp]) / (
        anatomy.level_top_mm[k_sp] - anatomy.level_bottom_mm[k_sp]
    )
    reach = np.where(s_sp > anatomy.level_bottom_mm[6], 24.0, 32.0)
    spinous = in_column & (np.abs(dx) < 4.0) & (depth > 2.0) & (depth < reach)
    spinous &= (frac > 0.25) & (frac < 0.8)
    out[spinous] = Tissue.CORTEX
    out[spinous & (np.abs(dx) < 3.0) & (frac > 0.3) & (frac < 0.75) & (depth < reach - 1.5)] = (
        Tissue.MARROW
    )
    # Epidural fat behind the dura.
    epidural = ~head & (ccy < -0.3 * canal_b) & (r_canal >= 1.0) & (r_canal < 1.0 + 1.5 / canal_b)
    out[epidural & (out == Tissue.AIR)] = Tissue.FAT

    skull = head & (r_canal >= 1.0) & (r_canal < 1.0 + 8.0 / canal_b)
    out[skull] = Tissue.MARROW
    out[skull & (r_canal < 1.0 + 2.0 / canal_b)] = Tissue.CORTEX

    in_canal = r_canal < 1.0
    out[in_canal] = Tissue.CSF
    cereb = head & in_canal & (np.hypot(dx / 40.0, (ccy + 22.0) / 17.0) < np.clip(z / 12, 0, 1))
    out[cereb] = Tissue.BRAIN
    a, b = col['cord_a'], col['cord_b']
    has_cord = a > 0.05
    u = np.divide(dx, a, out=np.full_like(dx, 9.0), where=has_cord)
    v = np.divide(dy, b, out=np.full_like(dy, 9.0), where=has_cord)
    in_cord = u**2 + v**2 < 1.0
    spinal = in_cord & (z <= anatomy.cord_top_mm)
    out[in_cord & ~spinal] = Tissue.BRAINSTEM
    out[spinal] = Tissue.WM
    out[spinal & _in_grey_matter(u, v)] = Tissue.GM
    return out


def tissue_at(anatomy: Anatomy, xyz_mm: NDArray[np.floating]) -> NDArray[np.uint8]:
    """The tissue class at body points.

    Parameters
    ----------
    anatomy : Anatomy
        The body.
    xyz_mm : (N, 3) float array
        Points in the body frame (RAS+ mm).

    Returns
    -------
    (N,) uint8 array
        :class:`Tissue` values.
    """
    xyz = np.asarray(xyz_mm, dtype=np.float32)
    out = np.empty(len(xyz), dtype=np.uint8)
    # Blocks that fit in the CPU cache run about twice as fast as one pass over everything.
    for start in range(0, len(xyz), _BLOCK):
        out[start : start + _BLOCK] = _tissue_block(anatomy, xyz[start : start + _BLOCK])
    return out


def _tissue_block(anatomy: Anatomy, xyz: NDArray[np.float32]) -> NDArray[np.uint8]:
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    p = sample_profiles(anatomy, z)
    dx = x - p[:, _ROW['cx']]
    dy = y - p[:, _ROW['cy']]
    ccy = dy - p[:, _ROW['canal_dy']]
    by = ccy - p[:, _ROW['body_dy']]
    r_body = np.hypot(dx / p[:, _ROW['body_a']], by / p[:, _ROW['body_b']])
    out = np.where(r_body < 1.0, np.uint8(Tissue.FAT), np.uint8(Tissue.AIR))
    fat_mm = np.where(by < 0, 9.0, 5.0).astype(np.float32)
    out[r_body < 1.0 - fat_mm / p[:, _ROW['body_b']]] = Tissue.MUSCLE

    vb_front = p[:, _ROW['canal_b']] + 1.5 + 2 * p[:, _ROW['vb_b']]
    t1, t11 = anatomy.level_z('T1', 'top'), anatomy.level_z('T11', 'top')
    thorax = (z < t1) & (z > t11)
    if thorax.any():
        out[thorax & (ccy > vb_front) & (np.abs(dx) < 45.0) & (r_body < 0.85)] = Tissue.VISCERA
        lung_r = np.hypot((np.abs(dx) - 62.0) / 42.0, (ccy - vb_front + 5.0) / 55.0)
        out[thorax & (lung_r < 1.0)] = Tissue.LUNG
    neck = (z > anatomy.level_z('T4', 'top')) & (z < 15.0)
    if neck.any():
        out[neck & (np.hypot(dx, ccy - vb_front - 14.0) < 8.0)] = Tissue.AIR

    near = np.flatnonzero((np.abs(dx) < 45.0) & (ccy > -80.0) & (ccy < vb_front + 1.0))
    if near.size:
        spine = _spine_tissue(anatomy, p[near], dx[near], dy[near], z[near])
        keep = spine > 0
        out[near[keep]] = spine[keep]
    return out


def is_spinal_cord(tissue: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Whether each tissue value belongs to the spinal cord mask (white or grey matter)."""
    return (tissue == Tissue.WM) | (tissue == Tissue.GM)
