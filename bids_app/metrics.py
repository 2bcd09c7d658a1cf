"""Segmentation accuracy against reference labels, as defined by Walsh et al. (MICCAI 2024).

Pure functions on binary masks of one grid (the native T2Sag grid): voxel-wise Dice, lesion-wise
detection (sensitivity, precision, F1) and volume / count agreement. Group statistics over
subjects live in :mod:`bids_app.stats`.

Conventions for empty masks, chosen so that every image gets a Dice and an F1 and group means stay
meaningful:

- Dice and F1 are 1.0 when both masks are empty (nothing to find, nothing wrongly found) and 0.0
  when exactly one is empty, so a model that stays silent on a lesion-free image is rewarded
  and one that hallucinates there is penalised.
- Sensitivity is ``nan`` without reference lesions and precision is ``nan`` without predicted
  lesions: the ratios are undefined there. Averaging them with ``nan`` skipped
  (:func:`bids_app.stats.describe`) gives the mean sensitivity over images that have lesions and
  the mean precision over images where the model found some, which is what the words mean; a
  vacuous 1.0 would instead reward a model on lesion-free images for nothing. nnU-Net likewise
  leaves Dice undefined for two empty masks; we define Dice and F1 there but not the ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.errors import GeometryError
from bids_app.lesions import structuring_element

#: Fractions are compared with this tolerance, so that exactly 10 % counts as detected and exactly
#: 70 % outside does not count as a false positive, whatever the floating-point rounding.
_FRACTION_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LesionWise:
    """Lesion-wise detection counts and scores of one image.

    Attributes
    ----------
    n_ref, n_pred : int
        Connected components in the reference and in the prediction.
    tp : int
        Reference lesions detected (at least ``tp_fraction`` of their voxels predicted).
    fp : int
        Predicted lesions with more than ``fp_fraction`` of their voxels outside the reference.
    fn : int
        Reference lesions not detected, ``n_ref - tp``.
    sensitivity : float
        ``tp / n_ref``; ``nan`` when ``n_ref == 0``.
    precision : float
        ``(n_pred - fp) / n_pred``; ``nan`` when ``n_pred == 0``.
    f1 : float
        ``2 P S / (P + S)`` (0 when ``P + S == 0``); 1.0 when both are empty, 0.0 when exactly
        one is.
    """

    n_ref: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    sensitivity: float
    precision: float
    f1: float


@dataclass(frozen=True)
class VolumeAgreement:
    """Lesion load of a prediction against a reference (differences are prediction - reference).

    Attributes
    ----------
    pred_volume_mm3, ref_volume_mm3, volume_difference_mm3 : float
        Total lesion volumes and their difference, mm^3.
    n_pred, n_ref, count_difference : int
        Lesion counts (connected components) and their difference.
    """

    pred_volume_mm3: float
    ref_volume_mm3: float
    volume_difference_mm3: float
    n_pred: int
    n_ref: int
    count_difference: int


def dice(pred: NDArray, ref: NDArray) -> float:
    """Voxel-wise Dice coefficient ``2 |P & R| / (|P| + |R|)``.

    Parameters
    ----------
    pred, ref : (X, Y, Z) arrays
        Predicted and reference masks on one grid; non-zero voxels are lesion.

    Returns
    -------
    float
        In [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is.

    Examples
    --------
    >>> ref = np.array([1, 1, 1, 1, 0], bool)
    >>> dice(np.array([0, 1, 1, 1, 1], bool), ref)  # 2 * 3 / (4 + 4)
    0.75
    >>> dice(np.zeros(5, bool), np.zeros(5, bool))
    1.0
    """
    pred, ref = _binary_pair(pred, ref)
    total = int(pred.sum()) + int(ref.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(pred & ref)) / total


def lesion_wise(
    pred: NDArray,
    ref: NDArray,
    *,
    tp_fraction: float = 0.10,
    fp_fraction: float = 0.70,
    connectivity: int = 26,
    pred_lesions: NDArray | None = None,
) -> LesionWise:
    """Lesion-wise sensitivity, precision and F1 as in Walsh et al. (MICCAI 2024).

    A reference lesion is a true positive when at least ``tp_fraction`` of its voxels are
    predicted (by any predicted lesion). A predicted lesion is a false positive when more than
    ``fp_fraction`` of its voxels lie outside the reference. Sensitivity counts reference lesions
    and precision counts predicted lesions, so one reference lesion split into two predictions
    gives ``tp = 1`` and two correct predictions. See the module docstring for empty masks.

    Parameters
    ----------
    pred, ref : (X, Y, Z) arrays
        Predicted and reference masks on one grid; non-zero voxels are lesion.
    tp_fraction : float
        Detected fraction of a reference lesion's voxels that makes it a true positive.
    fp_fraction : float
        Fraction of a predicted lesion's voxels outside the reference above which it is a
        false positive.
    connectivity : {6, 18, 26}
        Neighbourhood of the connected components (26: voxels touching by a corner join).
    pred_lesions : (X, Y, Z) int array, optional
        The prediction's lesions as numbered (0 outside, one positive value per lesion whether
        its voxels touch or not: the ``dseg`` output); default: the components of ``pred``.

    Returns
    -------
    LesionWise

    Examples
    --------
    >>> ref = np.zeros((1, 1, 12), bool)
    >>> ref[0, 0, :10] = True
    >>> pred = np.zeros_like(ref)
    >>> pred[0, 0, [0, 1, 9, 10, 11]] = True  # two lesions: 0-1 inside, 9-11 1/3 inside
    >>> result = lesion_wise(pred, ref)
    >>> result.tp, result.fp, result.precision, result.f1
    (1, 0, 1.0, 1.0)
    >>> lesion_wise(pred, ref, pred_lesions=pred.astype(int)).n_pred  # numbered as one lesion
    1
    """
    pred, ref = _binary_pair(pred, ref)
    if pred.ndim != 3:
        raise GeometryError(f'masks must be 3D (X, Y, Z) arrays, got shape {pred.shape}')
    structure = structuring_element(connectivity)
    ref_labels, n_ref = ndimage.label(ref, structure=structure)
    pred_labels, n_pred = _prediction_lesions(pred, pred_lesions, structure)

    ref_size = np.bincount(ref_labels.ravel(), minlength=n_ref + 1)[1:]
    ref_hit = np.bincount(ref_labels[pred], minlength=n_ref + 1)[1:]
    tp = int(np.count_nonzero(ref_hit >= (tp_fraction - _FRACTION_TOLERANCE) * ref_size))

    fp = int(np.count_nonzero(_outside_reference(pred_labels, n_pred, ref, fp_fraction)))

    sensitivity = tp / n_ref if n_ref else math.nan
    precision = (n_pred - fp) / n_pred if n_pred else math.nan
    if n_ref == 0 and n_pred == 0:
        f1 = 1.0
    elif n_ref == 0 or n_pred == 0 or sensitivity + precision == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * sensitivity / (precision + sensitivity)
    return LesionWise(
        n_ref=int(n_ref),
        n_pred=int(n_pred),
        tp=tp,
        fp=fp,
        fn=int(n_ref) - tp,
        sensitivity=sensitivity,
        precision=precision,
        f1=f1,
    )


def volume_agreement(
    pred: NDArray,
    ref: NDArray,
    vox2world: NDArray[np.floating],
    *,
    connectivity: int = 26,
    pred_lesions: NDArray | None = None,
) -> VolumeAgreement:
    """Total lesion volume and lesion count of a prediction and a reference, and their differences.

    Parameters
    ----------
    pred, ref : (X, Y, Z) arrays
        Predicted and reference masks on one grid; non-zero voxels are lesion.
    vox2world : (4, 4) array
        Voxel indices ``ijk`` to world mm; the voxel volume is ``|det vox2world[:3, :3]|``.
    connectivity : {6, 18, 26}
        Neighbourhood used to count lesions.
    pred_lesions : (X, Y, Z) int array, optional
        The prediction's lesions as numbered, as in :func:`lesion_wise`.

    Returns
    -------
    VolumeAgreement

    Examples
    --------
    >>> pred = np.zeros((2, 2, 4), bool)
    >>> pred[0, 0, :3] = True
    >>> agreement = volume_agreement(pred, np.zeros_like(pred), np.diag([0.5, 0.5, 2.0, 1.0]))
    >>> agreement.volume_difference_mm3, agreement.count_difference
    (1.5, 1)
    """
    pred, ref = _binary_pair(pred, ref)
    linear = np.asarray(vox2world, dtype=float)[:3, :3]
    if linear.shape != (3, 3):
        raise GeometryError(f'vox2world must be a 4x4 affine, got shape {np.shape(vox2world)}')
    voxel_volume = abs(float(np.linalg.det(linear)))
    structure = structuring_element(connectivity)
    n_pred = _prediction_lesions(pred, pred_lesions, structure)[1]
    n_ref = int(ndimage.label(ref, structure=structure)[1])
    pred_volume = int(pred.sum()) * voxel_volume
    ref_volume = int(ref.sum()) * voxel_volume
    return VolumeAgreement(
        pred_volume_mm3=pred_volume,
        ref_volume_mm3=ref_volume,
        volume_difference_mm3=pred_volume - ref_volume,
        n_pred=n_pred,
        n_ref=n_ref,
        count_difference=n_pred - n_ref,
    )


def false_positive_lesions(
    pred: NDArray,
    ref: NDArray,
    *,
    fp_fraction: float = 0.70,
    connectivity: int = 26,
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The predicted lesions that :func:`lesion_wise` counts as false positives.

    Returns
    -------
    labels : (X, Y, Z) int array
        The prediction's connected components, numbered 1..n.
    false : (F,) int array
        The numbers of those with more than ``fp_fraction`` of their voxels outside ``ref``.

    Examples
    --------
    >>> ref = np.zeros((1, 1, 12), bool)
    >>> ref[0, 0, :4] = True
    >>> pred = np.zeros_like(ref)
    >>> pred[0, 0, [1, 2, 8, 9]] = True  # inside, then wholly outside
    >>> false_positive_lesions(pred, ref)[1].tolist()
    [2]
    """
    pred, ref = _binary_pair(pred, ref)
    labels, n_pred = _prediction_lesions(pred, None, structuring_element(connectivity))
    false = np.flatnonzero(_outside_reference(labels, n_pred, ref, fp_fraction)) + 1
    return labels, false


