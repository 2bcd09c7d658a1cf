"""Discovery: map each subject/session's anatomical images to the sequence slots.

The default queries and the classification rules are those of CONVENTIONS section 2: a query per
slot (pybids entities), then an acceptance rule per slot that reads the ``acq`` label and, when it
says nothing about orientation, the image header. Both are facts of each slot's
:class:`~bids_app.slots.SlotSpec`; this module applies them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bids import BIDSLayout
from bids.layout import BIDSFile, Query

from bids_app.dataset_checks import invalid_labels
from bids_app.errors import DatasetError
from bids_app.headers import Plane, PlaneReader
from bids_app.slots import SLOTS, Slot

logger = logging.getLogger(__name__)

NIFTI_EXTENSIONS = ['.nii', '.nii.gz']


@dataclass
class Unit:
    """One subject/session: the unit of work of the participant level.

    Attributes
    ----------
    slots : dict
        Slot -> image paths of that slot, one per slab (several when ``chunk-`` slabs are fused),
        in slab order.
    notes : list of str
        What discovery decided and a user may want to know (runs left out, files not used).
    warnings : list of str
        Doubts about an image that is used anyway (its qform and sform disagree).
    skip_reason : str or None
        Why the unit cannot run at all (no T2Sag); a skipped unit is not a failure.
    error : str or None
        Why the unit fails (an image whose header cannot be read); a failed unit is a failure.
    """

    subject: str
    session: str | None
    slots: dict[Slot, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skip_reason: str | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        """``sub-<s>[_ses-<t>]``."""
        return f'sub-{self.subject}' + (f'_ses-{self.session}' if self.session else '')

    @property
    def runnable(self) -> bool:
        return self.skip_reason is None and self.error is None


def _acq(file: BIDSFile) -> str:
    return str(file.get_entities().get('acquisition', '')).lower()


def _orientation_from_acq(acq: str) -> Plane | None:
    if 'sag' in acq:
        return Plane.sagittal
    if 'ax' in acq:
        return Plane.axial
    if 'cor' in acq:
        return Plane.coronal
    return None


def _accepts(slot: Slot, file: BIDSFile, read: PlaneReader) -> bool:
    """The acceptance rule of one slot for a file its query returned (CONVENTIONS section 2).

    The rule's facts are the slot's :class:`~bids_app.slots.SlotSpec`: ``marker`` (a word that
    alone decides, and that the other slots refuse in ``acq``), ``planes`` (None: every file),
    and ``plane_from_acq`` (whether ``acq-sag``/``acq-ax`` is believed before the header).
    """
    spec = slot.spec
    acq = _acq(file)
    if spec.marker:
        return str(file.get_entities().get('suffix')).lower() == spec.marker or spec.marker in acq
    if spec.planes is None:
        return True
    if any(s.spec.marker and s.spec.marker in acq for s in SLOTS):
        return False
    plane = _orientation_from_acq(acq) if spec.plane_from_acq else None
    if plane is None:
        plane = read(Path(file.path))
    return plane in spec.planes


def _slab_key(file: BIDSFile) -> tuple[str, int]:
    entities = file.get_entities()
    return (str(entities.get('acquisition', '')), int(entities.get('chunk', 0) or 0))


def _pick_runs(files: list[BIDSFile], slot: Slot, notes: list[str]) -> list[Path]:
    """One file per slab: its highest ``run``; the others are logged (CONVENTIONS section 2)."""
    slabs: dict[tuple[str, int], list[BIDSFile]] = {}
    for file in files:
        slabs.setdefault(_slab_key(file), []).append(file)
    chosen = []
    for key in sorted(slabs, key=lambda k: (k[1], k[0])):
        candidates = sorted(
            slabs[key], key=lambda f: (int(f.get_entities().get('run', 0) or 0), f.filename)
        )
        keep = candidates[-1]
        chosen.append(Path(keep.path))
        if len(candidates) > 1:
            others = ', '.join(f.filename for f in candidates[:-1])
            notes.append(
                f'{slot}: using {keep.filename}, the last run; left out {others} '
                f'(choose another with --bids-filter-file {{"{slot}": {{"run": N}}}})'
            )
    return chosen


def _query(layout: BIDSLayout, base: Mapping[str, Any], user: Mapping[str, Any]) -> list[BIDSFile]:
    query = {**base, **user}
    query = {
        k: (Query.NONE if v is None else Query.ANY if v == '*' else v) for k, v in query.items()
    }
    query.setdefault('datatype', 'anat')
    query['extension'] = NIFTI_EXTENSIONS
    return layout.get(return_type='object', **query)


def assign_slots(
    layout: BIDSLayout,
    subject: str,
    session: str | None,
    *,
    bids_filters: Mapping[str, Mapping[str, Any]] | None = None,
    ignore: Iterable[Slot] = (),
) -> Unit:
    """Find the images of one subject/session and put each in its slot.

    Parameters
    ----------
    layout : BIDSLayout
        The indexed input dataset.
    subject, session : str
        Labels without ``sub-``/``ses-``; ``session`` is None when the dataset has none.
    bids_filters : mapping, optional
        Slot -> pybids entities that replace the default query's keys for that slot (the
        ``--bids-filter-file``). A slot whose filter sets ``acquisition`` skips the ``acq`` rule.
    ignore : iterable of Slot
        Slots left out on purpose (``--ignore``).
    """
    bids_filters = bids_filters or {}
    unit = Unit(subject=subject, session=session)
    where = {'subject': subject, 'session': session if session else Query.NONE}
    read = PlaneReader()
    owner: dict[Path, Slot] = {}
    maybe_t2sag: set[Path] = set()  # what the T2Sag query returned, before its acceptance rule
    for slot in SLOTS:
        if slot in set(ignore):
            continue
        user = bids_filters.get(slot, {})
        files = _query(layout, {**slot.spec.query, **where}, user)
        if slot is Slot.T2Sag:
            maybe_t2sag = {Path(f.path) for f in files}
        if 'acquisition' not in user:
            files = [f for f in files if _accepts(slot, f, read)]
        for file in files:
            path = Path(file.path)
            if path in owner:
                raise DatasetError(
                    f'{path} matches both slots {owner[path]} and {slot}; '
                    'narrow one of them in --bids-filter-file'
                )
            owner[path] = slot
        if files:
            unit.slots[slot] = _pick_runs(files, slot, unit.notes)
    for path in (p for paths in unit.slots.values() for p in paths):
        read(path)  # every image used gets its header checked, before any work
    unit.warnings.extend(why for path, why in read.warnings.items() if path in owner)
    all_anat = _query(layout, where, {'datatype': 'anat'})
    unused = sorted(f.filename for f in all_anat if Path(f.path) not in owner)
    if unused:
        unit.notes.append('not used: ' + ', '.join(unused))
    # Without a T2Sag the unit cannot run: skipped, unless an unreadable image may be its T2Sag.
    if Slot.T2Sag not in unit.slots and not maybe_t2sag & set(read.errors):
        unreadable = sorted(path.name for path in read.errors)
        unit.skip_reason = (
            f'no sagittal T2w (T2Sag) among {_some(sorted(f.filename for f in all_anat))}; every '
            'subject needs one (name it acq-sag_T2w, or select it with --bids-filter-file)'
            + (f'; {", ".join(unreadable)} cannot be read either' if unreadable else '')
        )
    elif read.errors:
        unit.error = '; '.join(read.errors.values())
    return unit


def _some(names: Sequence[str], most: int = 4) -> str:
    """``a, b, c and 2 more``; ``its images (none in anat/)`` when there is none."""
    if not names:
        return 'its images (none in anat/)'
    shown = ', '.join(names[:most])
    return shown + (f' and {len(names) - most} more' if len(names) > most else '')


def select_units(
    layout: BIDSLayout,
    participant_labels: Sequence[str] | None = None,
    session_labels: Sequence[str] | None = None,
) -> list[tuple[str, str | None]]:
    """The (subject, session) pairs to process, after checking the requested labels exist.

    Raises
    ------
    DatasetError
        When none of the requested participants (or sessions) exist, or the dataset has no subject.
    """
    subjects = sorted(layout.get_subjects())
    if not subjects:
        raise DatasetError(
            f"{layout.root} has no sub-*/ folder with images; put each subject's images in "
            'sub-<label>/[ses-<label>/]anat/ (BIDS), or give the right folder'
        )
    if participant_labels:
        wanted = [label.removeprefix('sub-') for label in participant_labels]
        missing = [label for label in wanted if label not in subjects]
        subjects = [label for label in wanted if label in subjects]
        if not subjects:
            raise DatasetError(
                f'none of the participants {", ".join(missing)} exist in {layout.root}; '
                f'choose among {_some(sorted(layout.get_subjects()), most=10)} '
                '(--participant-label takes labels without sub-)'
            )
        if missing:
            logger.warning('participants not found, left out: %s', ', '.join(missing))
    wanted_sessions = [s.removeprefix('ses-') for s in session_labels or []]
    pairs: list[tuple[str, str | None]] = []
    for subject in subjects:
        sessions = sorted(layout.get_sessions(subject=subject)) or [None]
        if wanted_sessions:
            sessions = [s for s in sessions if s in wanted_sessions]
        pairs.extend((subject, session) for session in sessions)
    if not pairs:
        raise DatasetError(
            f'no session {", ".join(wanted_sessions)} for the selected participants '
            f'in {layout.root}'
        )
    return pairs


def discover(
    layout: BIDSLayout,
    *,
    participant_labels: Sequence[str] | None = None,
    session_labels: Sequence[str] | None = None,
    bids_filters: Mapping[str, Mapping[str, Any]] | None = None,
    ignore: Iterable[Slot] = (),
) -> list[Unit]:
    """Every selected subject/session with its slots (see :func:`assign_slots`).

    A folder whose label BIDS does not allow (``sub-a b``) is a failed unit of its own, never
    merged with another subject nor dropped (:func:`bids_app.dataset_checks.invalid_labels`).
    """
    invalid = _invalid_units(Path(layout.root), participant_labels, session_labels)
    named = {u.subject for u in invalid if u.session is None}
    wanted = [p for p in participant_labels or [] if p.removeprefix('sub-') not in named]
    pairs = []
    if not invalid or (layout.get_subjects() and (wanted or not participant_labels)):
        pairs = select_units(layout, wanted, session_labels)
    units = [
        assign_slots(layout, subject, session, bids_filters=bids_filters, ignore=ignore)
        for subject, session in pairs
    ]
    units += invalid
    _check_filters_match(units, bids_filters or {}, layout.root, ignore)
    for unit in units:
        for note in unit.notes:
            logger.log(25, '%s: %s', unit.name, note)
        for warning in unit.warnings:
            logger.warning('%s: %s', unit.name, warning)
        if unit.skip_reason:
            logger.warning('%s skipped: %s', unit.name, unit.skip_reason)
        if unit.error:
            logger.error('%s fails: %s', unit.name, unit.error)
    return units


def _invalid_units(
    root: Path, participant_labels: Sequence[str] | None, session_labels: Sequence[str] | None
) -> list[Unit]:
    """A failed unit per selected folder with an invalid label."""
    subjects = {label.removeprefix('sub-') for label in participant_labels or []}
    sessions = {label.removeprefix('ses-') for label in session_labels or []}
    return [
        Unit(subject=bad.subject, session=bad.session, error=bad.message)
        for bad in invalid_labels(root)
        if (not subjects or bad.subject in subjects)
        and (not sessions or bad.session is None or bad.session in sessions)
    ]


def _check_filters_match(
    units: Sequence[Unit],
    bids_filters: Mapping[str, Mapping[str, Any]],
    root: Path,
    ignore: Iterable[Slot],
) -> None:
    """A filter that selects nothing is a typo: an error for T2Sag, else a warning."""
    for slot, query in bids_filters.items():
        if slot in set(ignore) or any(slot in unit.slots for unit in units):
            continue
        what = f'the {slot} query {json.dumps(query)} of --bids-filter-file'
        if slot == Slot.T2Sag:
            raise DatasetError(
                f'{what} matches no image of the selected subjects in {root}; fix its entities '
                '(compare them with the file names; --dry-run without the filter shows them)'
            )
        logger.warning('%s matches no image; %s is left out everywhere', what, slot)


def format_table(units: Sequence[Unit], root: Path) -> str:
    """The ``--dry-run`` table: subject, session, slot, files (relative to ``root``)."""
    rows = [('subject', 'session', 'slot', 'files')]
    for unit in units:
        session = unit.session or 'n/a'
        for slot, paths in unit.slots.items():
            files = ' + '.join(str(p.relative_to(root)) for p in paths)
            rows.append((unit.subject, session, str(slot), files))
        if unit.skip_reason:
            rows.append((unit.subject, session, '-', f'SKIPPED: {unit.skip_reason}'))
        if unit.error:
            rows.append((unit.subject, session, '-', f'FAILS: {unit.error}'))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return '\n'.join(
        '  '.join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + '  '
        + row[3]
        for row in rows
    )
