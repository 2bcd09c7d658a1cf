"""Image checks: every bad input gives one line naming the file."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from bids_app.errors import InputImageError
from bids_app.image_checks import check_affine, check_image

NAME = 'sub-01_acq-sag_T2w.nii.gz'


def _volume(shape=(4, 5, 6)) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.int16).reshape(shape)


def test_good_image_becomes_float32_3d():
    out = check_image(_volume(), np.eye(4), NAME)
    assert out.dtype == np.float32
    assert_array_equal(out, _volume())


def test_trailing_singletons_are_dropped():
    assert check_image(_volume((4, 5, 6, 1, 1)), np.eye(4), NAME).shape == (4, 5, 6)


def test_nibabel_dataobj_is_accepted():
    img = nib.Nifti1Image(_volume().astype(np.float32), np.diag([0.5, 0.5, 3.0, 1.0]))
    assert check_image(img.dataobj, img.affine, NAME).shape == (4, 5, 6)


@pytest.mark.parametrize(
    ('data', 'message'),
    [
        (np.zeros((4, 5)), r'is 2D \(shape \(4, 5\)\); give a 3D volume'),
        (np.ones((4, 5, 6, 3)), r'is 4D \(shape \(4, 5, 6, 3\)\); give one 3D volume'),
        (np.zeros((4, 0, 6)), r'has no voxels'),
        (np.zeros((4, 5, 6)), r'every voxel is zero'),
        (np.full((4, 5, 6), 3.0), r'every voxel is equal to 3'),
        (np.ones((4, 5, 6), dtype=complex), r'holds complex values'),
    ],
)
def test_bad_shapes_and_values(data, message):
    with pytest.raises(InputImageError, match=f'^{NAME}: {message}'):
        check_image(data, np.eye(4), NAME)


def test_nan_and_inf_are_counted():
    data = _volume().astype(np.float32)
    data[0, 0, :3] = np.nan
    data[1, 1, 1] = np.inf
    with pytest.raises(InputImageError, match=f'^{NAME}: 4 of 120 voxels are NaN or infinite'):
        check_image(data, np.eye(4), NAME)


def test_oversized_image_refused_before_reading():
    with pytest.raises(InputImageError, match='has 120 voxels, more than the 100 accepted'):
        check_image(_volume(), np.eye(4), NAME, max_voxels=100)


@pytest.mark.parametrize(
    ('affine', 'message'),
    [
        (np.eye(3), r'its affine has shape \(3, 3\)'),
        (np.diag([1.0, np.nan, 1.0, 1.0]), 'its affine holds NaN/Inf'),
        (np.diag([0.5, 0.0, 3.0, 1.0]), r'singular affine \(voxel sizes 0.5, 0, 3 mm\)'),
        (
            np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float),
            'singular affine',
        ),
    ],
)
def test_bad_affines(affine, message):
    with pytest.raises(InputImageError, match=f'^{NAME}: {message}'):
        check_affine(affine, NAME)
    with pytest.raises(InputImageError, match=message):
        check_image(_volume(), affine, NAME)
