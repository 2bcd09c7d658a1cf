"""Discs from SCT's ``sct_label_vertebrae``, wrapped with a fake on PATH; the built-in finder
takes over when SCT fails."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from bids_app.frame import CordFrame
from bids_app.interfaces.vertebrae import FindDiscs
from bids_app.phantoms import make_subject
from bids_app.phantoms.subject import subject_seed
from bids_app.slots import Slot


@pytest.fixture
def t2sag(tmp_path):
    """A cervical phantom T2Sag, its cord mask and a cord frame holding its centreline."""
    subject = make_subject(subject_seed(500, 0), small=True, slots=[Slot.T2Sag])
    (image,) = subject.images.values()
    image_file, mask_file = tmp_path / 't2.nii.gz', tmp_path / 't2_seg.nii.gz'
    nib.Nifti1Image(image.data.astype(np.float32), image.affine).to_filename(image_file)
    nib.Nifti1Image(np.ones(image.data.shape, np.uint8), image.affine).to_filename(mask_file)
    xyz = image.centerline_samples()
    z = xyz[:, 2]
    frame = CordFrame(
        z_mm=z,
        crops={Slot.T2Sag: np.zeros((4, 4, len(z)), np.float32)},
        centerlines={Slot.T2Sag: xyz},
        coverage={Slot.T2Sag: np.ones((4, 4, len(z)), bool)},
    )
    return image_file, mask_file, frame.save(tmp_path / 'cordframe.npz')


def _discs(t2sag, tmp_path, monkeypatch, **inputs) -> tuple[list[dict], dict]:
    image_file, _, frame_file = t2sag
    work = tmp_path / 'node'
    work.mkdir()
    monkeypatch.chdir(work)
    node = FindDiscs(t2sag_file=str(image_file), cordframe=str(frame_file), **inputs)
    out = node.run().outputs.out_file
    with open(out) as handle:
        rows = list(csv.DictReader(handle, delimiter='\t'))
    return rows, json.loads(open(out.replace('.tsv', '.json')).read())


def test_sct_discs_are_read_in_its_convention(t2sag, tmp_path, monkeypatch, fake_label_vertebrae):
    image_file, mask_file, _ = t2sag
    rows, sidecar = _discs(t2sag, tmp_path, monkeypatch, cord_mask=str(mask_file), use_sct=True)
    assert sidecar['Provider'] == 'sct'
    assert [row['name'] for row in rows] == ['C2/C3', 'C3/C4']
    img = nib.load(image_file)
    sup = int(np.argmax(np.abs(img.affine[2, :3])))
    spacing = abs(img.affine[2, sup]) * 20  # the fake puts C3/C4 20 voxels below C2/C3
    z = [float(row['z_mm']) for row in rows]
    assert z[0] - z[1] == pytest.approx(spacing, abs=0.01)
    call = fake_label_vertebrae.read_text().split()
    assert call[call.index('-c') + 1] == 't2'
    assert call[call.index('-s') + 1] == str(mask_file)


def test_sct_failing_falls_back_to_the_builtin_finder(
    t2sag, tmp_path, monkeypatch, fake_label_vertebrae
):
    monkeypatch.setenv('FAKE_SCT_FAIL', '1')
    _, mask_file, _ = t2sag
    rows, sidecar = _discs(t2sag, tmp_path, monkeypatch, cord_mask=str(mask_file), use_sct=True)
    assert fake_label_vertebrae.exists()  # SCT was tried
    assert sidecar['Provider'] == 'builtin'
    assert rows[0]['name'] == 'C2/C3'


def test_user_labels_win_over_sct(t2sag, tmp_path, monkeypatch, fake_label_vertebrae):
    image_file, mask_file, _ = t2sag
    img = nib.load(image_file)
    labels = np.zeros(img.shape[:3], np.uint8)
    labels[tuple(s // 2 for s in img.shape[:3])] = 5  # C4/C5 only
    user = tmp_path / 'discs.nii.gz'
    nib.Nifti1Image(labels, img.affine).to_filename(user)
    rows, sidecar = _discs(
        t2sag, tmp_path, monkeypatch, cord_mask=str(mask_file), use_sct=True, disc_labels=str(user)
    )
    assert sidecar['Provider'] == 'labels'
    assert [row['name'] for row in rows] == ['C4/C5']
    assert not fake_label_vertebrae.exists()  # SCT never ran
