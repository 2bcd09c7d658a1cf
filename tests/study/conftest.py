"""Fixtures of the study's tests: tiny labelled frames on disk, one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest
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
def _one_thread(one_torch_thread) -> None:
    """Every test here on one torch thread."""
