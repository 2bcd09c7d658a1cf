"""Reference labels onto the output grid: same grid, other grid, and T2Sag chunks fused again."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.discovery import Unit
from bids_app.errors import GeometryError
from bids_app.group.collect import Status, UnitRecord
from bids_app.group.evaluate import (
    find_references,
    reference_on_grid,
    resample_nearest,
    unit_metrics,
)
from bids_app.slots import Slot

CHUNK_SHAPE = (6, 16, 20)
#: Sagittal slabs, 2 x 1 x 1 mm: the lower covers world z 0-19 mm, the upper z 10-29 mm.
LOWER = np.diag([2.0, 1.0, 1.0, 1.0])
UPPER = LOWER + np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 10.0], [0, 0, 0, 0]])


def _anatomy(affine: np.ndarray) -> np.ndarray:
    """Smooth intensities defined in world mm, identical where the slabs overlap."""
    ijk = np.indices(CHUNK_SHAPE).reshape(3, -1)
    x, y, z = (affine[:3, :3] @ ijk + affine[:3, 3:4]).reshape(3, *CHUNK_SHAPE)
    return (
        100 * np.exp(-((y - 8) ** 2) / 20) * (1.5 + np.sin(z / 3)) + 50 * np.cos(x / 3)
    ).astype(np.float32)


def _label(local_k) -> np.ndarray:
    label = np.zeros(CHUNK_SHAPE, dtype=np.uint8)
    label[3, 8, list(local_k)] = 1
    return label


def _save(data, affine, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(data, affine).to_filename(path)
    return path


@pytest.fixture
def chunked(tmp_path: Path):
    """Two T2Sag chunks and their labels: lesions at world z 2-4 (lower), 12-13 and 24-26."""
    bids, labels = tmp_path / 'bids', tmp_path / 'labels'
    sources = [
        _save(_anatomy(UPPER), UPPER, bids / 'sub-01/anat/sub-01_acq-sag_chunk-1_T2w.nii.gz'),
        _save(_anatomy(LOWER), LOWER, bids / 'sub-01/anat/sub-01_acq-sag_chunk-2_T2w.nii.gz'),
    ]
    # Upper: local k = world z - 10 (overlap lesion 12-13, top lesion 24-26); lower: k = z.
    for source, local_k in zip(sources, ([2, 3, 14, 15, 16], [2, 3, 4]), strict=True):
        affine = UPPER if 'chunk-1' in source.name else LOWER
        name = source.name.replace('.nii.gz', '_label-lesion_seg.nii.gz')
        _save(_label(local_k), affine, labels / 'sub-01/anat' / name)
    return bids, labels, sources


def test_chunk_labels_fused_onto_the_fused_grid(chunked):
    bids, labels, sources = chunked
    unit = Unit(subject='01', session=None, slots={Slot.T2Sag: sources})
    record = UnitRecord(unit, Status.done, None)
    references = find_references(record, bids, labels, None)
    assert [p.name for p in references] == [
        'sub-01_acq-sag_chunk-1_T2w_label-lesion_seg.nii.gz',
        'sub-01_acq-sag_chunk-2_T2w_label-lesion_seg.nii.gz',
    ]
    # Fused grid by hand: the union of both slabs, world z 0-29 mm, 2 x 1 x 1 mm from the origin.
    reference = reference_on_grid(references, sources, (6, 16, 30), LOWER)
    assert sorted(np.argwhere(reference)[:, 2].tolist()) == [2, 3, 4, 12, 13, 24, 25, 26]
    assert set(np.argwhere(reference)[:, 0].tolist()) == {3}

    with pytest.raises(GeometryError, match='not the mask grid'):
        reference_on_grid(references, sources, (6, 16, 29), LOWER)


def test_a_missing_chunk_label_means_no_reference(chunked):
    bids, labels, sources = chunked
    next(labels.rglob('*chunk-2*')).unlink()
    unit = Unit(subject='01', session=None, slots={Slot.T2Sag: sources})
    assert find_references(UnitRecord(unit, Status.done, None), bids, labels, None) is None


def test_label_on_another_grid_resampled_by_nearest_neighbour(tmp_path: Path):
    # Label at 1 mm along z (voxels 2-3, world z 2-3 mm); mask grid at 2 mm from z = 0:
    # mask voxel k is at world z 2k, so only k = 1 (z = 2 mm) falls on the label.
    label = np.zeros((1, 1, 8), dtype=np.uint8)
    label[0, 0, 2:4] = 1
    fine = np.eye(4)
    coarse = np.diag([1.0, 1.0, 2.0, 1.0])
    assert resample_nearest(label, fine, (1, 1, 4), coarse)[0, 0].tolist() == [0, 1, 0, 0]
    path = _save(label, fine, tmp_path / 'label.nii.gz')
    source = tmp_path / 'sub-01_acq-sag_T2w.nii.gz'
    on_grid = reference_on_grid([path], [source], (1, 1, 4), coarse)
    assert on_grid[0, 0].tolist() == [False, True, False, False]


def test_unit_metrics_with_anisotropic_voxels():
    # Voxels 0.5 x 0.5 x 3 mm = 0.75 mm^3. Reference voxels 0-9 (one lesion); prediction voxels
    # 9-11: 1 voxel of 10 inside (10 %: detected), 2 of 3 outside (67 %: not a false positive).
    ref = np.zeros((1, 1, 12), bool)
    ref[0, 0, :10] = True
    pred = np.zeros_like(ref)
    pred[0, 0, 9:] = True
    metrics = unit_metrics(pred, ref, np.diag([0.5, 0.5, 3.0, 1.0]))
    assert metrics['dice'] == pytest.approx(2 * 1 / 13)
    assert (metrics['lesion_tp'], metrics['lesion_fp'], metrics['f1']) == (1, 0, 1.0)
    assert metrics['ref_volume_mm3'] == pytest.approx(7.5)
    assert metrics['volume_difference_mm3'] == pytest.approx(-5.25)
