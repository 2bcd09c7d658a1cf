"""Vertebral levels along the sagittal T2w's cord: intervertebral discs found and named.

Built in, from the image alone (numpy/scipy):

1. **Profile.** At every cord-frame slice, the mean intensity of a band in front of the cord
   (:data:`BAND_MM` anterior of its centreline, where the vertebral bodies and discs are), along
   the cord at 0.5 mm steps.
2. **Discs.** Intervertebral discs are brighter than the vertebral bodies beside them on T2w
   (hydrated nucleus; the endplates are dark): narrow peaks of the profile (a white top-hat
   keeps what is brighter than its surroundings over less than :data:`DISC_MAX_MM`), at least
   :data:`MIN_DISC_GAP_MM` apart.
3. **Names.** The first disc below the skull is C2/C3: C1 and C2 have none between them. The
   topmost disc is named C2/C3 only when the image shows at least :data:`SKULL_GAP_MM` of cord
   above it without another disc (the atlas, the dens and the foramen magnum); the next discs
   follow in order, a gap much longer than its neighbours counting as a missed disc. An image
   whose top does not reach that high gets no names: its levels are n/a, never guessed.

A lesion's levels are those of the vertebrae its z extent overlaps, vertebra ``V`` spanning from
the disc above it to the disc below it (C2 from its disc up to the top of the image).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, signal

from bids_app.geometry import sample_world

#: Vertebrae from the top; disc ``k`` lies between ``VERTEBRAE[k]`` and ``VERTEBRAE[k + 1]``.
VERTEBRAE = (
    *(f'C{k}' for k in range(1, 8)),
    *(f'T{k}' for k in range(1, 13)),
    *(f'L{k}' for k in range(1, 6)),
    'S1',
)
#: Anterior offsets (mm) from the cord centreline of the band the profile averages.
BAND_MM = (9.0, 21.0)
#: Left-right half-width (mm) of the band.
BAND_HALF_WIDTH_MM = 2.0
#: Smoothing (sigma, mm) of the profile; discs are at most this tall along the cord (mm).
PROFILE_SIGMA_MM = 1.0
DISC_MAX_MM = 9.0
#: Discs are at least this far apart along z (mm); a cervical level is about 16 mm.
MIN_DISC_GAP_MM = 10.0
#: Peak prominence, in robust standard deviations of the detrended profile, and as a share of
#: the typical disc's (the median of the more prominent half): bony and brain structures above
#: the atlas make weaker peaks than discs.
MIN_PROMINENCE = 1.0
RELATIVE_PROMINENCE = 0.5
#: Cord without a disc (mm) above the topmost disc that makes it C2/C3.
SKULL_GAP_MM = 40.0
#: Below the last disc found, heights further than this (mm) get no level.
LAST_LEVEL_MM = 40.0
#: A gap longer than this many times the median of its neighbours is a missed disc.
MISSED_DISC_FACTOR = 1.7


@dataclass(frozen=True)
class Discs:
    """Intervertebral discs along the cord, superior first.

    Attributes
    ----------
    z_mm : (D,) float64
        World z (RAS+ mm) of each disc where it crosses the cord, decreasing.
    names : tuple of str
        ``'C2/C3'``, ...; empty when the discs could not be named.
    provider : str
        ``'builtin'``, ``'sct'`` or ``'labels'``.
    top_mm : float
        World z of the top of the image along the cord (C2 reaches up to it).
    """

    z_mm: NDArray[np.float64]
    names: tuple[str, ...]
    provider: str
    top_mm: float

    @property
    def named(self) -> bool:
        return len(self.names) == len(self.z_mm) > 0


def disc_name(index: int) -> str:
    """Name of disc ``index`` (0: C2/C3).

    Examples
    --------
    >>> disc_name(0), disc_name(5), disc_name(17)
    ('C2/C3', 'C7/T1', 'T12/L1')
    """
    return f'{VERTEBRAE[index + 1]}/{VERTEBRAE[index + 2]}'


def anterior_profile(
    image: NDArray, affine: NDArray, centerline_xyz_mm: NDArray, covered: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Mean intensity of the band in front of the cord at each cord-frame slice.

    The band is sampled along the centreline's normal in the sagittal plane, as discs are
    perpendicular to the spine: a peak of the profile is where the disc's plane meets the cord.

    Parameters
    ----------
    image : (I, J, K) array
        The sagittal T2w.
    affine : (4, 4) array
        Its voxel-to-world affine.
    centerline_xyz_mm : (Z, 3) array
        Its smoothed centreline on the cord frame's slices (world mm, increasing z).
    covered : (Z,) bool
        Slices the image covers.

    Returns
    -------
    (Z,) float64
        NaN where the band leaves the image.
    """
    slope = np.gradient(centerline_xyz_mm[:, 1], centerline_xyz_mm[:, 2])
    normal = np.stack([np.ones_like(slope), -slope], 1) / np.hypot(1.0, slope)[:, None]
    forward = np.arange(BAND_MM[0], BAND_MM[1] + 1e-6, 1.0)
    sideways = np.arange(-BAND_HALF_WIDTH_MM, BAND_HALF_WIDTH_MM + 1e-6, 1.0)
    du, dv = (a.ravel() for a in np.meshgrid(sideways, forward, indexing='ij'))
    points = np.repeat(centerline_xyz_mm[:, None, :], du.size, axis=1).copy()
    points[:, :, 0] += du
    points[:, :, 1] += dv[None] * normal[:, None, 0]
    points[:, :, 2] += dv[None] * normal[:, None, 1]
    values, inside = sample_world(np.asarray(image, np.float32), affine, points)
    share = inside.mean(axis=1)
    profile = np.where(inside, values, 0.0).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return np.where((share > 0.8) & covered, profile, np.nan)


