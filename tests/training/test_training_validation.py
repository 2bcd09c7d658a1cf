"""Validation predictions: the mirroring test-time augmentation of the participant level."""

from __future__ import annotations

import numpy as np
import torch
from training_frames import TINY_WIDTHS, N, make_frame

from bids_app.model.config import variant_config
from bids_app.model.network import MultiSequenceUNet
from bids_app.slots import Slot
from bids_app.training.subjects import to_training_subject
from bids_app.training.validation import predict_subject

SLOTS = (Slot.T2Sag, Slot.STIR)


def _predict(frame, *, tta: bool) -> np.ndarray:
    torch.manual_seed(0)
    config = variant_config('mean-imputation', widths=TINY_WIDTHS, patch_size=(N, N, 32))
    model = MultiSequenceUNet(config).eval()
    subject = to_training_subject('sub-x', frame, config.slots, (N, N))
    return predict_subject(model, subject, torch.device('cpu'), tta=tta)


def _mirrored(frame):
    """The frame flipped left-right (x, the first axis of its LAS crops)."""
    for slot in SLOTS:
        frame.crops[slot] = frame.crops[slot][::-1].copy()
    return frame


def test_tta_prediction_is_mirror_symmetric_and_differs_from_plain(one_torch_thread) -> None:
    plain = _predict(make_frame(3, SLOTS), tta=False)
    mirrored_plain = _predict(_mirrored(make_frame(3, SLOTS)), tta=False)
    tta = _predict(make_frame(3, SLOTS), tta=True)
    mirrored_tta = _predict(_mirrored(make_frame(3, SLOTS)), tta=True)
    # Averaging a prediction with that of the mirror makes it commute with mirroring (the
    # left-right axis, not another: a wrong flip axis breaks this), ...
    np.testing.assert_allclose(mirrored_tta, tta[::-1], atol=1e-5)
    # ... which an untrained network is not.
    assert not np.allclose(mirrored_plain, plain[::-1], atol=1e-3)
