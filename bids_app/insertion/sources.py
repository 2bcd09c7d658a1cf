"""Which images of a BIDS dataset can take inserted lesions: those with a cord mask.

Discovery is the app's own (the same slots, filters and header rules as ``participant``), so a
dataset prepared here is read back exactly as it was written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bids_app.dataset_checks import index_dataset
from bids_app.discovery import assign_slots, select_units
from bids_app.labels import find_cord_mask
from bids_app.slots import SLOTS, Slot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceImage:
    """One image to copy, its cord mask, and whether it stands in for the sagittal T2w."""

    slot: Slot
    path: Path
    mask: Path
    pseudo: bool = False


@dataclass
class SourceUnit:
    """One subject/session whose images get lesions; ``images[0]`` is the first reference."""

    subject: str
    session: str | None
    images: list[SourceImage] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f'sub-{self.subject}' + (f'_ses-{self.session}' if self.session else '')

    @property
    def references(self) -> list[int]:
        """Indices of the images that carry the lesion label (T2Sag, one per slab)."""
        return [k for k, image in enumerate(self.images) if image.slot == Slot.T2Sag]


def _with_masks(
    slots: Mapping[Slot, list[Path]], bids_dir: Path, masks_dir: Path, unit: str
) -> list[SourceImage]:
    images = []
    for slot in SLOTS:
        for path in slots.get(slot, []):
            mask = find_cord_mask(path, bids_dir, masks_dir)
            if mask is None:
                logger.warning('%s: %s has no cord mask in %s; left out', unit, path, masks_dir)
            else:
                images.append(SourceImage(slot, path, mask))
    return images


def plan_units(
    bids_dir: Path,
    masks_dir: Path,
    *,
    participant_labels: Sequence[str] = (),
    bids_filters: Mapping[str, Mapping[str, Any]] | None = None,
    pseudo_sagittal: bool = False,
) -> list[SourceUnit]:
    """Every subject/session with a sagittal T2w (or, with ``pseudo_sagittal``, an axial T2w or
    T2*w standing in for it) whose images have cord masks.

    A stand-in is the axial image itself, written as ``acq-pseudosag_T2w`` *instead of* its
    axial slot: real anatomy for the sagittal encoder where a dataset has only axial scans. Kept
    in both slots, one image would be two sequences that agree voxel for voxel, which no pair of
    real acquisitions does, and a model would learn to trust the other sequences' features as
    if they were the sagittal T2w's. The unit's other axial images stay.
    """
    bids_dir, masks_dir = bids_dir.absolute(), masks_dir.absolute()
    layout = index_dataset(bids_dir)
    planned = []
    for subject, session in select_units(layout, participant_labels or None, None):
        unit = assign_slots(layout, subject, session, bids_filters=bids_filters)
        if unit.error:
            logger.warning('%s left out: %s', unit.name, unit.error)
            continue
        images = _with_masks(unit.slots, bids_dir, masks_dir, unit.name)
        source = SourceUnit(unit.subject, unit.session, images)
        if not source.references and pseudo_sagittal:
            # An axial image stands in for the missing sagittal T2w.
            stand_in = next((i for i in images if i.slot.spec.acquisition == 'axial'), None)
            if stand_in is not None:
                source.images.remove(stand_in)
                source.images.insert(
                    0, SourceImage(Slot.T2Sag, stand_in.path, stand_in.mask, True)
                )
        if not source.references:
            logger.warning(
                '%s left out: no sagittal T2w with a cord mask%s',
                unit.name,
                '' if pseudo_sagittal else ' (--pseudo-sagittal uses an axial image instead)',
            )
            continue
        first = source.references[0]
        source.images.insert(0, source.images.pop(first))
        planned.append(source)
    return planned
