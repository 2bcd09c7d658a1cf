"""From the cord frame back to the native T2Sag grid: probabilities, masks, fields of view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bids_app.frame import CordFrame
from bids_app.frame_geometry import crop_to_native
from bids_app.slots import Slot


@dataclass(frozen=True)
class NativeLesions:
    """The prediction on the native T2Sag grid.

    Attributes
    ----------
    probability : (I, J, K) float32
        Lesion probability, 0 outside the cord frame.
    mask : (I, J, K) bool
        The post-processed cord-frame mask mapped back (linear, then >= 0.5).
    coverage : dict
        Slot -> (I, J, K) bool, where that slot's field of view reached, for the lesion table.
    """

    probability: NDArray[np.float32]
    mask: NDArray[np.bool_]
    coverage: dict[Slot, NDArray[np.bool_]]


def to_native(
    frame: CordFrame,
    probability: NDArray[np.floating],
    mask: NDArray[np.bool_],
    shape: tuple[int, int, int],
    vox2world: NDArray[np.float64],
) -> NativeLesions:
    """Map the cord-frame prediction onto the native T2Sag grid ``(shape, vox2world)``.

    The T2Sag centreline defines the frame's position in the T2Sag image, so every volume goes
    back along it (the other slots were sampled along their own centrelines: their crops are
    already aligned with T2Sag's in the frame).
    """
    xy, z_mm = frame.centerlines[Slot.T2Sag][:, :2], frame.z_mm

    def back(values: NDArray, order: int) -> NDArray[np.float32]:
        return crop_to_native(
            np.asarray(values, np.float32),
            xy,
            z_mm,
            shape,
            vox2world,
            order=order,
            frame=frame.config,
        )

    coverage = {slot: back(frame.coverage[slot], 1) >= 0.5 for slot in frame.slots}
    return NativeLesions(
        probability=np.clip(back(probability, 1), 0.0, 1.0),
        mask=back(mask, 1) >= 0.5,
        coverage=coverage,
    )
