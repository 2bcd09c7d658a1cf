"""A fake participant-level output with hand-computed answers, written with nibabel.

Every image is a 1 x 1 x 20 line of voxels, affine diag(1, 1, 2): a voxel is 2 mm^3.

- sub-01 (site A): reference voxels 0-3, prediction 2-5 -> Dice 2 * 2 / (4 + 4) = 0.5; the
  reference lesion is 50 % detected (TP), the prediction 50 % outside (not FP): F1 1.0; both
  volumes 8 mm^3. Its lesion table has lesions 10 and 60 mm along the cord.
  Its discs are named: a lesion at C2 (4 mm^3) and one at C3 (4 mm^3).
- sub-02 (site B): reference = prediction = voxels 10-12 -> Dice 1.0, F1 1.0, 6 mm^3 each;
  one lesion 30 mm along the cord; its discs could not be named (levels n/a).
- sub-03: failed (a crash file says ``InputImageError: header unreadable``).
- sub-04: skipped by discovery (no T2Sag).
- sub-05: has a T2Sag but no output and no crash file: not run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.derivatives import SUMMARY_COLUMNS, dataset_description, write_tsv
from bids_app.discovery import Unit
from bids_app.lesions import COLUMNS
from bids_app.slots import Slot

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])
SHAPE = (1, 1, 20)
REFERENCE = {'01': range(0, 4), '02': range(10, 13)}
PREDICTION = {'01': range(2, 6), '02': range(10, 13)}
DISTANCES = {'01': (10.0, 60.0), '02': (30.0,)}
LEVELS = {'01': {'C2': (1, 4.0), 'C3': (1, 4.0)}, '02': None}


def line_mask(voxels) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[0, 0, list(voxels)] = 1
    return mask


def save(mask: np.ndarray, path: Path, affine: np.ndarray = AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(mask, affine).to_filename(path)
    return path


def write_participant_output(
    out: Path, bids_dir: Path, subject: str, prediction, distances=(), session=None, levels=None
) -> None:
    """One finished unit in ``out``, as the participant level writes it."""
    label = f'sub-{subject}' + (f'_ses-{session}' if session else '')
    folder = out / f'sub-{subject}' / (f'ses-{session}' if session else '') / 'anat'
    save(line_mask(prediction), folder / f'{label}_acq-sag_label-lesion_mask.nii.gz')
    rows = [
        {'index': k + 1, 'name': f'lesion {k + 1}', 'volume_mm3': 2.0,
         'distance_along_cord_mm': d}
        for k, d in enumerate(distances)
    ]  # fmt: skip
    write_tsv(folder / f'{label}_acq-sag_desc-lesions_dseg.tsv', rows, list(COLUMNS))
    n = len(prediction)
    summary = {
        'participant_id': f'sub-{subject}',
        'session_id': f'ses-{session}' if session else None,
        'slots_used': 'T2Sag',
        'n_lesions': len(distances),
        'total_volume_mm3': 2.0 * n,
        'centerline_provider': 'T2Sag:builtin',
        'model': 'walsh2024@0123456789ab',
        'threshold': 0.5,
    }
    discs = (
        [{'z_mm': 30.0, 'name': 'C2/C3'}, {'z_mm': 10.0, 'name': 'C3/C4'}]
        if levels
        else [{'z_mm': 30.0, 'name': None}]
    )
    write_tsv(folder / f'{label}_acq-sag_T2w_desc-discs.tsv', discs, ['z_mm', 'name'])
    per_level = [
        {'level': level, 'n_lesions': n, 'volume_mm3': volume}
        for level, (n, volume) in (levels or {}).items()
    ]
    write_tsv(
        folder / f'{label}_desc-levels_summary.tsv',
        per_level,
        ['level', 'n_lesions', 'volume_mm3'],
    )
    path = folder / f'{label}_desc-lesions_summary.tsv'
    write_tsv(path, [summary], list(SUMMARY_COLUMNS))
    (out / f'sub-{subject}.html').write_text('<html><body>report</body></html>')
    (out / 'dataset_description.json').write_text(json.dumps(dataset_description(bids_dir)))


@dataclass
class FakeStudy:
    bids_dir: Path
    out: Path
    labels: Path
    units: list[Unit]


def write_study(root: Path) -> FakeStudy:
    bids_dir, out, labels = root / 'bids', root / 'out', root / 'bids' / 'derivatives' / 'labels'
    bids_dir.mkdir(parents=True)
    (bids_dir / 'dataset_description.json').write_text('{"Name": "x", "BIDSVersion": "1.10.0"}')
    (bids_dir / 'participants.tsv').write_text(
        'participant_id\tsite\tage\nsub-01\tA\t30\nsub-02\tB\t40\nsub-03\tA\tn/a\n'
    )
    units = []
    for subject in ('01', '02', '03', '05'):
        t2 = save(line_mask([]), bids_dir / f'sub-{subject}/anat/sub-{subject}_acq-sag_T2w.nii.gz')
        units.append(Unit(subject=subject, session=None, slots={Slot.T2Sag: [t2]}))
    units.insert(3, Unit(subject='04', session=None, skip_reason='no sagittal T2w (T2Sag) found'))
    for subject in ('01', '02'):
        write_participant_output(
            out, bids_dir, subject, PREDICTION[subject], DISTANCES[subject], levels=LEVELS[subject]
        )
        stem = f'sub-{subject}/anat/sub-{subject}_acq-sag_T2w_label-lesion_seg.nii.gz'
        save(line_mask(REFERENCE[subject]), labels / stem)
    crash = out / 'sub-03' / 'log' / '20240101-100000_abc' / 'crash-20240101-node.txt'
    crash.parent.mkdir(parents=True)
    crash.write_text(
        'Node: x\nTraceback (most recent call last):\nInputImageError: header unreadable\n'
    )
    return FakeStudy(bids_dir, out, labels, units)


@pytest.fixture
def study(tmp_path: Path) -> FakeStudy:
    return write_study(tmp_path)


@pytest.fixture
def other_output(study: FakeStudy) -> Callable[[str], Path]:
    """Factory: a second output folder where every prediction equals the reference."""

    def make(name: str = 'perfect') -> Path:
        folder = study.out.parent / name
        for subject in ('01', '02'):
            write_participant_output(folder, study.bids_dir, subject, REFERENCE[subject])
        return folder

    return make


@pytest.fixture
def session_units(study: FakeStudy) -> list[Unit]:
    """sub-06 with two sessions: reference voxels 0-3 in both; predicted 2-5 (M0), 0-3 (M12)."""
    units = []
    for session, voxels in (('M0', range(2, 6)), ('M12', range(0, 4))):
        relative = f'sub-06/ses-{session}/anat/sub-06_ses-{session}_acq-sag_T2w.nii.gz'
        t2 = save(line_mask([]), study.bids_dir / relative)
        units.append(Unit(subject='06', session=session, slots={Slot.T2Sag: [t2]}))
        write_participant_output(study.out, study.bids_dir, '06', voxels, session=session)
        label = relative.replace('.nii.gz', '_label-lesion_seg.nii.gz')
        save(line_mask(range(0, 4)), study.labels / label)
    return units
