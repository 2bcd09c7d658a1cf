"""From the cord frame back to the native grid: one cord-frame lesion stays one lesion."""

from __future__ import annotations

import numpy as np

from bids_app.frame import CordFrame
from bids_app.lesions import label_lesions, number_superior_first
from bids_app.native import to_native
from bids_app.slots import Slot

N, Z = 48, 41


def _frame() -> CordFrame:
    """A straight cord along world z at x = y = 0, slices every 0.5 mm from -10 to +10 mm."""
    z = np.arange(Z) * 0.5 - 10.0
    return CordFrame(
        z_mm=z,
        crops={Slot.T2Sag: np.zeros((N, N, Z), np.float32)},
        centerlines={Slot.T2Sag: np.column_stack([np.zeros(Z), np.zeros(Z), z])},
        coverage={Slot.T2Sag: np.ones((N, N, Z), bool)},
    )


def _ball(centre_ijk, radius_vox) -> np.ndarray:
    ijk = np.indices((N, N, Z)).transpose(1, 2, 3, 0)
    return np.linalg.norm(ijk - np.asarray(centre_ijk), axis=-1) <= radius_vox


def test_a_lesion_cut_in_pieces_by_3mm_sagittal_slices_stays_one_lesion():
    """Two balls at x = -3 and +3 mm joined by a one-voxel bridge: one cord-frame component.

    On a sagittal grid of 3 mm slices at x = ..., -3, 0, 3, ... the balls fall on two slices and
    the bridge (a quarter of a voxel at every sample of the x = 0 slice: half a voxel off in y and
    in z) is lost, so the native mask has two pieces two slices apart. Crop index i = 23.5 - x /
    0.5 (LAS), j = 23.5 + y / 0.5, k = (z + 10) / 0.5.
    """
    mask = _ball((29.5, 23.5, 20), 4) | _ball((17.5, 23.5, 20), 4)
    mask[17:31, 23, 20] = True
    mask |= _ball((23.5, 23.5, 34), 3)  # a second lesion, 7 mm higher
    affine = np.diag([3.0, 0.5, 0.5, 1.0])
    affine[:3, 3] = [-9.0, -12.0, -9.75]  # y samples on crop half-voxels, z half a slice off
    native = to_native(_frame(), mask.astype(np.float32), mask, (7, 49, 39), affine)
    _, n_pieces = label_lesions(native.mask, affine)
    assert n_pieces == 3  # what numbering the native mask's own components would say
    labels, n = number_superior_first(native.lesions, affine)
    assert n == 2
    assert (labels > 0).sum() == native.mask.sum()
    high = labels == 1  # superior-most first: the single ball at z = +7 mm
    assert np.ptp(np.nonzero(high)[0]) == 0
    assert set(np.unique(np.nonzero(labels == 2)[0])) == {2, 4}  # both pieces: x = -3 and +3
