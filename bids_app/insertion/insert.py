"""Insert random lesions into every image of one subject/session, each around its own cord.

Pure: arrays and affines in, arrays out. The reference images (the sagittal T2w, one per slab)
carry the lesion labels; their cord masks bound every lesion, in every sequence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from nibabel.affines import apply_affine, voxel_sizes
from numpy.typing import NDArray

from bids_app.insertion.contrast import LesionContrast, cord_level, draw_contrast, texture
from bids_app.insertion.render import CordGate, CordTrack, cord_track, lesion_fractions
from bids_app.insertion.shapes import InsertedLesion, draw_lesion
from bids_app.slots import Slot

logger = logging.getLogger(__name__)

#: A lesion must keep this volume in the reference label (mm^3), else it is drawn again.
MIN_VOLUME_MM3 = 8.0
#: Lesions keep this gap between each other (mm), so each stays one connected component.
GAP_MM = 1.5
#: Lesion centres stay this far from either end of the reference cord mask (mm).
END_MARGIN_MM = 4.0
#: Candidate centres are pulled towards the centreline by this factor (lesions may still touch
#: the cord's surface, where the reference mask cuts them).
PULL_IN = 0.8
#: Largest internal texture amplitude of a lesion.
MAX_TEXTURE = 0.3


@dataclass
class NativeImage:
    """One image of a unit with its cord mask.

    Attributes
    ----------
    slot : Slot
    data : (I, J, K) float32
    affine : (4, 4) float64
        Voxel-to-world, RAS+ mm.
    cord : (I, J, K) bool
        Cord mask on the same grid.
    """

    slot: Slot
    data: NDArray[np.float32]
    affine: NDArray[np.float64]
    cord: NDArray[np.bool_]
    track: CordTrack = field(init=False)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, np.float32)
        self.cord = np.asarray(self.cord) > 0
        self.track = cord_track(self.cord, self.affine)

    def voxel_z_mm(self) -> NDArray[np.float64]:
        """World z of every voxel, shape ``(I, J, K)``."""
        ijk = np.indices(self.data.shape, dtype=np.float64)
        return np.tensordot(self.affine[2, :3], ijk, axes=1) + self.affine[2, 3]


@dataclass(frozen=True)
class PlacedLesion:
    """A lesion as inserted: shape, contrasts and its volume in the reference label."""

    lesion: InsertedLesion
    contrast: LesionContrast
    volume_mm3: float


class ReferenceGate:
    """Inside the cord of any of the given images (the reference slabs, or one image's own).

    Each sequence's lesion is the lesion inside the reference cord *and* inside its own cord
    mask, so that a coarse reference mask (thick sagittal slices) cannot push it past the edge
    of a finer image's cord.
    """

    def __init__(self, references: list[NativeImage]) -> None:
        self.gates = [CordGate(r.cord.astype(np.float32), r.affine, r.track) for r in references]

    def __call__(self, u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.bool_]:
        inside = self.gates[0](u, v, z)
        for gate in self.gates[1:]:
            inside |= gate(u, v, z)
        return inside


def _both(first, second):
    """A gate that is the intersection of two."""

    def gate(u: NDArray, v: NDArray, z: NDArray) -> NDArray[np.bool_]:
        return first(u, v, z) & second(u, v, z)

    return gate


def _candidate_centres(reference: NativeImage) -> NDArray[np.float64]:
    """Cord-coordinate points of the reference cord mask away from its ends, shape (N, 3)."""
    ijk = np.argwhere(reference.cord).astype(np.float64)
    xyz = apply_affine(reference.affine, ijk)
    low, high = xyz[:, 2].min() + END_MARGIN_MM, xyz[:, 2].max() - END_MARGIN_MM
    xyz = xyz[(xyz[:, 2] >= low) & (xyz[:, 2] <= high)] if high > low else xyz
    u, v, z = reference.track.to_cord(xyz)
    return np.stack([u * PULL_IN, v * PULL_IN, z], 1)


def _reference_label(
    references: list[NativeImage], lesion: InsertedLesion, gate: ReferenceGate
) -> list[tuple[tuple[slice, ...], NDArray[np.bool_]] | None]:
    """The lesion's label on each reference grid (voxels at least half inside)."""
    out = []
    for ref in references:
        found = lesion_fractions(ref.data.shape, ref.affine, lesion, ref.track, gate)
        out.append(None if found is None else (found[0], found[2] >= 0.5))
    return out


def _label_volume(references: list[NativeImage], parts: list) -> float:
    """Label volume (mm^3) of the largest slab's share (slabs overlap; do not add them)."""
    volumes = [
        float(part[1].sum() * np.prod(voxel_sizes(ref.affine)))
        for ref, part in zip(references, parts, strict=True)
        if part is not None
    ]
    return max(volumes, default=0.0)


def _too_close(parts: list, labels: list[NDArray[np.bool_]], references: list) -> bool:
    """Whether a new lesion comes within :data:`GAP_MM` of the lesions already placed."""
    from scipy import ndimage

    for ref, part, label in zip(references, parts, labels, strict=True):
        if part is None or not label.any():
            continue
        box, new = part
        steps = np.maximum(np.round(GAP_MM / voxel_sizes(ref.affine)).astype(int), 1)
        grown = ndimage.binary_dilation(new, np.ones(2 * steps + 1, bool))
        if (grown & label[box]).any():
            return True
    return False


#: An image shows a lesion when some voxel of it is at least this much lesion (its core, not a
#: partial-volume rim: a thick slice grazing the lesion shows it faintly at best).
SHOWN_FRACTION = 0.5


def _showing(images: list[NativeImage], founds: list) -> frozenset[Slot]:
    """The slots whose images hold a lesion's core (see :data:`SHOWN_FRACTION`)."""
    return frozenset(
        image.slot
        for image, found in zip(images, founds, strict=True)
        if found is not None and found[1].size and float(found[1].max()) >= SHOWN_FRACTION
    )


def insert_lesions(
    images: list[NativeImage],
    references: list[NativeImage],
    n_lesions: int,
    rng: np.random.Generator,
    *,
    max_tries: int = 40,
) -> tuple[list[NDArray[np.float32]], list[NDArray[np.bool_]], list[PlacedLesion]]:
    """Insert ``n_lesions`` random lesions into every image of a unit.

    Parameters
    ----------
    images : list of NativeImage
        Every image of the unit, the references included (compared by identity).
    references : list of NativeImage
        The images that carry the label (the sagittal T2w and its slabs).
    n_lesions : int
        Lesions wanted; fewer when the cord has no room left for them (logged).
    rng : numpy.random.Generator

    Returns
    -------
    new_data : list of (I, J, K) float32
        Each image with the lesions added, in ``images`` order.
    labels : list of (I, J, K) bool
        Each reference's label, in ``references`` order.
    placed : list of PlacedLesion
    """
    gate = ReferenceGate(references)
    candidates = _candidate_centres(references[0])
    slots = sorted({image.slot for image in images}, key=list(Slot).index)
    labels = [np.zeros(ref.data.shape, bool) for ref in references]
    placed: list[PlacedLesion] = []
    new_data = [image.data.copy() for image in images]
    z_of = [image.voxel_z_mm() for image in images]
    own_gates = [ReferenceGate([image]) for image in images]
    for _ in range(n_lesions):
        for _attempt in range(max_tries):
            centre = candidates[int(rng.integers(len(candidates)))]
            lesion = draw_lesion(rng, tuple(centre))
            parts = _reference_label(references, lesion, gate)
            volume = _label_volume(references, parts)
            if volume >= MIN_VOLUME_MM3 and not _too_close(parts, labels, references):
                break
        else:
            logger.info('no room for more lesions after %d', len(placed))
            break
        for label, part in zip(labels, parts, strict=True):
            if part is not None:
                label[part[0]] |= part[1]
        founds = [
            lesion_fractions(image.data.shape, image.affine, lesion, image.track, _both(gate, own))
            for image, own in zip(images, own_gates, strict=True)
        ]
        contrast = draw_contrast(rng, slots, _showing(images, founds))
        amount = float(rng.uniform(0.0, MAX_TEXTURE))
        for k, (image, found) in enumerate(zip(images, founds, strict=True)):
            if found is None or not found[1].any():
                continue
            box, soft, _ = found
            level = cord_level(image.data, image.cord, z_of[k], lesion.z_range_mm)
            delta = (contrast.ratios[image.slot] - 1.0) * level
            new_data[k][box] += soft * delta * texture(rng, soft.shape, amount)
        placed.append(PlacedLesion(lesion, contrast, volume))
    return new_data, labels, placed