def _outside_reference(
    pred_labels: NDArray[np.intp], n_pred: int, ref: NDArray[np.bool_], fp_fraction: float
) -> NDArray[np.bool_]:
    """(n_pred,) bool: which predicted lesions lie more than ``fp_fraction`` outside ``ref``."""
    pred_size = np.bincount(pred_labels.ravel(), minlength=n_pred + 1)[1:]
    pred_outside = np.bincount(pred_labels[~ref], minlength=n_pred + 1)[1:]
    return pred_outside > (fp_fraction + _FRACTION_TOLERANCE) * pred_size


def _prediction_lesions(
    pred: NDArray[np.bool_], numbered: NDArray | None, structure: NDArray[np.bool_]
) -> tuple[NDArray[np.intp], int]:
    """The prediction's lesions as labels 1..n: ``numbered`` compacted, else its components."""
    if numbered is None:
        labels, n = ndimage.label(pred, structure=structure)
        return labels, int(n)
    numbered = np.asarray(numbered)
    if numbered.shape != pred.shape or not np.array_equal(numbered > 0, pred):
        raise GeometryError('the numbered lesions must cover exactly the predicted mask')
    values, inverse = np.unique(numbered, return_inverse=True)
    labels = inverse.reshape(numbered.shape) + (values[0] > 0)
    return labels, int(np.count_nonzero(values > 0))


def _binary_pair(pred: NDArray, ref: NDArray) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.shape != ref.shape:
        raise GeometryError(
            f'prediction shape {pred.shape} differs from reference shape {ref.shape}; '
            'compare masks on the same (native T2Sag) grid'
        )
    return pred != 0, ref != 0
