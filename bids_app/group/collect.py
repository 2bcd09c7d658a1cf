"""Read what the participant level left for each subject/session: outputs, crashes, or nothing.

The participant level writes each unit's ``*_desc-lesions_summary.tsv`` last, so its presence
marks complete outputs; a failed unit leaves Nipype crash files in
``sub-<s>[/ses-<t>]/log/<run_uuid>/crash-*.txt`` instead; a unit without a sagittal T2w is skipped
and leaves nothing, so its reason comes from discovery (CONVENTIONS sections 1 and 4).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bids_app.derivatives import SUMMARY_COLUMNS, derived_name, summary_path, unit_folder
from bids_app.discovery import Unit
from bids_app.errors import DatasetError
from bids_app.lesions import COLUMNS, OPTIONAL_COLUMNS
from bids_app.outcomes import crash_reason
from bids_app.slots import Slot

logger = logging.getLogger(__name__)

#: Columns of the summary and per-lesion TSVs that hold a number (or n/a).
SUMMARY_NUMBERS = (
    'n_lesions',
    'total_volume_mm3',
    'threshold',
    'grow_threshold',
    'min_lesion_mm3',
)
LESION_NUMBERS = tuple(c for c in COLUMNS if c not in ('name', 'slots_covering'))
#: Lesion columns a table must hold; those added since the first release may be missing.
LESION_REQUIRED = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)
LEVEL_NUMBERS = ('n_lesions', 'volume_mm3')


class Status(StrEnum):
    """Outcome of one subject/session at participant level."""

    done = 'done'
    failed = 'failed'
    skipped = 'skipped'
    not_run = 'not_run'


@dataclass(frozen=True)
class UnitRecord:
    """One subject/session as found in an output folder.

    Attributes
    ----------
    unit : Unit
        The discovered unit (slots found, skip reason, discovery error).
    status : Status
        ``done`` when its summary TSV exists and its latest run left no crash file.
    reason : str or None
        Why it failed, was skipped or did not run; None when done.
    summary : dict
        The summary TSV's row (column -> text, None for ``n/a``); empty unless done.
    lesions : list of dict
        The per-lesion TSV's rows; empty unless done.
    mask : Path or None
        The binary lesion mask on the T2Sag grid; None unless done.
    dseg : Path or None
        The numbered lesions on the same grid (one value per lesion, whose voxels need not
        touch there); None unless done, or when missing.
    levels : dict or None
        Vertebra -> (lesions, volume in mm^3) from the unit's levels summary; None when the
        discs could not be named (or the outputs predate vertebral levels).
    report : Path or None
        ``OUTPUT_DIR/sub-<s>.html`` when it exists.
    """

    unit: Unit
    status: Status
    reason: str | None
    summary: dict[str, str | None] = field(default_factory=dict)
    lesions: list[dict[str, str | None]] = field(default_factory=list)
    mask: Path | None = None
    dseg: Path | None = None
    levels: dict[str, tuple[int, float]] | None = None
    report: Path | None = None

    @property
    def participant_id(self) -> str:
        return f'sub-{self.unit.subject}'

    @property
    def session_id(self) -> str | None:
        return f'ses-{self.unit.session}' if self.unit.session else None


def read_tsv(
    path: Path, fix: str = 'save it as UTF-8 tab-separated text'
) -> list[dict[str, str | None]]:
    """Rows of a BIDS TSV as dicts of text; ``n/a`` and empty cells become None.

    Raises
    ------
    DatasetError
        The file is not UTF-8, or a row has more or fewer cells than the header; the message
        ends with ``fix``.
    """
    return _read(path, fix)[1]


def _read(path: Path, fix: str) -> tuple[list[str], list[dict[str, str | None]]]:
    """The header and rows of a TSV (see :func:`read_tsv`)."""
    try:
        with path.open(newline='', encoding='utf-8') as handle:
            reader = csv.DictReader(handle, delimiter='\t')
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f'{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset '
            f'{exc.start}); {fix}'
        ) from exc
    for line, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise DatasetError(
                f'{path} line {line} has another number of cells than its header; {fix}'
            )
    return header, [{k: (None if v in ('n/a', '') else v) for k, v in r.items()} for r in rows]


def _rerun(unit: Unit) -> str:
    return f'rerun the participant level on {unit.name} with --overwrite'


def _checked_table(
    path: Path, unit: Unit, columns: Sequence[str], numbers: Sequence[str]
) -> list[dict[str, str | None]]:
    """The rows of one of the unit's TSVs: every column sclesion writes, ``numbers`` finite."""
    if not path.is_file():
        raise DatasetError(f'{path} is missing; {_rerun(unit)}')
    header, rows = _read(path, _rerun(unit))
    missing = [c for c in columns if c not in header]
    if missing:
        raise DatasetError(
            f'{path} lacks the column(s) {", ".join(missing)} (edited, or written by another '
            f'version?); {_rerun(unit)}'
        )
    for line, row in enumerate(rows, start=2):
        for column in numbers:
            value = row.get(column)
            try:
                finite = value is None or math.isfinite(float(value))
            except ValueError:
                finite = False
            if not finite:
                raise DatasetError(
                    f'{path} line {line}: {column} is {value!r}, not a number; {_rerun(unit)}'
                )
    return rows


