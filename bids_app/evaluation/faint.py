"""Which reference lesions are faint on the sagittal T2w, and which of them a prediction finds.

All arrays are cord-frame volumes ``(X, Y, Z)``, axes nibabel ``LAS`` (SCT RPI), isotropic
``voxel_mm`` voxels: the T2Sag crop, its reference labels and cord mask on the T2Sag path.

The contrast of a reference lesion (a 26-connected component of the labels) is

    contrast = mean(T2Sag_n over the lesion) - mean(T2Sag_n over its surrounding cord)

where ``T2Sag_n`` is the T2Sag crop z-scored over the voxels it covers
(:func:`bids_app.sliding_window.normalise_intensity`, what the model sees), so the contrast is in
standard deviations of the crop. The surrounding cord is the shell of voxels within
``shell_mm`` of the lesion, outside every reference lesion and inside the cord: the cord mask
where the frame has one, else the disc of ``cord_radius_mm`` around the centreline. A lesion is
*faint* when its contrast is below :data:`FAINT_CONTRAST`, *conspicuous* otherwise, and
*unclassified* when its shell holds no cord voxel (the lesion fills the cord around it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.errors import GeometryError
from bids_app.lesions import structuring_element
from bids_app.postprocess import near_centreline

#: Contrast (crop standard deviations) below which a reference lesion counts as faint on the
#: T2Sag; measured on phantoms, see ``docs/evaluation.md``.
FAINT_CONTRAST = 0.3
#: Thickness of the shell of surrounding cord around each lesion, mm.
SHELL_MM = 1.5
#: Without a cord mask, the cord is taken as this in-plane radius around the centreline, mm.
CORD_RADIUS_MM = 3.0
#: A reference lesion is detected when at least this fraction of its voxels is predicted (as
#: :func:`bids_app.metrics.lesion_wise`); compared with a tolerance of ``1e-9``.
TP_FRACTION = 0.10

FAINT, CONSPICUOUS, UNCLASSIFIED = 'faint', 'conspicuous', 'unclassified'


@dataclass(frozen=True)
class ReferenceLesions:
    """The reference lesions of one cord frame, numbered, with their T2Sag contrast.

    Attributes
    ----------
    labels : (X, Y, Z) int32
        0 outside lesions, ``k`` inside reference lesion ``k`` (1-based, 26-connectivity, in
        :func:`scipy.ndimage.label` order).
    volume_mm3 : (L,) float64
        Volume of each lesion.
    contrast : (L,) float64
        Contrast of each lesion on the T2Sag (crop standard deviations); ``nan`` when
        unclassified.
    """

    labels: NDArray[np.int32]
    volume_mm3: NDArray[np.float64]
    contrast: NDArray[np.float64]

    @property
    def count(self) -> int:
        return len(self.contrast)


def classify(contrast: NDArray[np.floating], faint_contrast: float = FAINT_CONTRAST) -> list[str]:
    """``'faint'``, ``'conspicuous'`` or ``'unclassified'`` (``nan``) for each contrast.

    Examples
    --------
    >>> classify(np.array([0.2, 0.9, np.nan]), 0.5)
    ['faint', 'conspicuous', 'unclassified']
    """
    return [
        UNCLASSIFIED if math.isnan(c) else FAINT if c < faint_contrast else CONSPICUOUS
        for c in np.asarray(contrast, dtype=float)
    ]


def reference_lesions(
    t2sag_normalised: NDArray[np.floating],
    labels: NDArray,
    cord: NDArray | None = None,
    *,
    shell_mm: float = SHELL_MM,
    cord_radius_mm: float = CORD_RADIUS_MM,
    voxel_mm: float = 0.5,
) -> ReferenceLesions:
    """Number the reference lesions and measure each one's contrast on the T2Sag.

    Parameters
    ----------
    t2sag_normalised : (X, Y, Z) array
        T2Sag crop z-scored over its coverage (``normalise_intensity``).
    labels : (X, Y, Z) array
        Reference lesion mask; non-zero is lesion.
    cord : (X, Y, Z) array, optional
        Cord mask; without it, the disc of ``cord_radius_mm`` around the centre column.
    shell_mm : float
        Thickness of the surrounding shell (Euclidean distance to the lesion, mm).
    cord_radius_mm : float
        Radius of the stand-in cord without a mask, mm.
    voxel_mm : float
        Isotropic voxel size of the frame, mm.

    Returns
    -------
    ReferenceLesions

    Examples
    --------
    >>> image = np.zeros((5, 1, 9)); image[2, 0, 3:6] = 1.0
    >>> lesions = reference_lesions(image, image > 0, np.ones_like(image), shell_mm=1.0)
    >>> lesions.count, lesions.volume_mm3.tolist(), lesions.contrast.tolist()
    (1, [0.375], [1.0])
    """
    image = np.asarray(t2sag_normalised, dtype=np.float64)
    reference = np.asarray(labels) != 0
    if image.shape != reference.shape or image.ndim != 3:
        raise GeometryError(
            f'T2Sag crop {image.shape} and reference labels {reference.shape} must be one '
            '(X, Y, Z) cord-frame grid; pre-process them together'
        )
    if cord is None:
        inside = near_centreline(image.shape, cord_radius_mm, voxel_mm)
    else:
        inside = np.asarray(cord) != 0
    numbered, count = ndimage.label(reference, structure=structuring_element(26))
    margin = math.ceil(shell_mm / voxel_mm) + 1
    contrast = np.full(count, math.nan)
    for index, box in enumerate(ndimage.find_objects(numbered), start=1):
        grown = tuple(
            slice(max(s.start - margin, 0), min(s.stop + margin, n))
            for s, n in zip(box, image.shape, strict=True)
        )
        lesion = numbered[grown] == index
        distance = ndimage.distance_transform_edt(~lesion, sampling=voxel_mm)
        shell = (distance > 0) & (distance <= shell_mm) & ~reference[grown] & inside[grown]
        if shell.any():
            contrast[index - 1] = image[grown][lesion].mean() - image[grown][shell].mean()
    sizes = np.bincount(numbered.ravel(), minlength=count + 1)[1:]
    return ReferenceLesions(
        labels=numbered.astype(np.int32),
        volume_mm3=sizes.astype(np.float64) * voxel_mm**3,
        contrast=contrast,
    )


def detected(
    lesions: ReferenceLesions, prediction: NDArray, tp_fraction: float = TP_FRACTION
) -> NDArray[np.bool_]:
    """Whether each reference lesion is detected: at least ``tp_fraction`` of it predicted.

    Parameters
    ----------
    lesions : ReferenceLesions
    prediction : (X, Y, Z) array
        Post-processed predicted mask on the same grid; non-zero is lesion.
    tp_fraction : float
        The definition of :func:`bids_app.metrics.lesion_wise` (Walsh et al.: 10 %).

    Returns
    -------
    (L,) bool

    Examples
    --------
    >>> numbered = np.array([[[1, 1, 1, 1, 0, 2, 2]]], np.int32)
    >>> lesions = ReferenceLesions(numbered, np.ones(2), np.zeros(2))
    >>> detected(lesions, np.array([[[0, 0, 0, 1, 0, 0, 0]]])).tolist()
    [True, False]
    """
    predicted = np.asarray(prediction) != 0
    if predicted.shape != lesions.labels.shape:
        raise GeometryError(
            f'prediction {predicted.shape} and reference labels {lesions.labels.shape} '
            'must be one cord-frame grid'
        )
    sizes = np.bincount(lesions.labels.ravel(), minlength=lesions.count + 1)[1:]
    hits = np.bincount(lesions.labels[predicted], minlength=lesions.count + 1)[1:]
    return hits >= (tp_fraction - 1e-9) * sizes
