"""What the report needs from one subject/session ("unit"), and readers for the pipeline's files.

A :class:`UnitReport` holds paths and small values only; the pipeline fills it after it has
written the unit's derivatives. Every optional input may be absent: the report says so instead
of failing.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bids_app.errors import InputImageError
from bids_app.slots import SLOTS, Slot


@dataclass(frozen=True, eq=False)
class UnitReport:
    """One subject/session's outputs, as the report reads them.

    Parameters
    ----------
    subject : str
        Participant label without ``sub-``.
    session : str or None
        Session label without ``ses-``; None for datasets without sessions.
    t2sag : Path
        The T2Sag on its native grid: the raw file, or the fused ``desc-preproc`` image.
    sources : mapping
        Slot -> raw file(s) of that slot (several when chunks were fused), in z order.
        Must hold T2Sag; names the figures and the summary table.
    centerlines : mapping
        Slot -> centreline TSV (``x y z`` world RAS+ mm, one row per cord-frame slice).
    cordframe : Path or None
        The cord frame ``.npz`` (:meth:`bids_app.frame.CordFrame.load`).
    frame_probability : (N, N, Z) float32 array, ``.npy``/``.npz`` path, or None
        Lesion probability in the cord frame, axes LAS.
    probseg, mask, dseg : Path or None
        Lesion probability, binary mask and numbered lesions on the T2Sag grid.
    lesion_table : Path or None
        Per-lesion TSV (``..._desc-lesions_dseg.tsv``).
    summary : Path or None
        Per-unit summary TSV (``..._desc-lesions_summary.tsv``).
    discs : Path or None
        Intervertebral discs along the T2Sag's cord (``..._desc-discs.tsv``).
    provenance : mapping
        ``software_version``, ``command_line``, ``run_uuid``, ``start_time``, ``end_time``
        (ISO 8601), ``model`` (``name``, ``sha256``), ``threshold``, ``options`` (dict),
        optionally ``runtimes`` (step -> seconds). Missing keys show as "n/a".
    errors : tuple of str
        Crash reasons of this unit, shown in the Errors section.
    reference : mapping or None
        Reference comparison (``dice``, ``f1``, ``sensitivity``, ``precision``,
        ``lesion_tp``...), when reference labels exist.
    """

    subject: str
    session: str | None
    t2sag: Path
    sources: Mapping[Slot, tuple[Path, ...]]
    centerlines: Mapping[Slot, Path] = field(default_factory=dict)
    cordframe: Path | None = None
    frame_probability: NDArray[np.float32] | Path | None = None
    probseg: Path | None = None
    mask: Path | None = None
    dseg: Path | None = None
    lesion_table: Path | None = None
    summary: Path | None = None
    discs: Path | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    reference: Mapping[str, Any] | None = None

    @property
    def slots(self) -> list[Slot]:
        """The slots with a source file, in the paper's order."""
        return [slot for slot in SLOTS if self.sources.get(slot)]

    @property
    def label(self) -> str:
        """``sub-<s>[_ses-<t>]``, the start of every figure name."""
        return f'sub-{self.subject}' + (f'_ses-{self.session}' if self.session else '')


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a BIDS TSV as dicts of strings (``n/a`` kept as written).

    Parameters
    ----------
    path : Path
        Tab-separated file with a header row.
    """
    with path.open(newline='') as handle:
        return list(csv.DictReader(handle, delimiter='\t'))


def read_centerline(path: Path) -> NDArray[np.float64]:
    """A centreline TSV as a (Z, 3) array of world ``xyz_mm`` (RAS+).

    Parameters
    ----------
    path : Path
        TSV with columns ``x``, ``y``, ``z``.
    """
    rows = read_tsv(path)
    try:
        xyz = np.array([[float(r['x']), float(r['y']), float(r['z'])] for r in rows])
    except (KeyError, ValueError) as error:
        raise InputImageError(
            f'{path}: centreline TSV needs numeric x, y, z columns ({error}); rerun the unit'
        ) from error
    return xyz.reshape(-1, 3)


def load_frame_probability(
    value: NDArray[np.float32] | Path | None,
) -> NDArray[np.float32] | None:
    """The lesion probability in the cord frame as an (N, N, Z) float32 array, or None.

    Parameters
    ----------
    value : array, Path or None
        The array itself, a ``.npy`` file, or a ``.npz`` file holding one array.
    """
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        array = value
    elif Path(value).suffix == '.npz':
        with np.load(value) as archive:
            array = archive[archive.files[0]]
    else:
        array = np.load(value)
    if array.ndim != 3:
        raise InputImageError(
            f'lesion probability in the cord frame must be (N, N, Z), got {array.shape}'
        )
    return np.asarray(array, dtype=np.float32)
