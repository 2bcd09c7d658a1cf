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

#: Ratio of a lesion faint on the sagittal T2w, and how often one is drawn where another sequence
#: shows it.
FAINT_T2SAG_RANGE = (1.04, 1.15)
P_FAINT_T2SAG = 0.25
#: A lesion faint on T2Sag is clear on the other sequences that show it: at least this far from
#: isointense (T1w and MP2RAGE ranges reach 1.0, where a lesion would be invisible).
CLEAR_MARGIN = 0.15
#: Cord voxels within this world distance along z of a lesion set its reference intensity.
LOCAL_CORD_MM = 10.0


@dataclass(frozen=True)
class LesionContrast:
    """Per-slot intensity ratios of one lesion, and whether it is faint on the sagittal T2w."""

    ratios: dict[Slot, float]
    faint_on_t2sag: bool


def draw_contrast(
    rng: np.random.Generator, slots: list[Slot], shown_by: frozenset[Slot] = frozenset()
) -> LesionContrast:
    """Draw each slot's ratio in its ``SlotSpec.lesion_ratio``; with :data:`P_FAINT_T2SAG`, a faint
    one on T2Sag, but only where another sequence shows the lesion clearly.

    A label no image shows is one no rater could draw: a model trained on it learns to paint
    healthy cord, and an evaluation counting it measures noise. So a lesion is faint on T2Sag
    only when ``shown_by`` (the slots whose images hold the lesion's core; T2Sag itself does
    not count) has another slot,
    and those slots then draw ratios at least :data:`CLEAR_MARGIN` from isointense. The random
    stream is the same either way (one draw for faintness, one per slot).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> draws = [draw_contrast(rng, [Slot.T2Sag]) for _ in range(200)]
    >>> any(d.faint_on_t2sag for d in draws), min(d.ratios[Slot.T2Sag] for d in draws) >= 1.2
    (False, True)
    >>> both = [Slot.T2Sag, Slot.T1w]
    >>> draws = [draw_contrast(rng, both, frozenset({Slot.T1w})) for _ in range(200)]
    >>> faint = [d for d in draws if d.faint_on_t2sag]
    >>> len(faint) > 20, max(d.ratios[Slot.T1w] for d in faint) <= 0.85
    (True, True)
    """
    faint = bool(rng.random() < P_FAINT_T2SAG) and bool(shown_by - {Slot.T2Sag})
    ratios = {}
    for slot in slots:
        low, high = slot.spec.lesion_ratio
        if faint and slot == Slot.T2Sag:
            low, high = FAINT_T2SAG_RANGE
        elif faint and slot in shown_by:
            low, high = _clear_part(low, high)
        ratios[slot] = float(rng.uniform(low, high))
    return LesionContrast(ratios, faint)


def _clear_part(low: float, high: float) -> tuple[float, float]:
    """The part of a ratio range at least :data:`CLEAR_MARGIN` from 1 (hyper- or hypointense)."""
    if low >= 1.0:
        return max(low, 1.0 + CLEAR_MARGIN), high
    return low, min(high, 1.0 - CLEAR_MARGIN)


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
