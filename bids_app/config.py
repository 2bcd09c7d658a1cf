"""Run-wide settings as frozen dataclasses (the sequence slots are in :mod:`bids_app.slots`).

The paper's numbers appear here once, as defaults; everything else receives them as arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bids_app.errors import UsageError
from bids_app.slots import Slot


def check_known_keys(cls: type, data: Mapping[str, Any], what: str) -> None:
    """``UsageError`` naming the keys of ``data`` that are no field of the dataclass ``cls``.

    >>> check_known_keys(CordFrameConfig, {'crop_size': 48, 'size': 1}, 'frame')
    Traceback (most recent call last):
    bids_app.errors.UsageError: unknown frame keys ['size']
    """
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise UsageError(f'unknown {what} keys {sorted(unknown)}')


@dataclass(frozen=True)
class CordFrameConfig:
    """The cord frame: stacked axial crops centred on each sequence's centreline.

    Parameters
    ----------
    voxel_mm : float
        Isotropic sampling step of the frame, in mm.
    crop_size : int
        In-plane size of each axial crop, in voxels (crop is ``crop_size`` x ``crop_size``).
    z_margin_mm : float
        Added above and below the union of the cord extents of all sequences, in mm.
    """

    voxel_mm: float = 0.5
    crop_size: int = 48
    z_margin_mm: float = 10.0


@dataclass(frozen=True)
class RunConfig:
    """Everything one ``sclesion`` invocation was asked to do, built once from the command line.

    Saved next to the outputs (``sclesion.toml``) so a run can be understood and repeated.
    ``threshold``, ``grow_threshold``, ``min_lesion_mm3`` and ``tta`` are None unless given: the
    model card's values, else the built-in ones, apply
    (:func:`bids_app.postprocess.resolve_options`, ``resolve_tta``).
    """

    bids_dir: Path
    output_dir: Path
    analysis_levels: tuple[str, ...]
    work_dir: Path
    run_uuid: str
    participant_labels: tuple[str, ...] = ()
    session_labels: tuple[str, ...] = ()
    bids_filters: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignore: tuple[Slot, ...] = ()
    force_sequences: bool = False
    cord_masks: Path | None = None
    labels: Path | None = None
    lesion_label_suffix: str | None = None
    skip_bids_validation: bool = False
    model: str | None = None
    threshold: float | None = None
    grow_threshold: float | None = None
    min_lesion_mm3: float | None = None
    device: str = 'auto'
    tta: bool | None = None
    bf16: bool = False
    centerline: str = 'auto'
    nprocs: int = 1
    omp_nthreads: int = 1
    mem_gb: float | None = None
    use_plugin: Path | None = None
    clean_workdir: bool = False
    overwrite: bool = False
    stop_on_first_crash: bool = False
    write_graph: bool = False
    resource_monitor: bool = False
    compare: tuple[Path, ...] = ()
    group_by: tuple[str, ...] = ()
    qc_ratings: Path | None = None
    command_line: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (paths as strings, no None), ready for TOML or JSON."""
        plain = {}
        for key, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            plain[key] = value
        return plain
