"""Second opinion on the dense score: which of its peaks look like a cord from their edges.

The dense score (:mod:`.scores`) rewards any dark spot next to bright tissue, so a ligament
darker than the cord, or a muscle in fat, can outscore the cord. Its few best peaks in each
slice are therefore re-centred on their own edges (:func:`.refine.recentre`) and graded by how
cord-like those edges are: found all round (support), with enough contrast, and, on T2-like
images, with CSF among the brightest tissue of the image. The grade is added back to the dense
score as a small blob at the re-centred position, so that the optimal path prefers places that
pass both tests.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.centerline.grid import WorkingGrid
from bids_app.centerline.refine import EdgeFit, recentre

#: Peaks of the dense score examined per slice.
PEAKS_PER_SLICE = 5
#: Smallest distance between two examined peaks of a slice, in mm.
PEAK_SPACING_MM = 7.0
#: Contrast ``(csf - cord) / (csf + cord)`` at which the contrast factor of the grade reaches 1.
FULL_CONTRAST = 0.3
#: CSF intensity, as a fraction of the image's brightest tissue, at which the brightness
#: factor of a T2-like grade leaves 0 and reaches 1 (CSF is among the brightest tissue).
CSF_BRIGHTNESS = (0.5, 0.9)
#: Gaussian sigma, in mm, of the blob that carries a grade into the dense score.
BLOB_MM = 1.5


def edge_grade(
    fit: EdgeFit, contrast: Literal['T2', 'T1'], bright_level: float
) -> NDArray[np.float64]:
    """How cord-like the edges around each re-centred point are, in [0, 1].

    Support (fraction of opposite ray pairs with an edge) x contrast factor (reaches 1 at
    ``FULL_CONTRAST``) x, for 'T2', CSF brightness factor (``CSF_BRIGHTNESS``).

    Examples
    --------
    >>> fit = EdgeFit(np.zeros((2, 3)), np.array([1.0, 0.5]), np.array([0.3, 0.15]),
    ...               np.array([90.0, 70.0]))
    >>> edge_grade(fit, 'T2', 100.0).round(6).tolist()
    [1.0, 0.125]
    """
    grade = fit.support * np.clip(fit.contrast / FULL_CONTRAST, 0.0, 1.0)
    if contrast == 'T2':
        brightness = fit.csf / max(bright_level, 1e-12)
        grade = grade * np.clip((brightness - CSF_BRIGHTNESS[0]) / np.ptp(CSF_BRIGHTNESS), 0, 1)
    return grade


def _top_peaks(score: NDArray[np.float32], valid: NDArray[np.bool_], size: int) -> NDArray:
    """(P, 3) grid indices (u, v, w) of the best local maxima of each slice."""
    crest = ndimage.maximum_filter(score, size=(size, size, 1), mode='nearest')
    u, v, w = np.nonzero((score >= crest) & valid & (score > -1.0))
    order = np.lexsort((-score[u, v, w], w))
    u, v, w = u[order], v[order], w[order]
    first = np.searchsorted(w, w, side='left')
    keep = np.arange(len(w)) - first < PEAKS_PER_SLICE
    return np.column_stack([u[keep], v[keep], w[keep]])


def edge_grades(
    score: NDArray[np.float32],
    valid: NDArray[np.bool_],
    grid: WorkingGrid,
    image: NDArray[np.float32],
    affine: NDArray[np.float64],
    contrast: Literal['T2', 'T1'],
    bright_level: float,
) -> NDArray[np.float32]:
    """Grades in [0, 1] of the dense score's best peaks, as blobs on the working grid.

    Parameters
    ----------
    score : (nu, nv, nw) array of float32
        Dense cord score on the working grid.
    valid : (nu, nv, nw) array of bool
        Where the image covers the grid.
    grid : WorkingGrid
        The working grid.
    image : (I, J, K) array of float32
        The (lightly smoothed) image on the grid of ``affine``.
    affine : (4, 4) array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    contrast : {'T2', 'T1'}
        'T2': CSF brighter than the cord; 'T1': darker.
    bright_level : float
        Intensity of the image's brightest tissue (e.g. its 99th percentile), in image units.
    Returns
    -------
    (nu, nv, nw) array of float32
        Sum of Gaussian blobs (sigma ``BLOB_MM``) of height equal to each re-centred peak's
        grade: support x contrast factor (x CSF brightness factor for 'T2').
    """
    hu = grid.spacing_mm[0]
    peaks = _top_peaks(score, valid, max(1, round(PEAK_SPACING_MM / hu)))
    out = np.zeros(score.shape, dtype=np.float32)
    if len(peaks) == 0:
        return out
    homogeneous = np.column_stack([peaks, np.ones(len(peaks))])
    centres = (homogeneous @ grid.vox2world.T)[:, :3]
    axes = (grid.vox2world[:3, :2] / np.asarray(grid.spacing_mm[:2])).T
    fit = recentre(image, affine, centres, axes, contrast)
    grade = edge_grade(fit, contrast, bright_level)
    moved = np.column_stack([fit.xyz_mm, np.ones(len(peaks))]) @ np.linalg.inv(grid.vox2world).T
    uv = np.round(moved[:, :2]).astype(int)
    inside = np.all((uv >= 0) & (uv < np.asarray(score.shape[:2])), axis=1)
    np.maximum.at(out, (uv[inside, 0], uv[inside, 1], peaks[inside, 2]), grade[inside])
    sigma = BLOB_MM / hu
    return (ndimage.gaussian_filter(out, (sigma, sigma, 0)) * 2 * np.pi * sigma**2).astype(
        np.float32
    )
