"""Acquisition grids of the phantom's sequences: fields of view, voxel sizes, voxel orders,
obliquity, and the patient's pose (with a little motion) during each scan.

Scanner world coordinates are NIfTI RAS+ mm with the origin near the head: the foramen magnum sits
a few centimetres below the origin and z decreases towards the feet. Each acquisition has its own
``body_to_world`` (subject pose times a small rigid motion), so sequences are misaligned by a few
millimetres and degrees, as in real sessions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bids_app.phantoms.anatomy import Anatomy, centerline_xy
from bids_app.phantoms.sequences import SEQUENCES, Coverage, Grid
from bids_app.slots import Slot

_AXIS_DIRECTIONS = {
    'R': (1.0, 0.0, 0.0),
    'L': (-1.0, 0.0, 0.0),
    'A': (0.0, 1.0, 0.0),
    'P': (0.0, -1.0, 0.0),
    'S': (0.0, 0.0, 1.0),
    'I': (0.0, 0.0, -1.0),
}


@dataclass(frozen=True)
class Acquisition:
    """One image to synthesise.

    Attributes
    ----------
    slot : Slot
        The sequence slot.
    entities : dict of str to str
        BIDS entities other than sub/ses, in file-name order (``acq``, ``run``, ``chunk``).
    suffix : str
        BIDS suffix.
    shape : (int, int, int)
        Voxel counts.
    affine : (4, 4) float64 array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    body_to_world : (4, 4) float64 array
        The patient's pose during this scan: body ``xyz_mm`` to world ``xyz_mm``.
    sidecar : dict
        Acquisition parameters for the JSON sidecar.
    """

    slot: Slot
    entities: dict[str, str]
    suffix: str
    shape: tuple[int, int, int]
    affine: NDArray[np.float64]
    body_to_world: NDArray[np.float64]
    sidecar: dict = field(default_factory=dict)


def rotation_matrix(rotvec_deg: NDArray[np.floating]) -> NDArray[np.float64]:
    """Rotation matrix ``(3, 3)`` of a rotation vector (axis times angle in degrees), Rodrigues.

    >>> np.round(rotation_matrix(np.array([0.0, 0.0, 90.0])) @ [1, 0, 0], 6).tolist()
    [0.0, 1.0, 0.0]
    """
    vec = np.radians(np.asarray(rotvec_deg, dtype=np.float64))
    angle = float(np.linalg.norm(vec))
    if angle == 0:
        return np.eye(3)
    kx, ky, kz = vec / angle
    k = np.array([[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def rigid(rotvec_deg: NDArray[np.floating], translation_mm: NDArray[np.floating],
          centre_mm: NDArray[np.floating]) -> NDArray[np.float64]:  # fmt: skip
    """4x4 rigid transform: rotate about ``centre_mm``, then translate (all in mm)."""
    out = np.eye(4)
    rot = rotation_matrix(rotvec_deg)
    out[:3, :3] = rot
    out[:3, 3] = np.asarray(centre_mm) - rot @ np.asarray(centre_mm) + np.asarray(translation_mm)
    return out


def grid_affine(
    axcodes: str,
    voxel_mm: tuple[float, float, float],
    shape: tuple[int, int, int],
    centre_mm: NDArray[np.floating],
    rotation: NDArray[np.floating],
) -> NDArray[np.float64]:
    """Voxel-to-world affine of a grid stored in a given voxel order.

    Parameters
    ----------
    axcodes : str
        nibabel axis codes of the voxel axes before ``rotation``, e.g. ``'PSR'``.
    voxel_mm : (float, float, float)
        Voxel size along each voxel axis (mm).
    shape : (int, int, int)
        Voxel counts.
    centre_mm : (3,) float array
        World position (mm) of the grid's centre.
    rotation : (3, 3) float array
        Obliquity applied to the axis directions.

    Returns
    -------
    (4, 4) float64 array
        ``ijk`` to world ``xyz_mm``.

    Examples
    --------
    >>> aff = grid_affine('LAS', (0.5, 0.5, 5.0), (3, 3, 3), np.zeros(3), np.eye(3))
    >>> aff[:3, 3].tolist()
    [0.5, -0.5, -5.0]
    """
    cols = np.array([_AXIS_DIRECTIONS[c] for c in axcodes]).T * np.asarray(voxel_mm)
    out = np.eye(4)
    out[:3, :3] = np.asarray(rotation) @ cols
    out[:3, 3] = np.asarray(centre_mm) - out[:3, :3] @ ((np.asarray(shape) - 1) / 2)
    return out


#: Per-image spread of the protocol's voxel size (scanners and sites differ): in-plane factor,
#: and slice thickness (mm) of sagittal and axial acquisitions; 3D voxels scale as a whole.
IN_PLANE_FACTOR = (0.6, 1.6)
IN_PLANE_MM = (0.3, 1.5)
SAGITTAL_SLICE_MM = (2.0, 4.0)
AXIAL_SLICE_MM = (2.5, 6.0)
ISOTROPIC_MM = (0.8, 1.3)
#: Chance that an axial sequence is one short slab (16-40 mm) instead of covering C1-C7.
P_SHORT_AXIAL = 0.25
SHORT_AXIAL_MM = (16.0, 40.0)


def draw_voxel_mm(spec: Grid, rng: np.random.Generator) -> tuple[float, float, float]:
    """One image's voxel size: the protocol's, spread as real sites spread it.

    Examples
    --------
    >>> sizes = draw_voxel_mm(SEQUENCES['T2Sag'].grid, np.random.default_rng(0))
    >>> 2.0 <= sizes[2] <= 4.0 and all(0.3 <= s <= 1.5 for s in sizes[:2])  # P, I: in-plane
    True
    """
    if len(set(spec.voxel_mm)) == 1:
        size = float(rng.uniform(*ISOTROPIC_MM))
        return size, size, size
    factor = rng.uniform(*IN_PLANE_FACTOR)
    thick = SAGITTAL_SLICE_MM if spec.n_slices is not None else AXIAL_SLICE_MM
    slice_mm = float(rng.uniform(*thick))
    nominal_slice = max(spec.voxel_mm)
    return tuple(  # type: ignore[return-value]
        slice_mm if size == nominal_slice else float(np.clip(size * factor, *IN_PLANE_MM))
        for size in spec.voxel_mm
    )


def _grid_shape(
    spec: Grid, voxel_mm: tuple[float, float, float], small: bool, height_mm: float
) -> tuple[int, int, int]:
    """Voxel counts: L-R slices or field of view, A-P field of view, S-I slab height.

    Sagittal slabs keep the protocol's left-right coverage whatever their slice thickness.
    """
    fov = spec.in_plane_fov_mm[1 if small else 0]
    shape = []
    for code, nominal, size in zip(spec.axcodes, spec.voxel_mm, voxel_mm, strict=True):
        if code in 'LR' and spec.n_slices is not None:
            shape.append(max(3, round(spec.n_slices[1 if small else 0] * nominal / size)))
        elif code in 'LRAP':
            shape.append(round(fov / size))
        else:
            shape.append(math.ceil(height_mm / size - 1e-6))
    return shape[0], shape[1], shape[2]


def draw_pose(rng: np.random.Generator) -> NDArray[np.float64]:
    """The subject's body-to-world pose on the table: foramen magnum near world z = -25 mm."""
    return rigid(
        rng.normal(0.0, 1.5, 3),
        np.array([rng.uniform(-5, 5), rng.uniform(-45, -25), rng.uniform(-40, -10)]),
        np.zeros(3),
    )


