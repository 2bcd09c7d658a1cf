"""Whether a sequence's centreline can be trusted, judged against the sagittal T2w's.

Every sequence of a unit is acquired in one scanner space, so its cord lies within a few mm of
the sagittal T2w's (patient motion between series rarely moves it a centimetre). A centreline far
from the T2Sag's, or one the built-in detector is unsure of, crops the wrong tissue: that
sequence would feed the model noise. Such a sequence is left out of inference for the unit (mean
imputation stands in for it), with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from bids_app.slots import Slot

#: Median in-plane distance (mm) from the T2Sag's centreline beyond which a slot is dropped.
MAX_DISTANCE_MM = 10.0
#: Mean confidence of the built-in detector below which a slot is dropped (real images that
#: it places well score 0.26-0.99; a T2*w with its cord blanked 0.02).
MIN_CONFIDENCE = 0.1


def distance_to_t2sag(
    centerline_xyz_mm: NDArray, t2sag_xyz_mm: NDArray, covered: NDArray[np.bool_]
) -> float:
    """Median in-plane distance (mm) between two centrelines on the slices a slot covers.

    Parameters
    ----------
    centerline_xyz_mm, t2sag_xyz_mm : (Z, 3) arrays
        Both on the cord frame's reference slices (world mm).
    covered : (Z,) bool
        Slices where the slot's image has data.

    Examples
    --------
    >>> a = np.zeros((4, 3)); b = np.zeros((4, 3)); b[:, 0] = [3.0, 4.0, 30.0, 30.0]
    >>> distance_to_t2sag(b, a, np.array([True, True, False, False]))
    3.5
    """
    if not covered.any():
        return 0.0
    gap = np.hypot(*(centerline_xyz_mm[covered, :2] - t2sag_xyz_mm[covered, :2]).T)
    return float(np.median(gap))


def untrusted_slots(
    centerlines: Mapping[Slot, NDArray],
    coverage: Mapping[Slot, NDArray[np.bool_]],
    confidence: Mapping[Slot, float],
) -> dict[Slot, str]:
    """Slots whose centreline cannot be trusted, with the reason, one line each.

    Parameters
    ----------
    centerlines : mapping of Slot to (Z, 3) array
        Each slot's smoothed centreline on the reference slices (T2Sag included).
    coverage : mapping of Slot to (N, N, Z) bool
        Each slot's field of view in the cord frame.
    confidence : mapping of Slot to float
        Mean confidence of each slot's centreline points (1 for masks).

    Returns
    -------
    dict of Slot to str
        Empty when every slot can be used; the T2Sag is never dropped.
    """
    reference = centerlines[Slot.T2Sag]
    dropped = {}
    for slot, xyz in centerlines.items():
        if slot == Slot.T2Sag:
            continue
        covered = np.asarray(coverage[slot]).any(axis=(0, 1))
        distance = distance_to_t2sag(xyz, reference, covered)
        if distance > MAX_DISTANCE_MM:
            dropped[slot] = f"its cord centreline lies {distance:.1f} mm from the T2Sag's"
        elif confidence.get(slot, 1.0) < MIN_CONFIDENCE:
            dropped[slot] = f'the centreline detector is unsure of it ({confidence[slot]:.2f})'
    return dropped
