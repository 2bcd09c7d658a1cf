"""Tiny synthetic cord frames and training configs for the trainer's tests (a module with its
own name, so that ``from training_frames import ...`` never picks another folder's conftest)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bids_app.frame import CordFrame
from bids_app.slots import Slot

TINY_WIDTHS = (4, 8, 8, 8, 8)
N = 16  # in-plane crop size of the tiny frames (the real one is 48)


def make_frame(
    seed: int,
    slots: Sequence[Slot] = (Slot.T2Sag,),
    *,
    length: int = 48,
    lesion: bool = True,
    labels: bool = True,
    size: int = N,
) -> CordFrame:
    """A cord frame ``(size, size, length)``: a bright cord disc of radius 4 voxels along z, a
    brighter ball of radius ~2.4 voxels (the lesion, labelled) at a random z, Gaussian noise."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(np.arange(size), np.arange(size), np.arange(length), indexing='ij')
    centre = (size - 1) / 2
    disc = (x - centre) ** 2 + (y - centre) ** 2
    cord = disc < 16
    lesion_mask = np.zeros((size, size, length), np.uint8)
    if lesion:
        lesion_z = rng.integers(8, length - 8)
        lesion_mask[disc + (z - lesion_z) ** 2 < 6] = 1
    frame = CordFrame(z_mm=np.arange(length) * 0.5)
    for slot in slots:
        image = 1.0 + cord + 2.0 * lesion_mask + rng.normal(0, 0.2, (size, size, length))
        frame.crops[slot] = (image * (1 + rng.random())).astype(np.float32)
        frame.coverage[slot] = np.ones((size, size, length), bool)
        frame.centerlines[slot] = np.zeros((length, 3))
    frame.labels = lesion_mask if labels else None
    return frame


def tiny_values(**kwargs) -> dict:
    """TrainConfig values: tiny widths and patch (16, 16, 32), no workers, CPU, log every step."""
    return {
        'widths': TINY_WIDTHS,
        'patch_size': (N, N, 32),
        'iterations': 30,
        'val_interval': 10,
        'log_interval': 1,
        'num_workers': 0,
        'device': 'cpu',
        **kwargs,
    }