def _z_ranges(
    anatomy: Anatomy,
    coverage: Coverage,
    small: bool,
    rng: np.random.Generator,
    voxel_mm: tuple[float, float, float],
) -> list:
    """Body z ranges (top, bottom) in mm of the slabs of one sequence, upper slab first."""
    top_cerv = anatomy.cord_top_mm + rng.uniform(25.0, 45.0)
    t2_bottom = anatomy.level_z('T2', 'bottom') - rng.uniform(0.0, 10.0)
    if coverage == 'sagittal-chunks':
        if small:
            return [(top_cerv, t2_bottom)]
        upper_bottom = anatomy.level_z('T3', 'bottom') - rng.uniform(0.0, 10.0)
        lower_top = upper_bottom + rng.uniform(36.0, 54.0)
        return [(top_cerv, upper_bottom), (lower_top, anatomy.conus_mm - rng.uniform(45.0, 70.0))]
    if coverage in ('axial-chunks', 'axial') and rng.random() < P_SHORT_AXIAL:
        centre = rng.uniform(anatomy.level_z('C6', 'top'), anatomy.level_z('C2', 'top'))
        half = rng.uniform(*SHORT_AXIAL_MM) / 2
        return [(centre + half, centre - half)]
    if coverage == 'axial-chunks':
        top, bottom = anatomy.level_z('C1', 'top'), anatomy.level_z('C7', 'bottom')
        split = anatomy.level_z('C4', 'top') + rng.uniform(-8.0, 8.0)
        step = voxel_mm[2]
        upper_bottom = top - step * math.ceil((top - split) / step)
        return [(top, upper_bottom), (upper_bottom + rng.uniform(-4.0, 4.0), bottom)]
    if coverage == 'axial':
        return [(anatomy.level_z('C1', 'top'), anatomy.level_z('C7', 'bottom'))]
    if small and coverage == '3d':
        return [(top_cerv - 15.0, anatomy.level_z('C7', 'bottom'))]
    return [(top_cerv, t2_bottom)]


