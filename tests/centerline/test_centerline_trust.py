"""Untrusted centrelines: far from the sagittal T2w's or uncertain, and what the app does then."""

from __future__ import annotations

import csv
import shutil

import nibabel as nib
import numpy as np
from scipy import ndimage

from bids_app.centerline.trust import MAX_DISTANCE_MM, untrusted_slots
from bids_app.cli.run import main
from bids_app.slots import Slot


def _line(x_mm: float, n: int = 20) -> np.ndarray:
    xyz = np.zeros((n, 3))
    xyz[:, 0] = x_mm
    xyz[:, 2] = np.arange(n) * 0.5
    return xyz


def test_far_or_uncertain_slots_are_named_with_their_reason():
    covered = np.ones((4, 4, 20), bool)
    centerlines = {
        Slot.T2Sag: _line(0.0),
        Slot.T2starAx: _line(4.0),  # a real shift between series: kept
        Slot.T2Ax: _line(MAX_DISTANCE_MM + 5.0),
        Slot.T1w: _line(1.0),
    }
    coverage = dict.fromkeys(centerlines, covered)
    confidence = {Slot.T2Sag: 0.9, Slot.T2starAx: 0.5, Slot.T2Ax: 0.9, Slot.T1w: 0.05}
    dropped = untrusted_slots(centerlines, coverage, confidence)
    assert set(dropped) == {Slot.T2Ax, Slot.T1w}
    assert '15.0 mm' in dropped[Slot.T2Ax]
    assert 'unsure' in dropped[Slot.T1w]


def test_distance_counts_only_the_slices_a_slot_covers():
    far_outside = _line(0.0)
    far_outside[10:, 0] = 50.0  # beyond the slot's field of view: the extension, not data
    coverage = {Slot.T2Sag: np.ones((4, 4, 20), bool), Slot.T2Ax: np.zeros((4, 4, 20), bool)}
    coverage[Slot.T2Ax][:, :, :10] = True
    centerlines = {Slot.T2Sag: _line(0.0), Slot.T2Ax: far_outside}
    assert untrusted_slots(centerlines, coverage, {}) == {}


def test_a_blanked_cord_is_left_out_with_a_named_warning(sct_example, tiny_model, tmp_path, capfd):
    """errsm30's axial T2*w with its cord region blanked: its sequence is dropped, not used."""
    bids = tmp_path / 'bids'
    shutil.copytree(sct_example, bids, ignore=shutil.ignore_patterns('sub-ms01'))
    star = bids / 'sub-errsm30' / 'anat' / 'sub-errsm30_acq-ax_T2starw.nii.gz'
    mask = nib.load(
        sct_example / 'derivatives' / 'labels' / 'sub-errsm30' / 'anat'
        / 'sub-errsm30_acq-ax_T2starw_label-SC_seg.nii.gz'
    )  # fmt: skip
    image = nib.load(star)
    data = image.get_fdata(dtype=np.float32)
    region = ndimage.binary_dilation(np.asarray(mask.dataobj) > 0, np.ones((25, 25, 1)))
    data[region] = np.median(data[~region])
    nib.Nifti1Image(data, image.affine, image.header).to_filename(star)
    out = tmp_path / 'out'
    argv = [str(bids), str(out), 'participant', '-w', str(tmp_path / 'w'), '--model',
            str(tiny_model), '--skip-bids-validation', '--centerline', 'builtin']  # fmt: skip
    assert main(argv) == 0
    summary = out / 'sub-errsm30' / 'anat' / 'sub-errsm30_desc-lesions_summary.tsv'
    with summary.open() as handle:
        (row,) = list(csv.DictReader(handle, delimiter='\t'))
    assert 'T2starAx' not in row['slots_used'].split(',')
    assert row['slots_dropped'].startswith('T2starAx: ')
    warned = [line for line in capfd.readouterr().err.splitlines() if 'left out of inf' in line]
    assert len(warned) == 1
    assert 'sub-errsm30_acq-ax_T2starw.nii.gz' in warned[0]
    assert '--force-sequences' in warned[0]
