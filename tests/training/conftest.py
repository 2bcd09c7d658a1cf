"""Tiny synthetic cord frames and configs, so that the trainer's tests run in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest
import torch

from bids_app.frame import CordFrame
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig

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


@pytest.fixture
def frames() -> dict[str, CordFrame]:
    """Five subjects: sub-00, 02, 04 with T2Sag + STIR, sub-01, 03 with T2Sag only."""
    return {
        f'sub-{i:02d}': make_frame(i, (Slot.T2Sag,) if i % 2 else (Slot.T2Sag, Slot.STIR))
        for i in range(5)
    }


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


@pytest.fixture
def tiny_train_config() -> Callable[..., TrainConfig]:
    """Factory of tiny configs (:func:`tiny_values`), overridden by keyword."""

    def make(**kwargs) -> TrainConfig:
        return TrainConfig(**tiny_values(**kwargs))

    return make


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: tiny tensors gain nothing from two on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
