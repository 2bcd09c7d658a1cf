"""Number lesions and measure each one, as SCT's ``sct_analyze_lesion`` does, in world millimetres.

Pure functions on a voxel grid and its 4x4 ``vox2world`` affine (NIfTI, RAS+ world mm). Every
measure is defined in the world frame, so it does not depend on how the image is stored: an
"axial slice" is a slab of constant world z, not a voxel-index slice, which matters for
sagittal (PSR-stored) and oblique grids.

Geometry used throughout: a voxel is the parallelepiped spanned by the columns ``a_0, a_1, a_2``
of ``vox2world[:3, :3]`` around its centre, so its volume is ``|det vox2world[:3, :3]|`` and its
extent along world axis ``d`` is ``sum_i |vox2world[d, i]|``. A lesion is the union of its voxels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.errors import GeometryError

logger = logging.getLogger(__name__)

#: Points per voxel edge used to spread a voxel over axial slabs (axes with a world-z component).
_SUBSAMPLES = 4
#: Two superior-most voxel centres closer than this in world z (mm) count as level.
_Z_TIE_DECIMALS = 6

#: Column descriptions of :meth:`LesionMeasures.to_row`, for the TSV's JSON sidecar.
COLUMNS: dict[str, dict[str, str]] = {
    'index': {'Description': 'Lesion number in the dseg image, 1 = superior-most lesion'},
    'name': {'Description': 'Lesion name'},
    'volume_mm3': {'Description': 'Lesion volume (voxel count x voxel volume)', 'Units': 'mm^3'},
    'length_mm': {
        'Description': 'Superior-inferior extent of the lesion voxels in world z '
        '(z_max_mm - z_min_mm)',
        'Units': 'mm',
    },
    'max_axial_width_mm': {
        'Description': 'Largest right-left or anterior-posterior extent of the lesion within one '
        'axial (constant world z) slab',
        'Units': 'mm',
    },
    'max_equivalent_diameter_mm': {
        'Description': 'Largest diameter of the circle with the lesion area of one axial '
        '(constant world z) slab, 2 sqrt(area / pi)',
        'Units': 'mm',
    },
    'z_min_mm': {
        'Description': 'Inferior limit of the lesion voxels, world z (RAS+)',
        'Units': 'mm',
    },
    'z_max_mm': {
        'Description': 'Superior limit of the lesion voxels, world z (RAS+)',
        'Units': 'mm',
    },
    'centroid_x_mm': {'Description': 'Mean voxel centre, world x (RAS+)', 'Units': 'mm'},
    'centroid_y_mm': {'Description': 'Mean voxel centre, world y (RAS+)', 'Units': 'mm'},
    'centroid_z_mm': {'Description': 'Mean voxel centre, world z (RAS+)', 'Units': 'mm'},
    'mean_probability': {'Description': 'Mean lesion probability over the lesion voxels'},
    'slots_covering': {
        'Description': 'Comma-separated sequence slots whose field of view covers at least the '
        'given fraction of the lesion voxels'
    },
    'distance_along_cord_mm': {
        'Description': 'Arc length along the cord centreline from the top of the cord frame down '
        'to the level of the lesion centroid',
        'Units': 'mm',
    },
    'distance_to_view_end_mm': {
        'Description': 'World-z distance from the lesion to the nearer superior or inferior end '
        'of the joint field of view of the sequences the prediction used (0: it reaches an end); '
        'false lesions gather within about 8 mm of an end, where the images stop',
        'Units': 'mm',
    },
}

#: Columns added after the first release: a lesion table written before lacks them.
OPTIONAL_COLUMNS = ('distance_to_view_end_mm',)


@dataclass(frozen=True)
class LesionMeasures:
    """Measures of one lesion; lengths in mm, world frame NIfTI RAS+.

    ``mean_probability``, ``slots_covering``, ``distance_along_cord_mm`` and
    ``distance_to_view_end_mm`` are ``None`` when :func:`lesion_table` was not given the input
    they need. See :data:`COLUMNS` for definitions.
    """

    index: int
    volume_mm3: float
    length_mm: float
    max_axial_width_mm: float
    max_equivalent_diameter_mm: float
    z_min_mm: float
    z_max_mm: float
    centroid_x_mm: float
    centroid_y_mm: float
    centroid_z_mm: float
    mean_probability: float | None = None
    slots_covering: tuple[str, ...] | None = None
    distance_along_cord_mm: float | None = None
    distance_to_view_end_mm: float | None = None

    def to_row(self) -> dict[str, object]:
        """One TSV row: the keys of :data:`COLUMNS`, floats to 3 decimals, ``n/a`` if unknown.

        Examples
        --------
        >>> m = LesionMeasures(2, 1.0, 1.0, 1.0, 1.1283792, 0.0, 1.0, 0.5, 0.5, 0.5)
        >>> m.to_row()['max_equivalent_diameter_mm'], m.to_row()['mean_probability']
        (1.128, 'n/a')
        """
        row: dict[str, object] = {'index': self.index, 'name': f'lesion-{self.index}'}
        for key in COLUMNS:
            if key in row:
                continue
            value = getattr(self, key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                row[key] = 'n/a'
            elif isinstance(value, tuple):
                row[key] = ','.join(value) if value else 'n/a'
            else:
                row[key] = round(float(value), 3)
        return row


def structuring_element(connectivity: int) -> NDArray[np.bool_]:
    """3x3x3 neighbourhood for 6-, 18- or 26-connected components.

    Parameters
    ----------
    connectivity : {6, 18, 26}
        Neighbours that touch by a face (6), a face or an edge (18), or also a corner (26).

    Returns
    -------
    (3, 3, 3) bool array for :func:`scipy.ndimage.label`.

    Examples
    --------
    >>> int(structuring_element(6).sum()), int(structuring_element(26).sum())
    (7, 27)
    """
    rank = {6: 1, 18: 2, 26: 3}.get(connectivity)
    if rank is None:
        raise GeometryError(f'connectivity must be 6, 18 or 26, got {connectivity}')
    return ndimage.generate_binary_structure(3, rank)


def label_lesions(
    mask: NDArray[np.bool_], vox2world: NDArray[np.floating], *, connectivity: int = 26
) -> tuple[NDArray[np.int32], int]:
    """Number the connected components of a lesion mask 1..N, superior-most first.

    Lesion order (CONVENTIONS section 4): by the world z of each lesion's superior-most voxel
    centre, highest first; lesions level to 1e-6 mm keep the order of their first voxel in C
    (row-major) array order, so the numbering is deterministic.

    Parameters
    ----------
    mask : (X, Y, Z) array
        Lesion mask; non-zero voxels are lesion.
    vox2world : (4, 4) array
        Voxel indices ``ijk`` to world mm (NIfTI RAS+).
    connectivity : {6, 18, 26}
        Voxels touching by a face, edge or corner belong to one lesion (26 by default).

    Returns
    -------
    labels : (X, Y, Z) int32 array
        0 outside lesions, 1..N inside.
    n : int
        Number of lesions N.

    Examples
    --------
    >>> mask = np.zeros((1, 1, 5), bool)
    >>> mask[0, 0, [0, 1, 3]] = True
    >>> labels, n = label_lesions(mask, np.eye(4))
    >>> labels[0, 0].tolist(), n
    ([2, 2, 0, 1, 0], 2)
    """
    mask = _check_volume(mask, 'mask').astype(bool)
    raw, _ = ndimage.label(mask, structure=structuring_element(connectivity))
    return number_superior_first(raw, vox2world)


def number_superior_first(
    identity: NDArray[np.integer], vox2world: NDArray[np.floating]
) -> tuple[NDArray[np.int32], int]:
    """Renumber the lesions of an identity image 1..N in :func:`label_lesions`' order.

    ``identity`` holds any positive integer per lesion (0 outside); the voxels of one value are
    one lesion whether they touch or not: a lesion found in the cord frame stays one lesion
    where the native grid cuts it in pieces (:func:`bids_app.native.to_native`).

    Examples
    --------
    >>> identity = np.zeros((1, 1, 6), int)
    >>> identity[0, 0, [0, 4]], identity[0, 0, 2] = 7, 3
    >>> labels, n = number_superior_first(identity, np.eye(4))
    >>> labels[0, 0].tolist(), n
    ([1, 0, 2, 0, 1, 0], 2)
    """
    identity = _check_volume(identity, 'identity')
    vox2world = _check_affine(vox2world)
    labels = np.zeros(identity.shape, dtype=np.int32)
    ijk = np.nonzero(identity > 0)
    values, raw = np.unique(identity[ijk], return_inverse=True)  # raw: 0..n-1 per lesion voxel
    n = values.size
    if n == 0:
        return labels, 0
    z_mm = vox2world[2, :3] @ np.asarray(ijk, dtype=float) + vox2world[2, 3]
    top_mm = np.full(n, -np.inf)
    np.maximum.at(top_mm, raw, z_mm)
    first = np.full(n, identity.size)  # ties: the lesion whose first voxel comes first in C order
    np.minimum.at(first, raw, np.ravel_multi_index(ijk, identity.shape))
    order = np.lexsort((first, -np.round(top_mm, _Z_TIE_DECIMALS)))
    new_index = np.zeros(n, dtype=np.int32)
    new_index[order] = np.arange(1, n + 1, dtype=np.int32)
    labels[ijk] = new_index[raw]
    return labels, int(n)


def lesion_table(
    labels: NDArray[np.integer],
    vox2world: NDArray[np.floating],
    *,
    probability: NDArray[np.floating] | None = None,
    coverage_by_slot: Mapping[str, NDArray[np.bool_]] | None = None,
    min_slot_coverage: float = 0.5,
    centerline_xyz_mm: NDArray[np.floating] | None = None,
    field_of_view: NDArray[np.bool_] | None = None,
) -> list[LesionMeasures]:
    """Measure every lesion of a label image in world millimetres.

    Definitions (a voxel is the parallelepiped of the affine's columns, module docstring):

    - ``volume_mm3``: voxel count x ``|det vox2world[:3, :3]|``.
    - ``z_min_mm``, ``z_max_mm``: lowest and highest world z reached by the lesion's voxels,
      i.e. the extreme voxel centres -/+ half a voxel's world-z extent
      (``sum_i |vox2world[2, i]| / 2``); ``length_mm = z_max_mm - z_min_mm``.
    - Axial slabs: world-z slabs of thickness ``t = |vox2world[2, k]|``, ``k`` the voxel axis
      most parallel to world z, with edges on voxel faces: for grids whose axes are parallel to
      the world axes (axial or sagittal storage) they are exactly the voxel slices. Each voxel is
      cut into 4 parts along every axis with a world-z component and each part is assigned to
      the slab holding its centre, so oblique grids are handled too.
    - ``max_equivalent_diameter_mm``: largest ``2 sqrt(A / pi)`` over slabs, where ``A`` is the
      lesion volume in the slab divided by ``t`` (its mean axial area).
    - ``max_axial_width_mm``: largest extent along world x (R-L) or y (A-P) of the lesion's
      (sub)voxels within one slab, over slabs.
    - ``centroid_*_mm``: mean of the voxel centres.
    - ``mean_probability``: mean of ``probability`` over the lesion voxels.
    - ``slots_covering``: slots whose coverage mask holds at least ``min_slot_coverage`` of the
      lesion's voxels, in the mapping's order.
    - ``distance_along_cord_mm``: arc length of the centreline polyline from its superior end
      down to the world z of the lesion centroid (linear interpolation between points); ``nan``
      with a warning when the centroid lies outside the centreline's z range.
    - ``distance_to_view_end_mm``: ``min(z_min_mm - bottom, top - z_max_mm)``, at least 0, where
      ``bottom`` and ``top`` are the lowest and highest world z reached by the voxels of
      ``field_of_view`` (their centres -/+ half a voxel's world-z extent, as for lesions).

    Parameters
    ----------
    labels : (X, Y, Z) int array
        0 outside lesions, a positive index per lesion (as :func:`label_lesions` returns);
        whole-valued floats, as a dseg image may load, are accepted.
    vox2world : (4, 4) array
        Voxel indices ``ijk`` to world mm (NIfTI RAS+).
    probability : (X, Y, Z) float array, optional
        Lesion probability on the same grid.
    coverage_by_slot : mapping of slot name to (X, Y, Z) bool array, optional
        Each slot's field of view on the same grid.
    min_slot_coverage : float
        Fraction of a lesion's voxels a slot must cover to be listed in ``slots_covering``.
    centerline_xyz_mm : (M, 3) array, optional
        Cord centreline points in world mm (RAS+), M >= 2, one per reference slice of the cord
        frame (any order; sorted by z here).
    field_of_view : (X, Y, Z) bool array, optional
        Voxels seen by at least one of the sequences the prediction used.

    Returns
    -------
    list of LesionMeasures
        One per lesion index, ascending.

    Examples
    --------
    >>> labels = np.zeros((4, 4, 4), np.int32)
    >>> labels[1:3, 1:3, 1:4] = 1
    >>> (m,) = lesion_table(labels, np.diag([0.5, 0.5, 3.0, 1.0]))
    >>> round(m.volume_mm3, 9), m.length_mm, m.max_axial_width_mm, m.z_min_mm
    (9.0, 9.0, 1.0, 1.5)
    """
    labels = _check_volume(labels, 'labels')
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.array_equal(labels, np.round(labels)):
            raise GeometryError(
                'lesion labels must be whole numbers (a dseg image), got fractional values; '
                'label a binary mask with label_lesions first'
            )
        labels = labels.astype(np.int32)
    vox2world = _check_affine(vox2world)
    if probability is not None:
        _check_same_grid(probability, labels, 'probability')
    for slot, coverage in (coverage_by_slot or {}).items():
        _check_same_grid(coverage, labels, f'coverage of {slot}')
    centerline = None if centerline_xyz_mm is None else _check_centerline(centerline_xyz_mm)
    view_z = None
    if field_of_view is not None:
        _check_same_grid(field_of_view, labels, 'field of view')
        view_z = _z_range(np.asarray(field_of_view, bool), vox2world)  # None: nothing seen

    table = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        inside = labels[box] == index
        ijk = np.argwhere(inside) + np.array([s.start for s in box])
        geometry = _geometry(ijk.astype(float), vox2world)
        extra: dict[str, object] = {}
        if probability is not None:
            extra['mean_probability'] = float(np.mean(probability[box][inside]))
        if coverage_by_slot is not None:
            extra['slots_covering'] = tuple(
                slot
                for slot, coverage in coverage_by_slot.items()
                if np.mean(coverage[box][inside].astype(bool)) >= min_slot_coverage
            )
        if centerline is not None:
            extra['distance_along_cord_mm'] = _distance_along_cord(
                centerline, geometry['centroid_z_mm'], index
            )
        if view_z is not None:
            bottom, top = view_z
            extra['distance_to_view_end_mm'] = max(
                0.0, min(geometry['z_min_mm'] - bottom, top - geometry['z_max_mm'])
            )
        table.append(LesionMeasures(index=index, **geometry, **extra))
    return table


def _geometry(ijk: NDArray[np.float64], vox2world: NDArray[np.float64]) -> dict[str, float]:
    """Volume, extents, axial sizes and centroid of one lesion given its (N, 3) voxel indices."""
    linear = vox2world[:3, :3]
    centres_mm = ijk @ linear.T + vox2world[:3, 3]
    voxel_volume = abs(float(np.linalg.det(linear)))
    z_min, z_max = _z_extent(centres_mm[:, 2], vox2world)

    # Axial slabs: thickness = z step of the voxel axis most parallel to world z.
    axis_norms = np.linalg.norm(linear, axis=0)
    z_axis = int(np.argmax(np.abs(linear[2]) / axis_norms))
    thickness = abs(float(linear[2, z_axis]))
    cuts = np.where(np.abs(linear[2]) > 1e-9 * axis_norms, _SUBSAMPLES, 1)
    offsets = np.stack(
        np.meshgrid(*[(np.arange(c) + 0.5) / c - 0.5 for c in cuts], indexing='ij'), axis=-1
    ).reshape(-1, 3)
    parts_mm = (ijk[:, None, :] + offsets[None]).reshape(-1, 3) @ linear.T + vox2world[:3, 3]
    part_volume = voxel_volume / float(np.prod(cuts))
    part_extent_xy = np.abs(linear[:2] / cuts).sum(axis=1)
    slab = np.floor((parts_mm[:, 2] - (vox2world[2, 3] - 0.5 * thickness)) / thickness)
    slabs, slab_of_part, counts = np.unique(slab, return_inverse=True, return_counts=True)
    lowest = np.full((len(slabs), 2), np.inf)
    highest = np.full((len(slabs), 2), -np.inf)
    np.minimum.at(lowest, slab_of_part, parts_mm[:, :2])
    np.maximum.at(highest, slab_of_part, parts_mm[:, :2])
    max_area = counts.max() * part_volume / thickness

    centroid = centres_mm.mean(axis=0)
    return {
        'volume_mm3': len(ijk) * voxel_volume,
        'length_mm': z_max - z_min,
        'max_axial_width_mm': float((highest - lowest + part_extent_xy).max()),
        'max_equivalent_diameter_mm': 2.0 * math.sqrt(max_area / math.pi),
        'z_min_mm': z_min,
        'z_max_mm': z_max,
        'centroid_x_mm': float(centroid[0]),
        'centroid_y_mm': float(centroid[1]),
        'centroid_z_mm': float(centroid[2]),
    }


def _z_extent(
    z_centres_mm: NDArray[np.float64], vox2world: NDArray[np.float64]
) -> tuple[float, float]:
    """Lowest and highest world z reached by voxels with these centres (-/+ half a voxel's
    world-z extent)."""
    half_height = 0.5 * float(np.abs(vox2world[2, :3]).sum())
    return float(z_centres_mm.min()) - half_height, float(z_centres_mm.max()) + half_height


def _z_range(
    voxels: NDArray[np.bool_], vox2world: NDArray[np.float64]
) -> tuple[float, float] | None:
    """:func:`_z_extent` of the ``True`` voxels of a grid; None when there are none."""
    if not voxels.any():
        return None
    ijk = np.asarray(np.nonzero(voxels), dtype=float)
    return _z_extent(vox2world[2, :3] @ ijk + vox2world[2, 3], vox2world)


def _distance_along_cord(centerline: NDArray[np.float64], z_mm: float, index: int) -> float:
    """Arc length from the superior end of a z-sorted (M, 3) centreline down to world ``z_mm``."""
    steps = np.linalg.norm(np.diff(centerline, axis=0), axis=1)
    from_top = np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])
    z = centerline[:, 2]
    if not z[0] <= z_mm <= z[-1]:
        logger.warning(
            'lesion %d: centroid z = %.1f mm lies outside the centreline (z %.1f to %.1f mm); '
            'its distance along the cord is n/a',
            index,
            z_mm,
            z[0],
            z[-1],
        )
        return math.nan
    return float(np.interp(z_mm, z, from_top))


def _check_volume(array: NDArray, name: str) -> NDArray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise GeometryError(f'{name} must be a 3D (X, Y, Z) array, got shape {array.shape}')
    return array


def _check_same_grid(array: NDArray, labels: NDArray, name: str) -> None:
    if np.shape(array) != labels.shape:
        raise GeometryError(
            f'{name} has shape {np.shape(array)} but the lesion labels have {labels.shape}; '
            'resample both onto the same grid first'
        )


def _check_affine(vox2world: NDArray[np.floating]) -> NDArray[np.float64]:
    vox2world = np.asarray(vox2world, dtype=float)
    if vox2world.shape != (4, 4) or not np.all(np.isfinite(vox2world)):
        raise GeometryError(f'vox2world must be a finite 4x4 affine, got shape {vox2world.shape}')
    if abs(np.linalg.det(vox2world[:3, :3])) < 1e-12:
        raise GeometryError('vox2world is singular (a zero voxel size); fix the image header')
    return vox2world


def _check_centerline(centerline_xyz_mm: NDArray[np.floating]) -> NDArray[np.float64]:
    centerline = np.asarray(centerline_xyz_mm, dtype=float)
    if centerline.ndim != 2 or centerline.shape[1] != 3 or len(centerline) < 2:
        raise GeometryError(
            f'centreline must be an (M, 3) array of world mm with M >= 2, got {centerline.shape}'
        )
    return centerline[np.argsort(centerline[:, 2], kind='stable')]
