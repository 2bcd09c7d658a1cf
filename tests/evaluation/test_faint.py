"""Reference lesions' T2Sag contrast and their detection, on volumes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.errors import GeometryError
from bids_app.evaluation.faint import classify, detected, reference_lesions
from bids_app.metrics import lesion_wise


def test_contrast_is_lesion_mean_minus_cord_shell_mean():
    image = np.zeros((9, 9, 12))
    cord = np.zeros(image.shape, bool)
    cord[1:8, 1:8, :] = True
    image[cord] = 1.0
    image[~cord] = 5.0  # bright CSF outside the cord must not enter the shell
    labels = np.zeros(image.shape, bool)
    labels[3:6, 3:6, 4:7] = True
    image[labels] = 1.4
    image[3:6, 3:6, 4] = 2.0  # lesion mean = (9 * 2.0 + 18 * 1.4) / 27 = 1.6
    lesions = reference_lesions(image, labels, cord, shell_mm=1.0, voxel_mm=0.5)
    assert lesions.count == 1
    assert lesions.volume_mm3.tolist() == [27 * 0.125]
    assert lesions.contrast[0] == pytest.approx(0.6)


def test_neighbouring_lesion_is_not_part_of_the_shell():
    image = np.ones((5, 5, 12))
    labels = np.zeros(image.shape, bool)
    labels[2, 2, 2:4] = labels[2, 2, 5:7] = True  # one voxel apart
    image[2, 2, 2:4] = 3.0
    image[2, 2, 5:7] = 9.0
    lesions = reference_lesions(image, labels, np.ones(image.shape), shell_mm=1.0)
    assert lesions.contrast.tolist() == [2.0, 8.0]


def test_without_cord_mask_the_shell_is_cut_to_the_centreline_disc():
    image = np.full((12, 12, 10), 7.0)
    i, j = np.meshgrid(np.arange(12) - 5.5, np.arange(12) - 5.5, indexing='ij')
    disc = (i**2 + j**2) * 0.25 <= 2.0**2  # radius 2 mm at 0.5 mm voxels
    image[disc] = 1.0
    labels = np.zeros(image.shape, bool)
    labels[5:7, 5:7, 3:6] = True
    image[labels] = 1.5
    lesions = reference_lesions(image, labels, None, shell_mm=2.0, cord_radius_mm=2.0)
    assert lesions.contrast[0] == pytest.approx(0.5)


def test_lesion_filling_its_cord_is_unclassified():
    image = np.zeros((3, 3, 6))
    labels = np.zeros(image.shape, bool)
    labels[1, 1, 2:4] = True
    lesions = reference_lesions(image, labels, labels)
    assert np.isnan(lesions.contrast[0])
    assert classify(lesions.contrast) == ['unclassified']


def test_threshold_is_strict_below():
    assert classify(np.array([0.49, 0.5, 0.51]), 0.5) == ['faint', 'conspicuous', 'conspicuous']


def test_detected_lesions_count_as_lesion_wise_true_positives():
    labels = np.zeros((10, 10, 30), bool)
    labels[2:5, 2:5, 2:8] = True  # 54 voxels, numbered 1 (scan order: x first)
    labels[2:4, 6:8, 20:28] = True  # 32 voxels, numbered 2
    labels[6:9, 6:9, 12:14] = True  # 18 voxels, numbered 3
    pred = np.zeros_like(labels)
    pred[2, 2, 2:8] = True  # 6 / 54 = 11 %: detected
    pred[2, 6, 20:23] = True  # 3 / 32 = 9.4 %: missed
    pred[0, 0, 0] = True  # a false positive elsewhere
    lesions = reference_lesions(np.zeros(labels.shape), labels, np.ones(labels.shape))
    found = detected(lesions, pred)
    assert found.tolist() == [True, False, False]
    assert int(found.sum()) == lesion_wise(pred, labels).tp


def test_exactly_ten_percent_is_detected():
    labels = np.zeros((1, 1, 20), bool)
    labels[0, 0, :10] = True
    pred = np.zeros_like(labels)
    pred[0, 0, 0] = True
    lesions = reference_lesions(np.zeros(labels.shape), labels, np.ones(labels.shape))
    assert detected(lesions, pred).tolist() == [True]


def test_grids_must_match():
    with pytest.raises(GeometryError, match='one'):
        reference_lesions(np.zeros((4, 4, 4)), np.zeros((4, 4, 5)))
