"""Run-wide settings as frozen dataclasses, and the sequence slots of the method.

The paper's numbers appear here once, as defaults; everything else receives them as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Slot(StrEnum):
    """The six sequence slots, in the order of the paper (Walsh et al., MICCAI 2024)."""

    T2Sag = 'T2Sag'  # sagittal T2w, every subject has one
    STIR = 'STIR'  # sagittal STIR
    T2starAx = 'T2starAx'  # axial T2*w
    T2Ax = 'T2Ax'  # axial T2w
    T1w = 'T1w'  # 3D T1w without contrast agent
    MP2RAGE = 'MP2RAGE'  # MP2RAGE uniform image (UNIT1)


SLOTS: tuple[Slot, ...] = tuple(Slot)


@dataclass(frozen=True)
class CordFrameConfig:
    """The cord frame: stacked axial crops centred on each sequence's centreline.

    Parameters
    ----------
    voxel_mm : float
        Isotropic sampling step of the frame, in mm.
    crop_size : int
        In-plane size of each axial crop, in voxels (crop is ``crop_size`` x ``crop_size``).
    z_margin_mm : float
        Added above and below the union of the cord extents of all sequences, in mm.
    """

    voxel_mm: float = 0.5
    crop_size: int = 48
    z_margin_mm: float = 10.0