def find_discs(profile: NDArray, step_mm: float) -> NDArray[np.intp]:
    """Indices of the disc peaks of a profile (NaN where there is no image).

    Examples
    --------
    >>> z = np.arange(0, 100, 0.5)
    >>> bumps = sum(np.exp(-((z - c) / 1.5) ** 2) for c in (20, 36, 52, 68))
    >>> (find_discs(bumps + 0.01 * np.sin(z), 0.5) * 0.5).tolist()
    [20.0, 36.0, 52.0, 68.0]
    """
    valid = np.isfinite(profile)
    if valid.sum() < 3:
        return np.zeros(0, np.intp)
    filled = np.where(valid, profile, np.nanmedian(profile))
    smooth = ndimage.gaussian_filter1d(filled, PROFILE_SIGMA_MM / step_mm)
    # White top-hat: what is brighter than its surroundings over less than DISC_MAX_MM (a disc),
    # not the edge of a broad bright region (the cisterns above the atlas).
    detrended = smooth - ndimage.grey_opening(smooth, size=max(3, round(DISC_MAX_MM / step_mm)))
    spread = 1.4826 * np.median(np.abs(detrended[valid] - np.median(detrended[valid])))
    peaks, properties = signal.find_peaks(
        np.where(valid, detrended, -np.inf),
        distance=max(1, round(MIN_DISC_GAP_MM / step_mm)),
        prominence=MIN_PROMINENCE * max(spread, 1e-9),
    )
    prominence = properties['prominences']
    if len(peaks) == 0:
        return peaks
    strong = np.sort(prominence)[len(prominence) // 2 :]
    kept = (prominence >= RELATIVE_PROMINENCE * float(np.median(strong))) & valid[peaks]
    return peaks[kept]


def name_discs(z_discs: NDArray, top_mm: float) -> tuple[str, ...]:
    """Names of discs at decreasing world z, or ``()`` when the top one cannot be anchored.

    A gap more than :data:`MISSED_DISC_FACTOR` times the median of the gaps around it counts
    as one or more missed discs (the names skip them).

    Examples
    --------
    >>> name_discs(np.array([-30.0, -46.0, -62.0, -94.0]), top_mm=10.0)
    ('C2/C3', 'C3/C4', 'C4/C5', 'C6/C7')
    >>> name_discs(np.array([-30.0, -46.0]), top_mm=-20.0)  # the image starts below C2
    ()
    """
    if len(z_discs) == 0 or top_mm - z_discs[0] < SKULL_GAP_MM:
        return ()
    gaps = -np.diff(z_discs)
    index, names = 0, [disc_name(0)]
    for k, gap in enumerate(gaps):
        around = np.concatenate([gaps[max(0, k - 2) : k], gaps[k + 1 : k + 3]])
        usual = float(np.median(around)) if len(around) else gap
        index += max(1, round(gap / usual)) if gap > MISSED_DISC_FACTOR * usual else 1
        if index + 2 >= len(VERTEBRAE):
            return tuple(names)
        names.append(disc_name(index))
    return tuple(names)


def detect_discs(
    image: NDArray,
    affine: NDArray,
    centerline_xyz_mm: NDArray,
    covered: NDArray[np.bool_],
) -> Discs:
    """The built-in disc finder on the sagittal T2w (see the module docstring).

    Parameters
    ----------
    image, affine
        The sagittal T2w and its affine.
    centerline_xyz_mm : (Z, 3)
        Its centreline on the cord frame's slices (world mm, increasing z, 0.5 mm apart).
    covered : (Z,) bool
        Slices the image covers.
    """
    profile = anterior_profile(image, affine, centerline_xyz_mm, covered)
    step = float(np.median(np.diff(centerline_xyz_mm[:, 2])))
    peaks = find_discs(profile, step)[::-1]
    z = centerline_xyz_mm[peaks, 2]
    seen = np.flatnonzero(np.isfinite(profile))
    top = float(centerline_xyz_mm[seen[-1], 2]) if len(seen) else float('nan')
    return Discs(z, name_discs(z, top), 'builtin', top)


def vertebra_at(z_mm: float, discs: Discs) -> str | None:
    """The vertebra at world height ``z_mm``, or None (unnamed discs, out of their range).

    Examples
    --------
    >>> discs = Discs(np.array([-30.0, -46.0]), ('C2/C3', 'C3/C4'), 'builtin', 10.0)
    >>> vertebra_at(-20.0, discs), vertebra_at(-40.0, discs), vertebra_at(-60.0, discs)
    ('C2', 'C3', 'C4')
    """
    if not discs.named or z_mm > discs.top_mm:
        return None
    below = int(np.sum(discs.z_mm >= z_mm))  # discs at or above this height
    if below == 0:
        return discs.names[0].split('/')[0]
    if below == len(discs.z_mm) and discs.z_mm[-1] - z_mm > LAST_LEVEL_MM:
        return None  # further below the last disc found than any vertebra is tall
    return discs.names[below - 1].split('/')[1]


def levels_of(z_low: float, z_high: float, discs: Discs) -> str | None:
    """``'C3'`` or ``'C3-C5'``: the vertebrae a z extent spans; None when unknown.

    Examples
    --------
    >>> discs = Discs(np.array([-30.0, -46.0, -62.0]), ('C2/C3', 'C3/C4', 'C4/C5'), 'x', 10.0)
    >>> levels_of(-44.0, -40.0, discs), levels_of(-50.0, -35.0, discs)
    ('C3', 'C3-C4')
    """
    top, bottom = vertebra_at(z_high, discs), vertebra_at(z_low, discs)
    if top is None or bottom is None:
        return None
    return top if top == bottom else f'{top}-{bottom}'


#: SCT's disc labels: value ``v`` marks the disc above vertebra ``v`` (3: C2/C3, 8: C7/T1).
SCT_FIRST_DISC_VALUE = 3


def discs_from_labels(labels: NDArray, affine: NDArray, top_mm: float) -> Discs:
    """Discs from a label image in SCT's convention (one point, or a blob, per disc).

    Parameters
    ----------
    labels : (I, J, K) integer array
        ``v`` at the disc above vertebra ``v`` (3: C2/C3, ... 8: C7/T1, 9: T1/T2), 0 elsewhere;
        values below 3 (the pons, C1/C2) are ignored.
    affine : (4, 4)
        Its voxel-to-world affine.
    top_mm : float
        World z of the top of the image along the cord.

    Examples
    --------
    >>> lab = np.zeros((3, 3, 40), int); lab[1, 1, 30] = 3; lab[1, 1, 14] = 4
    >>> discs = discs_from_labels(lab, np.eye(4), 39.0)
    >>> discs.z_mm.tolist(), discs.names
    ([30.0, 14.0], ('C2/C3', 'C3/C4'))
    """
    values = np.asarray(labels).astype(np.int64)
    found = []
    for value in np.unique(values[values >= SCT_FIRST_DISC_VALUE]):
        index = int(value) - SCT_FIRST_DISC_VALUE
        if index + 2 >= len(VERTEBRAE):
            continue
        ijk = np.argwhere(values == value).mean(axis=0)
        z = float(affine[2, :3] @ ijk + affine[2, 3])
        found.append((z, disc_name(index)))
    found.sort(reverse=True)
    z_mm = np.array([z for z, _ in found], dtype=np.float64)
    return Discs(z_mm, tuple(name for _, name in found), 'labels', top_mm)


#: Sidecar of a discs TSV (its columns, as every TSV of ours has).
DISC_COLUMNS = {
    'z_mm': {
        'Description': 'World z (scanner RAS+) where the disc crosses the cord',
        'Units': 'mm',
    },
    'name': {'Description': 'The disc, e.g. C2/C3; n/a when the discs could not be named'},
}


def write_discs(discs: Discs, path: Path) -> Path:
    """The discs as a TSV (``z_mm``, ``name``) with a JSON sidecar (provider, image top).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / 'discs.tsv'
    >>> discs = Discs(np.array([-30.0, -46.0]), ('C2/C3', 'C3/C4'), 'builtin', 10.0)
    >>> back = read_discs(write_discs(discs, path))
    >>> back.z_mm.tolist(), back.names, back.provider, back.top_mm
    ([-30.0, -46.0], ('C2/C3', 'C3/C4'), 'builtin', 10.0)
    """
    names = discs.names if discs.named else ('n/a',) * len(discs.z_mm)
    rows = [f'{z:.2f}\t{name}' for z, name in zip(discs.z_mm, names, strict=True)]
    path.write_text('\n'.join(['z_mm\tname', *rows]) + '\n')
    sidecar = {**DISC_COLUMNS, 'Provider': discs.provider, 'ImageTopZ': round(discs.top_mm, 2)}
    path.with_suffix('.json').write_text(json.dumps(sidecar, indent=2) + '\n')
    return path


def read_discs(path: Path) -> Discs:
    """What :func:`write_discs` wrote."""
    sidecar = json.loads(path.with_suffix('.json').read_text())
    rows = [line.split('\t') for line in path.read_text().splitlines()[1:] if line.strip()]
    z_mm = np.array([float(z) for z, _ in rows], dtype=np.float64)
    names = tuple(name for _, name in rows)
    named = () if 'n/a' in names else names
    return Discs(z_mm, named, sidecar['Provider'], float(sidecar['ImageTopZ']))


#: The per-lesion table's extra column, and the per-level table's columns.
LEVEL_COLUMN = {
    'vertebral_levels': {
        'Description': 'Vertebrae the lesion spans along z (C3, or C3-C4); n/a when the discs '
        'could not be found and named',
    }
}
LEVEL_TABLE_COLUMNS = {
    'level': {'Description': 'Vertebra: from the disc above it to the disc below it'},
    'n_lesions': {'Description': 'Lesions with voxels at this level (one may span several)'},
    'volume_mm3': {'Description': 'Lesion volume at this level', 'Units': 'mm^3'},
}


def lesions_by_level(
    labels: NDArray[np.integer], affine: NDArray, discs: Discs
) -> list[dict[str, object]]:
    """Lesions and their volume per vertebra, from the numbered lesions on the T2Sag grid.

    Each voxel counts at the vertebra of its centre's world z; voxels at no known level are
    left out. Rows in order down the spine.

    Examples
    --------
    >>> lab = np.zeros((1, 1, 60), int); lab[0, 0, 35:45] = 1; lab[0, 0, 10:12] = 2
    >>> discs = Discs(np.array([40.0, 20.0]), ('C2/C3', 'C3/C4'), 'x', 59.0)
    >>> [tuple(row.values()) for row in lesions_by_level(lab, np.eye(4), discs)]
    [('C2', 1, 4.0), ('C3', 1, 6.0), ('C4', 1, 2.0)]
    """
    if not discs.named:
        return []
    ijk = np.argwhere(labels > 0)
    ids = labels[tuple(ijk.T)]
    z = ijk @ np.asarray(affine, float)[2, :3] + affine[2, 3]
    voxel_mm3 = abs(float(np.linalg.det(np.asarray(affine, float)[:3, :3])))
    levels = [vertebra_at(float(zz), discs) for zz in z]
    rows = []
    for level in VERTEBRAE:
        here = np.array([name == level for name in levels], bool)
        if here.any():
            rows.append(
                {
                    'level': level,
                    'n_lesions': len(np.unique(ids[here])),
                    'volume_mm3': round(float(here.sum()) * voxel_mm3, 3),
                }
            )
    return rows
