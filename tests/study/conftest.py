"""Fixtures of the study's tests: tiny labelled frames on disk, one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from study_frames import UNIT_SLOTS, tiny_frame


@pytest.fixture
def frame_files(tmp_path: Path) -> dict[str, Path]:
    """The units of ``UNIT_SLOTS`` saved as cord frames."""
    folder = tmp_path / 'frames'
    folder.mkdir()
    return {
        name: tiny_frame(i, slots).save(folder / f'{name}.npz')
        for i, (name, slots) in enumerate(UNIT_SLOTS.items())
    }


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: tiny tensors gain nothing from two on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
