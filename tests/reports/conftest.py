"""A synthetic unit as the pipeline writes it: straight cord, two lesions, T2Sag + axial T2*w.

Geometry (world RAS+ mm): the cord is a cylinder of radius 4 mm along x = y = 0. The T2Sag is
sagittal (3 x 0.8 x 0.8 mm voxels) over z in [-40, 40); the T2starAx is axial (0.5 x 0.5 x 4 mm)
over z in [0, 40) only. Lesion 1 is a 2.4 mm ball at z = 20 mm (both sequences see it), lesion 2
one at z = -25 mm (outside the T2starAx field of view).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.centerline.base import Centerline
from bids_app.derivatives import write_tsv
from bids_app.frame import build_cord_frame
from bids_app.lesions import COLUMNS, label_lesions, lesion_table
from bids_app.reports import UnitReport
from bids_app.slots import Slot

LESIONS_XYZ_MM = ((0.0, 0.0, 20.0), (0.0, 0.0, -25.0))
LESION_RADIUS_MM = 2.4


def _grid(shape: tuple[int, int, int], zooms: tuple[float, float, float], z0: float) -> np.ndarray:
    """RAS affine whose voxel grid is centred on x = y = 0 and starts at world z = z0."""
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = (-(shape[0] - 1) * zooms[0] / 2, -(shape[1] - 1) * zooms[1] / 2, z0)
    return affine


def _world(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    ijk = np.indices(shape).reshape(3, -1)
    return (affine[:3, :3] @ ijk + affine[:3, 3:4]).reshape(3, *shape)


def _image(shape, affine, *, cord: float, lesion: float, with_lesions: bool) -> np.ndarray:
    x, y, z = _world(shape, affine)
    data = np.full(shape, 100.0, dtype=np.float32)
    data[x**2 + y**2 < 4.0**2] = cord
    if with_lesions:
        for cx, cy, cz in LESIONS_XYZ_MM:
            data[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < LESION_RADIUS_MM**2] = lesion
    return data


def _centerline(z_low: float, z_high: float) -> Centerline:
    xyz = np.array([[0.0, 0.0, z_low], [0.0, 0.0, z_high]])
    return Centerline(xyz, np.ones(2), (z_low, z_high))


def write_unit(
    folder: Path, subject: str = '01', session: str | None = 'M0', *, lesions: bool = True
) -> UnitReport:
    """Write one synthetic unit's files under ``folder`` and describe them."""
    label = f'sub-{subject}' + (f'_ses-{session}' if session else '')
    folder.mkdir(parents=True, exist_ok=True)
    t2_shape, t2_affine = (9, 40, 100), _grid((9, 40, 100), (3.0, 0.8, 0.8), -40.0)
    ax_shape, ax_affine = (64, 64, 10), _grid((64, 64, 10), (0.5, 0.5, 4.0), 0.0)
    t2 = _image(t2_shape, t2_affine, cord=300, lesion=500, with_lesions=lesions)
    ax = _image(ax_shape, ax_affine, cord=200, lesion=450, with_lesions=lesions)
    paths = {
        Slot.T2Sag: folder / f'{label}_acq-sag_T2w.nii.gz',
        Slot.T2starAx: folder / f'{label}_acq-ax_T2starw.nii.gz',
    }
    nib.Nifti1Image(t2, t2_affine).to_filename(paths[Slot.T2Sag])
    nib.Nifti1Image(ax, ax_affine).to_filename(paths[Slot.T2starAx])
    frame = build_cord_frame(
        {Slot.T2Sag: (t2, t2_affine), Slot.T2starAx: (ax, ax_affine)},
        {Slot.T2Sag: _centerline(-40.0, 39.2), Slot.T2starAx: _centerline(0.0, 36.0)},
        providers={Slot.T2Sag: 'builtin', Slot.T2starAx: 'builtin'},
    )
    frame_path = frame.save(folder / f'{label}_cordframe.npz')
    mask = t2 == 500
    labels, _ = label_lesions(mask, t2_affine)
    dseg = folder / f'{label}_acq-sag_desc-lesions_dseg.nii.gz'
    nib.Nifti1Image(labels.astype(np.int16), t2_affine).to_filename(dseg)
    rows = [m.to_row() for m in lesion_table(labels, t2_affine, field_of_view=t2 > 0)]
    table = write_tsv(folder / f'{label}_acq-sag_desc-lesions_dseg.tsv', rows, list(COLUMNS))
    centerlines = {}
    for slot in frame.slots:
        xyz = frame.centerlines[slot]
        rows_xyz = [{'x': a, 'y': b, 'z': c} for a, b, c in xyz]
        centerlines[slot] = write_tsv(folder / f'{slot}_centerline.tsv', rows_xyz, ['x', 'y', 'z'])
    probability = np.zeros(frame.crops[Slot.T2Sag].shape, dtype=np.float32)
    probability[frame.crops[Slot.T2Sag] > 400] = 0.9
    return UnitReport(
        subject=subject,
        session=session,
        t2sag=paths[Slot.T2Sag],
        sources={slot: (path,) for slot, path in paths.items()},
        centerlines=centerlines,
        cordframe=frame_path,
        frame_probability=probability,
        dseg=dseg,
        lesion_table=table,
        provenance={
            'software_version': '0.1.0',
            'command_line': ['sclesion', 'bids', 'out', 'participant'],
            'run_uuid': '20240101-100000_test',
            'start_time': '2024-01-01T10:00:00',
            'end_time': '2024-01-01T10:01:30',
            'model': {'name': 'walsh2024-mean', 'sha256': '0123456789abcdef' * 4},
            'threshold': 0.5,
            'options': {'tta': False},
        },
    )


@pytest.fixture
def synthetic_unit(tmp_path: Path) -> Callable[..., UnitReport]:
    """Factory: ``synthetic_unit(subject='01', session='M0', lesions=True)``."""

    def make(subject: str = '01', session: str | None = 'M0', *, lesions: bool = True):
        return write_unit(tmp_path / 'derivatives-in' / f'{subject}-{session}', subject, session,
                          lesions=lesions)  # fmt: skip

    return make
