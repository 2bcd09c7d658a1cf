"""Fixtures of tiny cord frames and configs (:mod:`training_frames`): trainer tests in seconds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from training_frames import make_frame, tiny_values

from bids_app.frame import CordFrame
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig


@pytest.fixture
def frames() -> dict[str, CordFrame]:
    """Five subjects: sub-00, 02, 04 with T2Sag + STIR, sub-01, 03 with T2Sag only."""
    return {
        f'sub-{i:02d}': make_frame(i, (Slot.T2Sag,) if i % 2 else (Slot.T2Sag, Slot.STIR))
        for i in range(5)
    }


@pytest.fixture
def tiny_train_config() -> Callable[..., TrainConfig]:
    """Factory of tiny configs (:func:`tiny_values`), overridden by keyword."""

    def make(**kwargs) -> TrainConfig:
        return TrainConfig(**tiny_values(**kwargs))

    return make


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread) -> None:
    """Every test here on one torch thread."""
