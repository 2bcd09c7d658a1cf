"""Which cached cord frames can be reused without asking Nipype.

Nipype re-checks every node of a cached unit (hundreds of files per unit): minutes for a training
set of a hundred units, before every training run, resume or study. A frame is reused directly
when a key written beside it matches what it would be made from now: the package version, the
centreline providers, and the path, size and modification time of every input file (images,
cord masks, reference labels). Anything else falls back to the workflow and its own cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bids_app import __version__
from bids_app.workflows.base import UnitPlan


def plan_inputs(plan: UnitPlan) -> list[Path]:
    """Every file a unit's cord frame is made from."""
    images = [p for paths in plan.unit.slots.values() for p in paths]
    masks = [p for paths in plan.masks.values() for p in paths]
    return [*images, *masks, *plan.labels]


def frame_key(plan: UnitPlan) -> str | None:
    """A digest of what the unit's frame is made from; None when an input cannot be read."""
    files = []
    for path in plan_inputs(plan):
        try:
            status = Path(path).stat()
        except OSError:
            return None
        files.append([str(path), status.st_size, status.st_mtime_ns])
    record = {
        'version': __version__,
        'providers': {str(slot): provider for slot, provider in plan.providers.items()},
        'files': files,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _key_path(frame: Path) -> Path:
    return frame.with_suffix('.key')


def is_fresh(plan: UnitPlan, frame: Path) -> bool:
    """Whether ``frame`` exists and was made from exactly the inputs ``plan`` names now."""
    key_path = _key_path(frame)
    if not (frame.is_file() and key_path.is_file()):
        return False
    key = frame_key(plan)
    return key is not None and key_path.read_text().strip() == key


def record(plan: UnitPlan, frame: Path) -> None:
    """Write the key of a frame just made (atomically: a half-written key never matches)."""
    key = frame_key(plan)
    if key is None or not frame.is_file():
        return
    key_path = _key_path(frame)
    partial = key_path.with_name(f'.{key_path.name}.{os.getpid()}')
    partial.write_text(key + '\n')
    partial.replace(key_path)
