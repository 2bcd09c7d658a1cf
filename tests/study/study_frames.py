"""Tiny labelled cord frames (16 x 16 in-plane) and training settings for the study's tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bids_app.frame import CordFrame
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig

SIZE = 16
TINY_WIDTHS = (4, 8, 8, 8, 8)
#: sub-00, 02, 04 have STIR, sub-01, 03 T2Sag alone.
UNIT_SLOTS = {
    f'sub-{i:02d}': (Slot.T2Sag, Slot.STIR) if i % 2 == 0 else (Slot.T2Sag,) for i in range(5)
}


def tiny_frame(
    seed: int, slots: Sequence[Slot], *, size: int = SIZE, length: int = 48
) -> CordFrame:
    """A bright cord column with one labelled lesion ball, the same in every slot, plus noise."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.arange(n) for n in (size, size, length)), indexing='ij')
    centre = (size - 1) / 2
    disc = (x - centre) ** 2 + (y - centre) ** 2
    lesion = (disc + (z - rng.integers(8, length - 8)) ** 2 < 6).astype(np.uint8)
    frame = CordFrame(z_mm=np.arange(length) * 0.5, labels=lesion)
    for slot in slots:
        image = 1.0 + (disc < 16) + 2.0 * lesion + rng.normal(0, 0.2, lesion.shape)
        frame.crops[slot] = image.astype(np.float32)
        frame.coverage[slot] = np.ones(lesion.shape, bool)
        frame.centerlines[slot] = np.zeros((length, 3))
    return frame


def tiny_config(**kwargs) -> TrainConfig:
    """Tiny widths, patch (16, 16, 32), 3 iterations, validation at the end, CPU, no workers."""
    values = {
        'widths': TINY_WIDTHS,
        'patch_size': (SIZE, SIZE, 32),
        'iterations': 3,
        'val_interval': 3,
        'log_interval': 1,
        'num_workers': 0,
        'device': 'cpu',
        'val_fraction': 0.25,
        **kwargs,
    }
    return TrainConfig(**values)
