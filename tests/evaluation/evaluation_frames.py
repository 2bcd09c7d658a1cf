"""Hand-made cord frames with two lesions (one faint on the T2Sag) and a fake predictor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bids_app.frame import CordFrame
from bids_app.slots import Slot

SHAPE = (48, 48, 40)
#: Conspicuous lesion, faint lesion and a false-positive blob (voxel boxes, all inside the cord).
CONSPICUOUS_BOX = (slice(22, 26), slice(22, 26), slice(5, 9))
FAINT_BOX = (slice(22, 26), slice(22, 26), slice(20, 24))
FALSE_POSITIVE_BOX = (slice(22, 24), slice(22, 24), slice(32, 34))


def cord_disc() -> np.ndarray:
    """A cord of radius 6 voxels (3 mm) around the crop's centre column, shape ``SHAPE``."""
    i, j = np.meshgrid(np.arange(48) - 23.5, np.arange(48) - 23.5, indexing='ij')
    return np.broadcast_to((i**2 + j**2 <= 36)[:, :, None], SHAPE).copy()


def make_frame(slots: tuple[Slot, ...]) -> CordFrame:
    """CSF 2.0, cord 1.0, conspicuous lesion 3.0, faint lesion 1.05 on the T2Sag."""
    cord = cord_disc()
    t2sag = np.where(cord, 1.0, 2.0).astype(np.float32)
    t2sag[CONSPICUOUS_BOX] = 3.0
    t2sag[FAINT_BOX] = 1.05
    labels = np.zeros(SHAPE, np.uint8)
    labels[CONSPICUOUS_BOX] = labels[FAINT_BOX] = 1
    frame = CordFrame(z_mm=np.arange(SHAPE[2]) * 0.5, labels=labels, cord=cord.astype(np.uint8))
    for slot in slots:
        frame.crops[slot] = t2sag if slot is Slot.T2Sag else np.ones(SHAPE, np.float32)
        frame.coverage[slot] = np.ones(SHAPE, bool)
        frame.centerlines[slot] = np.zeros((SHAPE[2], 3))
    return frame


@dataclass
class FakePredictor:
    """Finds the conspicuous lesion always, the faint one when given STIR, and a false positive
    when given T1w; records the slot sets it was asked for."""

    slots: tuple[Slot, ...] = tuple(Slot)
    card: dict = field(default_factory=lambda: {'name': 'fake', 'weights': {'sha256': 'abc'}})
    calls: list[tuple[Slot, ...]] = field(default_factory=list)
    tta: bool = False

    def predict(
        self, crops: Mapping[Slot, np.ndarray], coverage: Mapping[Slot, np.ndarray] | None = None
    ) -> np.ndarray:
        self.calls.append(tuple(crops))
        probability = np.zeros(SHAPE, np.float32)
        probability[CONSPICUOUS_BOX] = 0.9
        if Slot.STIR in crops:
            probability[FAINT_BOX] = 0.9
        if Slot.T1w in crops:
            probability[FALSE_POSITIVE_BOX] = 0.9
        return probability


#: Unit -> its sequences: A has STIR, B T2Sag only, C STIR and T1w.
UNITS = {
    'sub-A': (Slot.T2Sag, Slot.STIR),
    'sub-B': (Slot.T2Sag,),
    'sub-C': (Slot.T2Sag, Slot.STIR, Slot.T1w),
}
