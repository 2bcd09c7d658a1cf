"""From the cord frame back to the native T2Sag grid: probabilities, masks, fields of view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.frame import CordFrame
from bids_app.frame_geometry import crop_to_native
from bids_app.lesions import structuring_element
from bids_app.slots import Slot


@dataclass(frozen=True)
class NativeLesions:
    """The prediction on the native T2Sag grid.

    Attributes
    ----------
    probability : (I, J, K) float32
        Lesion probability, 0 outside the cord frame.
    mask : (I, J, K) bool
        The post-processed cord-frame mask mapped back (linear, then >= 0.5).
    lesions : (I, J, K) int32
        Which cord-frame lesion (26-connected component of the cord-frame mask, numbered as
        ``ndimage.label`` does) each mask voxel belongs to, 0 outside the mask: the native grid
        may cut a lesion in pieces (3 mm sagittal slices), and it stays one lesion.
    coverage : dict
        Slot -> (I, J, K) bool, where that slot's field of view reached, for the lesion table.
    """

    probability: NDArray[np.float32]
    mask: NDArray[np.bool_]
    lesions: NDArray[np.int32]
    coverage: dict[Slot, NDArray[np.bool_]]


def to_native(
    frame: CordFrame,
    probability: NDArray[np.floating],
    mask: NDArray[np.bool_],
    shape: tuple[int, int, int],
    vox2world: NDArray[np.float64],
) -> NativeLesions:
    """Map the cord-frame prediction onto the native T2Sag grid ``(shape, vox2world)``.

    The T2Sag centreline defines the frame's position in the T2Sag image, so every volume goes
    back along it (the other slots were sampled along their own centrelines: their crops are
    already aligned with T2Sag's in the frame).
    """
    xy, z_mm = frame.centerlines[Slot.T2Sag][:, :2], frame.z_mm

    def back(values: NDArray, order: int) -> NDArray[np.float32]:
        return crop_to_native(
            np.asarray(values, np.float32),
            xy,
            z_mm,
            shape,
            vox2world,
            order=order,
            frame=frame.config,
        )

    coverage = {slot: back(frame.coverage[slot], 1) >= 0.5 for slot in frame.slots}
    native_mask = back(mask, 1) >= 0.5
    cord_lesions, _ = ndimage.label(mask, structure=structuring_element(26))
    nearest = np.rint(back(cord_lesions, 0)).astype(np.int32)
    return NativeLesions(
        probability=np.clip(back(probability, 1), 0.0, 1.0),
        mask=native_mask,
        lesions=carry_lesions(native_mask, nearest, np.linalg.norm(vox2world[:3, :3], axis=0)),
        coverage=coverage,
    )


def carry_lesions(
    mask: NDArray[np.bool_], nearest: NDArray[np.int32], zooms: NDArray[np.floating]
) -> NDArray[np.int32]:
    """Give each mask voxel the cord-frame lesion mapped onto it.

    ``nearest`` is the cord-frame lesion image mapped back by nearest neighbour; the mask
    (linear interpolation, >= 0.5) can reach a voxel it leaves at 0, which then takes the lesion
    of the closest labelled mask voxel (distances in mm, ``zooms`` per voxel axis). A mask without
    any labelled voxel (a lesion of a voxel or two) falls back to its own connected components.

    Examples
    --------
    >>> mask = np.array([1, 1, 0, 1, 1, 1], bool)[None, None]
    >>> nearest = np.array([5, 0, 0, 5, 0, 2], np.int32)[None, None]
    >>> carry_lesions(mask, nearest, np.ones(3))[0, 0].tolist()
    [5, 5, 0, 5, 5, 2]
    """
    lesions = np.where(mask, nearest, 0).astype(np.int32)
    labelled = lesions > 0
    if not labelled.any():
        return ndimage.label(mask, structure=structuring_element(26))[0].astype(np.int32)
    if (mask & ~labelled).any():
        # Within the mask's bounding box: a whole native volume would cost seconds and GBs.
        box = ndimage.find_objects(mask.astype(np.int8))[0]
        sub, sub_labelled = lesions[box], labelled[box]
        missing = mask[box] & ~sub_labelled
        _, closest = ndimage.distance_transform_edt(
            ~sub_labelled, sampling=np.asarray(zooms, float), return_indices=True
        )
        sub[missing] = sub[tuple(index[missing] for index in closest)]
    return lesions
