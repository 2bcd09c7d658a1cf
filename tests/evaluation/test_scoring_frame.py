"""``sclesion-evaluate`` measures lesions in the unit's own cord frame (a model may use another
voxel than the default 0.5 mm): known answers on a hand-made frame."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.config import CordFrameConfig
from bids_app.evaluation.scoring import evaluate_unit
from bids_app.evaluation.subsets import table_rows
from bids_app.frame import CordFrame
from bids_app.postprocess import PostprocessOptions
from bids_app.slots import Slot

SHAPE = (16, 16, 40)


class _Fixed:
    """A predictor that returns one probability map whatever it is given."""

    slots = (Slot.T2Sag,)

    def __init__(self, probability: np.ndarray):
        self.probability = probability

    def predict(self, crops, coverage):
        return self.probability


def _frame(voxel_mm: float) -> CordFrame:
    labels = np.zeros(SHAPE, np.uint8)
    labels[6:10, 6:10, 10:14] = 1  # 64 voxels
    frame = CordFrame(
        z_mm=np.arange(SHAPE[2]) * voxel_mm, config=CordFrameConfig(voxel_mm=voxel_mm)
    )
    frame.crops[Slot.T2Sag] = (1.0 + 2.0 * labels).astype(np.float32)
    frame.coverage[Slot.T2Sag] = np.ones(SHAPE, bool)
    frame.centerlines[Slot.T2Sag] = np.zeros((SHAPE[2], 3))
    frame.labels = labels
    return frame


@pytest.mark.parametrize(('voxel_mm', 'volume_mm3', 'n_pred'), [(0.5, 8.0, 1), (1.0, 64.0, 2)])
def test_volumes_and_smallest_lesion_in_the_frames_voxels(voxel_mm, volume_mm3, n_pred):
    """The reference lesion (64 voxels) and a 2 x 2 x 2 speck (8 voxels, away from it) under a
    smallest kept lesion of 5 mm^3: at 0.5 mm the speck is 1 mm^3 and dropped, at 1 mm 8 mm^3
    and kept."""
    frame = _frame(voxel_mm)
    probability = np.where(frame.labels > 0, 0.9, 0.01).astype(np.float32)
    probability[7:9, 7:9, 30:32] = 0.9
    rows = table_rows((Slot.T2Sag,), {'sub-1': (Slot.T2Sag,)})
    result = evaluate_unit(_Fixed(probability), frame, 'sub-1', rows, PostprocessOptions(0.5, 5.0))
    assert result.volume_mm3.tolist() == [volume_mm3]
    score = result.scores[rows[0].name]
    assert score.n_pred == n_pred
    # Dice: the lesion alone, or the lesion and the 8-voxel speck (2 * 64 / (64 + 72)).
    assert score.dice == pytest.approx(1.0 if n_pred == 1 else 128 / 136)


def test_a_false_lesion_is_listed_with_its_size_confidence_and_place():
    """A speck of 8 voxels, half at 0.95 and half at 0.65, on slices 30-31 of a frame whose
    T2Sag sees slices 0-34: 1 mm^3, peak 0.95, mean 0.8, centred at z = 15.25 mm, 3 slices
    (1.5 mm) from the first unseen slice; the predicted reference lesion is no false lesion."""
    frame = _frame(0.5)
    frame.coverage[Slot.T2Sag][:, :, 35:] = False
    probability = np.where(frame.labels > 0, 0.9, 0.01).astype(np.float32)
    probability[7:9, 7:9, 30] = 0.95
    probability[7:9, 7:9, 31] = 0.65
    rows = table_rows((Slot.T2Sag,), {'sub-1': (Slot.T2Sag,)})
    result = evaluate_unit(_Fixed(probability), frame, 'sub-1', rows, PostprocessOptions(0.5, 0.5))
    (lesion,) = result.scores[rows[0].name].false_lesions
    assert lesion.volume_mm3 == 1.0
    assert lesion.peak_probability == pytest.approx(0.95)
    assert lesion.mean_probability == pytest.approx(0.8)
    assert lesion.z_mm == pytest.approx(15.25)
    assert lesion.mm_to_view_edge == 1.5