def plan_acquisitions(
    anatomy: Anatomy,
    slot: Slot,
    pose: NDArray[np.float64],
    rng: np.random.Generator,
    *,
    small: bool = False,
    run: int | None = None,
    field_strength: float = 3.0,
) -> list[Acquisition]:
    """The images of one sequence (one per slab) for one subject and session.

    Parameters
    ----------
    anatomy : Anatomy
        The body.
    slot : Slot
        Which sequence.
    pose : (4, 4) float64 array
        The subject's body-to-world pose (see :func:`draw_pose`).
    rng : numpy.random.Generator
        Source of field-of-view jitter, obliquity and motion.
    small : bool
        Smaller fields of view and a single sagittal T2w slab (cervical only).
    run : int or None
        Value of the ``run`` entity, when this sequence was repeated.
    field_strength : float
        ``MagneticFieldStrength`` (T) for the sidecars.

    Returns
    -------
    list of Acquisition
        One per slab, upper slab first; slabs carry ``chunk`` entities when there are several.
    """
    sequence = SEQUENCES[slot]
    spec = sequence.grid
    voxel_mm = draw_voxel_mm(spec, rng)
    ranges = _z_ranges(anatomy, sequence.coverage, small, rng, voxel_mm)
    motion_rot, motion_shift = rng.normal(0.0, 1.0, 3), rng.normal(0.0, 1.5, 3)
    oblique = sequence.always_oblique or rng.random() < 0.4
    out = []
    for k, (top, bottom) in enumerate(ranges, start=1):
        shape = _grid_shape(spec, voxel_mm, small, top - bottom)
        z_mid = (top + bottom) / 2
        if spec.n_slices is None:
            # Axial slabs are placed from their top slice down.
            z_mid = top - voxel_mm[2] * (shape[2] - 1) / 2
        c = centerline_xy(anatomy, np.array([z_mid]))[0]
        centre_body = np.array([c[0] + rng.uniform(-2, 2), c[1] + spec.a_p_shift_mm, z_mid, 1.0])
        centre = (pose @ centre_body)[:3]
        tilt = rng.uniform(2.0, 6.0) * np.array([rng.choice([-1, 1]), rng.uniform(-0.4, 0.4), 0])
        rot = rotation_matrix(tilt if oblique else np.zeros(3))
        # Chunks of one sequence share most of the motion.
        chunk_motion = motion_rot + rng.normal(0, 0.2, 3), motion_shift + rng.normal(0, 0.3, 3)
        entities = {} if spec.acq is None else {'acq': spec.acq}
        if run is not None:
            entities['run'] = str(run)
        sidecar = {
            'MagneticFieldStrength': field_strength,
            'Manufacturer': 'sclesion-phantoms',
            'ManufacturersModelName': 'synthetic',
            **sequence.sidecar,
            'SliceThickness': round(max(voxel_mm), 3),
        }
        if len(ranges) > 1:
            entities['chunk'] = str(k)
            # The table moves into the bore to bring lower slabs to the isocentre.
            sidecar['TablePosition'] = [0.0, 0.0, round(float(ranges[0][0] - top), 1)]
        out.append(
            Acquisition(
                slot=slot,
                entities=entities,
                suffix=spec.suffix,
                shape=shape,
                affine=grid_affine(spec.axcodes, voxel_mm, shape, centre, rot),
                body_to_world=rigid(*chunk_motion, centre) @ pose,
                sidecar=sidecar,
            )
        )
    return out
