"""Fixtures of the evaluation tests: the hand-made units of ``evaluation_frames``."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluation_frames import UNITS, make_frame


@pytest.fixture
def frame_files(tmp_path: Path) -> dict[str, Path]:
    """The three units of ``UNITS`` saved as cord frames."""
    return {
        name: make_frame(slots).save(tmp_path / f'{name}.npz') for name, slots in UNITS.items()
    }
