"""Gather each unit's outputs (and its work files, when still there) for its subject's report."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bids_app import __version__
from bids_app.config import RunConfig
from bids_app.derivatives import (
    centerline_name,
    derived_name,
    held_elsewhere,
    split_source,
    summary_path,
    unit_folder,
    unit_lock,
)
from bids_app.discovery import Unit
from bids_app.reports.subject import write_subject_report
from bids_app.reports.unit import UnitReport
from bids_app.slots import Slot

logger = logging.getLogger(__name__)


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def unit_report(
    unit: Unit,
    config: RunConfig,
    *,
    work_unit_dir: Path | None,
    provenance: Mapping[str, Any],
    errors: Sequence[str] = (),
) -> UnitReport:
    """The :class:`UnitReport` of one unit from its derivatives in ``config.output_dir``.

    ``work_unit_dir`` is the unit's Nipype folder (``<work>/sclesion_X_Y_wf/sub_..._wf``): the
    cord frame and the frame probability come from there when it still exists.
    """
    folder = config.output_dir / unit_folder(unit.subject, unit.session)
    t2sag = unit.slots[Slot.T2Sag]
    base = t2sag[0]

    def out(**entities: str) -> Path | None:
        return _existing(folder / derived_name(base, **entities))

    fused = out(suffix=split_source(base)[1], extension='.nii.gz', desc='preproc')
    probseg = out(suffix='probseg', extension='.nii.gz', label='lesion')
    model: dict[str, str] = {}
    if probseg:
        card = json.loads(probseg.with_name(probseg.name.replace('.nii.gz', '.json')).read_text())
        model = {'name': card['Model']['Name'], 'sha256': card['Model']['SHA256']}
    cordframe = prediction = None
    if work_unit_dir is not None:
        cordframe = _existing(work_unit_dir / 'preproc_wf' / 'cordframe' / 'cordframe.npz')
        prediction = _existing(work_unit_dir / 'predict' / 'prediction.npz')
    return UnitReport(
        subject=unit.subject,
        session=unit.session,
        t2sag=fused or base,
        sources={slot: tuple(paths) for slot, paths in unit.slots.items()},
        centerlines={
            slot: folder / centerline_name(paths[0])
            for slot, paths in unit.slots.items()
            if (folder / centerline_name(paths[0])).exists()
        },
        cordframe=cordframe,
        frame_probability=prediction,
        probseg=probseg,
        mask=out(suffix='mask', extension='.nii.gz', label='lesion'),
        dseg=out(suffix='dseg', extension='.nii.gz', desc='lesions'),
        lesion_table=out(suffix='dseg', extension='.tsv', desc='lesions'),
        summary=_existing(summary_path(config.output_dir, unit.subject, unit.session)),
        discs=out(suffix='', extension='.tsv', keep_suffix=True, desc='discs'),
        provenance={**provenance, 'model': model},
        errors=tuple(errors),
    )


def provenance(config: RunConfig, started: datetime) -> dict[str, Any]:
    """What the About section says of this run."""
    return {
        'software_version': __version__,
        'command_line': list(config.command_line),
        'run_uuid': config.run_uuid,
        'start_time': started.isoformat(timespec='seconds'),
        'end_time': datetime.now().isoformat(timespec='seconds'),
        'threshold': config.threshold,
        'options': {
            'centerline': config.centerline,
            'device': config.device,
            'tta': "the model card's" if config.tta is None else config.tta,
            'bf16': config.bf16,
            'nprocs': config.nprocs,
            'omp_nthreads': config.omp_nthreads,
        },
    }


def write_reports(
    units: Sequence[Unit],
    outcomes: Mapping[str, str | None],
    config: RunConfig,
    *,
    work_dir_of: Mapping[str, Path],
    started: datetime,
) -> list[str]:
    """One report per subject of the units that ran; returns the subjects whose report failed.

    A failed report leaves its traceback in ``logs/report-<run_uuid>-<subject>.err``.
    """
    by_subject: dict[str, list[Unit]] = {}
    for unit in units:
        if unit.name not in outcomes:
            continue
        if held_elsewhere(unit_lock(config.output_dir, unit.subject, unit.session)):
            logger.info('%s: another process holds it; its report is left to that one', unit.name)
            continue
        by_subject.setdefault(unit.subject, []).append(unit)
    info = provenance(config, started)
    failed = []
    for subject, subject_units in sorted(by_subject.items()):
        try:
            reports = [
                unit_report(
                    unit,
                    config,
                    work_unit_dir=work_dir_of.get(unit.name),
                    provenance=info,
                    errors=[outcomes[unit.name]] if outcomes[unit.name] else [],
                )
                for unit in subject_units
                if Slot.T2Sag in unit.slots
            ]
            if reports:
                path = write_subject_report(config.output_dir, subject, reports)
                logger.info('report: %s', path)
        except Exception as exc:  # a failed report must never hide the other subjects' outputs
            err = config.output_dir / 'logs' / f'report-{config.run_uuid}-sub-{subject}.err'
            err.parent.mkdir(parents=True, exist_ok=True)
            err.write_text(traceback.format_exc())
            logger.error('sub-%s: the report failed (%s); traceback in %s', subject, exc, err)
            failed.append(subject)
    return failed