def check_output_dir(output_dir: Path) -> None:
    """Raise :class:`DatasetError` unless ``output_dir`` is a sclesion derivatives folder."""
    description = output_dir / 'dataset_description.json'
    try:
        generated = json.loads(description.read_text())['GeneratedBy'][0]['Name']
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise DatasetError(
            f'{output_dir} is not a sclesion output folder ({description.name}: {exc!r}); '
            'give the OUTPUT_DIR of a sclesion participant run'
        ) from exc
    if generated != 'sclesion':
        raise DatasetError(
            f'{output_dir} was generated by {generated!r}, not sclesion; '
            'give the OUTPUT_DIR of a sclesion participant run'
        )


def _output_path(
    output_dir: Path,
    unit: Unit,
    suffix: str,
    extension: str,
    keep_suffix: bool = False,
    **entities: str,
) -> Path:
    source = unit.slots[Slot.T2Sag][0]
    folder = output_dir / unit_folder(unit.subject, unit.session)
    name = derived_name(
        source, suffix=suffix, extension=extension, keep_suffix=keep_suffix, **entities
    )
    return folder / name


def _crashes(log_root: Path) -> tuple[list[Path], list[Path]]:
    """Crash files of the latest run folder, and of every run folder (both sorted by name)."""
    if not log_root.is_dir():
        return [], []
    runs = sorted(p for p in log_root.iterdir() if p.is_dir())
    latest = sorted(runs[-1].glob('crash-*.txt')) if runs else []
    return latest, sorted(log_root.glob('*/crash-*.txt'))


def collect_unit(output_dir: Path, unit: Unit) -> UnitRecord:
    """What ``output_dir`` holds for one unit (see the module docstring for the rules)."""
    report = output_dir / f'sub-{unit.subject}.html'
    report = report if report.is_file() else None
    if unit.skip_reason:
        return UnitRecord(unit, Status.skipped, unit.skip_reason, report=report)
    if unit.error:
        return UnitRecord(unit, Status.failed, unit.error, report=report)
    folder = output_dir / unit_folder(unit.subject, unit.session)
    latest, every = _crashes(folder.parent / 'log')
    if latest:
        return UnitRecord(unit, Status.failed, crash_reason(latest[-1]), report=report)
    summary = summary_path(output_dir, unit.subject, unit.session)
    if not summary.is_file():
        if every:
            return UnitRecord(unit, Status.failed, crash_reason(every[-1]), report=report)
        why = f'no participant output in {folder} (run the participant level on it)'
        return UnitRecord(unit, Status.not_run, why, report=report)
    rows = _checked_table(summary, unit, list(SUMMARY_COLUMNS), SUMMARY_NUMBERS)
    if len(rows) != 1:
        raise DatasetError(f'{summary} must hold one row, found {len(rows)}; {_rerun(unit)}')
    lesion_table = _output_path(output_dir, unit, 'dseg', '.tsv', desc='lesions')
    lesions = _checked_table(lesion_table, unit, LESION_REQUIRED, LESION_NUMBERS)
    n_lesions = rows[0]['n_lesions']
    if n_lesions is not None and float(n_lesions) != len(lesions):
        raise DatasetError(
            f'{lesion_table} holds {len(lesions)} lesion(s) but {summary.name} says '
            f'{n_lesions}; {_rerun(unit)}'
        )
    mask = _output_path(output_dir, unit, 'mask', '.nii.gz', label='lesion')
    dseg = _output_path(output_dir, unit, 'dseg', '.nii.gz', desc='lesions')
    return UnitRecord(
        unit,
        Status.done,
        None,
        summary=rows[0],
        lesions=lesions,
        mask=mask if mask.is_file() else None,
        dseg=dseg if dseg.is_file() else None,
        levels=_levels(output_dir, unit, folder),
        report=report,
    )


def _levels(output_dir: Path, unit: Unit, folder: Path) -> dict[str, tuple[int, float]] | None:
    """The unit's lesion load per vertebra; None when its discs were not named."""
    discs = _output_path(output_dir, unit, '', '.tsv', keep_suffix=True, desc='discs')
    table = folder / f'{unit.name}_desc-levels_summary.tsv'
    if not (discs.is_file() and table.is_file()):
        return None  # written before vertebral levels existed
    named = _checked_table(discs, unit, ['z_mm', 'name'], ('z_mm',))
    if not named or any(row['name'] is None for row in named):
        return None
    rows = _checked_table(table, unit, ['level', 'n_lesions', 'volume_mm3'], LEVEL_NUMBERS)
    return {
        str(row['level']): (int(float(row['n_lesions'] or 0)), float(row['volume_mm3'] or 0))
        for row in rows
    }


def collect_outputs(output_dir: Path, units: Sequence[Unit]) -> list[UnitRecord]:
    """One record per unit, in the order given.

    Raises
    ------
    DatasetError
        When ``output_dir`` is not a sclesion output folder, or no unit has finished outputs.
    """
    check_output_dir(output_dir)
    records = [collect_unit(output_dir, unit) for unit in units]
    if not any(r.status is Status.done for r in records):
        raise DatasetError(
            f'{output_dir} holds no finished participant output for any of the {len(units)} '
            'subject/session(s); run the participant level first'
        )
    for record in records:  # discovery has said why a unit is skipped
        if record.status in (Status.failed, Status.not_run):
            logger.warning('%s %s: %s', record.unit.name, record.status, record.reason)
    return records
