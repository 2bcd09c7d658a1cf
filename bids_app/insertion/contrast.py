"""How bright an inserted lesion is in each sequence, relative to that image's own cord.

MS lesions are hyperintense on T2w, STIR and T2*w and hypo- to isointense on T1w and on the
MP2RAGE uniform image. Some are faint on the sagittal T2w and clear on another sequence (the case
the paper's extra sequences help with). A lesion's contrast is a ratio to the median intensity of
the cord near it; the change is added on top of the image, so its noise and texture stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.slots import Slot

#: Ratio of a lesion faint on the sagittal T2w, and how often one is drawn.
FAINT_T2SAG_RANGE = (1.04, 1.15)
P_FAINT_T2SAG = 0.25
#: Cord voxels within this world distance along z of a lesion set its reference intensity.
LOCAL_CORD_MM = 10.0


@dataclass(frozen=True)
class LesionContrast:
    """Per-slot intensity ratios of one lesion, and whether it is faint on the sagittal T2w."""

    ratios: dict[Slot, float]
    faint_on_t2sag: bool


def draw_contrast(rng: np.random.Generator, slots: list[Slot]) -> LesionContrast:
    """Draw each slot's ratio in its ``SlotSpec.lesion_ratio``; with :data:`P_FAINT_T2SAG`, a faint
    one on T2Sag."""
    faint = bool(rng.random() < P_FAINT_T2SAG)
    ratios = {}
    for slot in slots:
        low, high = FAINT_T2SAG_RANGE if (faint and slot == Slot.T2Sag) else slot.spec.lesion_ratio
        ratios[slot] = float(rng.uniform(low, high))
    return LesionContrast(ratios, faint)


def cord_level(
    data: NDArray, cord: NDArray[np.bool_], slice_z_mm: NDArray, z_mm: tuple[float, float]
) -> float:
    """Median intensity of the cord in the slices within :data:`LOCAL_CORD_MM` of a z range.

    Parameters
    ----------
    data, cord : (I, J, K) arrays
        The image and its cord mask.
    slice_z_mm : (I, J, K) array
        World z of every voxel.
    z_mm : (float, float)
        The lesion's z range.

    Returns
    -------
    float
        Falls back to the whole cord's median when no cord voxel is that close.
    """
    near = cord & (slice_z_mm >= z_mm[0] - LOCAL_CORD_MM) & (slice_z_mm <= z_mm[1] + LOCAL_CORD_MM)
    values = data[near] if near.any() else data[cord]
    return float(np.median(values)) if values.size else float(np.median(data))


def texture(rng: np.random.Generator, shape: tuple[int, ...], amount: float) -> NDArray:
    """A smooth multiplicative field about 1 (lesions are not uniform inside)."""
    if amount <= 0:
        return np.ones(shape, np.float32)
    noise = ndimage.gaussian_filter(rng.normal(size=shape), sigma=1.5, mode='nearest')
    spread = float(noise.std()) or 1.0
    return (1.0 + amount * noise / spread).astype(np.float32)
