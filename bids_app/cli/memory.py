"""How much memory a subject/session needs, estimated from its image headers before any work.

The participant level's peak grows with the largest image of a unit (the sagittal T2w's
centreline, its fusion and the mapping back to its grid). ``--mem`` refuses a unit whose
estimate is above it, with one line that says why, and tells Nipype's scheduler the estimate
of every node, so that units run side by side only as far as the limit allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from nipype.pipeline import engine as pe

from bids_app.workflows.base import UnitPlan

#: Peak bytes per voxel of a unit's largest image, and what every unit needs besides
#: (Python, PyTorch, the model, inference buffers). ``benchmarks/memory.py`` measured 45 B/voxel
#: + 0.54 GiB with one process (2.1-32.8 M voxels); these keep a margin for other shapes,
#: contrasts and several processes, so a refusal errs on the safe side.
BYTES_PER_VOXEL = 60.0
BASE_GB = 1.2


def image_voxels(path: Path) -> int:
    """Voxels of one image, from its header alone (no data read)."""
    return int(np.prod(nib.load(str(path)).shape[:3], dtype=np.int64))


def unit_memory_gb(plan: UnitPlan) -> tuple[float, Path, int]:
    """(estimated peak GB, the largest image, its voxel count) of one unit.

    Examples
    --------
    >>> round(BASE_GB + BYTES_PER_VOXEL * 400**3 / 1e9, 1)  # a 400^3 voxel T2w
    5.0
    """
    sizes = {path: image_voxels(path) for paths in plan.unit.slots.values() for path in paths}
    largest = max(sizes, key=sizes.get)
    return BASE_GB + BYTES_PER_VOXEL * sizes[largest] / 1e9, largest, sizes[largest]


def over_budget(plans: Sequence[UnitPlan], mem_gb: float) -> dict[str, str]:
    """Unit name -> why it cannot run within ``--mem``; empty when every unit fits."""
    refused = {}
    for plan in plans:
        need, largest, voxels = unit_memory_gb(plan)
        if need > mem_gb:
            refused[plan.unit.name] = (
                f'needs about {need:.1f} GB ({largest.name} has {voxels / 1e6:.0f} M voxels) '
                f'but --mem is {mem_gb:g} GB; raise --mem, or resample that image to fewer '
                'voxels (about 1 mm is enough)'
            )
    return refused


def declare_memory(workflow: pe.Workflow, plan: UnitPlan) -> pe.Workflow:
    """Give every node of a unit's workflow the unit's estimate, for Nipype's scheduler."""
    need = unit_memory_gb(plan)[0]
    for name in workflow.list_node_names():
        workflow.get_node(name)._mem_gb = need  # Node.mem_gb has no setter
    return workflow
