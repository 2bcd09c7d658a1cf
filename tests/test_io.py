"""Image reading for the interfaces: masks may be empty, images may not."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from bids_app.errors import InputImageError
from bids_app.interfaces.io import load_image, load_mask, save_image


def test_empty_mask_is_a_lesion_free_subject_not_an_error(tmp_path):
    path = tmp_path / 'sub-01_acq-sag_T2w_label-lesion_seg.nii.gz'
    nib.Nifti1Image(np.zeros((3, 4, 5), np.uint8), np.eye(4)).to_filename(path)
    mask, _ = load_mask(path)
    assert mask.shape == (3, 4, 5)
    assert not mask.any()
    with pytest.raises(InputImageError, match='every voxel is zero'):
        load_image(path)


def test_soft_mask_is_cut_at_one_half(tmp_path):
    path = tmp_path / 'soft.nii.gz'
    values = np.array([0.2, 0.5, 0.9], np.float32).reshape(3, 1, 1)
    nib.Nifti1Image(np.broadcast_to(values, (3, 2, 2)).copy(), np.eye(4)).to_filename(path)
    mask, _ = load_mask(path)
    assert mask[:, 0, 0].tolist() == [False, True, True]


def test_broken_link_names_the_file_and_datalad(tmp_path):
    link = tmp_path / 'sub-01_T2w.nii.gz'
    link.symlink_to(tmp_path / 'annex' / 'missing')
    with pytest.raises(InputImageError, match=r'broken link.*datalad get'):
        load_image(link)


def test_save_image_is_atomic_and_keeps_the_affine(tmp_path):
    affine = np.diag([0.5, 0.5, 3.0, 1.0])
    path = save_image(np.ones((2, 2, 2), np.float32), affine, tmp_path / 'a' / 'x.nii.gz')
    assert np.allclose(nib.load(path).affine, affine)
    assert [p.name for p in path.parent.iterdir()] == ['x.nii.gz']
    assert path.stat().st_mode & 0o044  # readable by others under the usual umask
