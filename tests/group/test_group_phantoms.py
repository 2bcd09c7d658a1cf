"""The group level after a real participant run on phantoms with reference labels (slow)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from bids_app.cli.run import main
from bids_app.dataset_checks import index_dataset
from bids_app.discovery import discover
from bids_app.group import run_group
from bids_app.group.collect import read_tsv


@pytest.mark.slow
def test_group_on_phantoms_with_labels(small_phantoms, tiny_model, tmp_path):
    out, labels = tmp_path / 'out', small_phantoms / 'derivatives' / 'labels'
    argv = [str(small_phantoms), str(out), 'participant', '-w', str(tmp_path / 'work'),
            '--nprocs', '2', '--model', str(tiny_model), '--cord-masks', str(labels),
            '--skip-bids-validation']  # fmt: skip
    assert main(argv) == 0
    units = discover(index_dataset(small_phantoms))
    result = run_group(small_phantoms, out, units, labels_dir=labels, group_by=['sex'])
    assert result.counts['done'] == len(units) == 2
    assert result.n_evaluated == 2
    for row in read_tsv(out / 'group_eval.tsv'):
        # Volumes counted independently: voxels of each file times the voxel volume.
        subject = row['participant_id']
        reference = nib.load(labels / row['reference'])
        mask = nib.load(next((out / subject / 'anat').glob('*_label-lesion_mask.nii.gz')))
        voxel_mm3 = abs(np.linalg.det(reference.affine[:3, :3]))
        ref_mm3 = np.count_nonzero(np.asanyarray(reference.dataobj)) * voxel_mm3
        pred_mm3 = np.count_nonzero(np.asanyarray(mask.dataobj)) * voxel_mm3
        assert float(row['ref_volume_mm3']) == pytest.approx(ref_mm3, rel=1e-5)
        assert float(row['pred_volume_mm3']) == pytest.approx(pred_mm3, rel=1e-5)
        assert int(row['n_ref']) == int(row['lesion_tp']) + int(row['lesion_fn'])
        assert 0.0 <= float(row['dice']) <= 1.0
    table = read_tsv(out / 'group_lesions.tsv')
    assert [r['sex'] is not None for r in table] == [True, True]
    assert 'Bland-Altman' in (out / 'group_lesions.html').read_text()
