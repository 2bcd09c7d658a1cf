"""Validation on whole cord frames: sliding window along z, post-processing, Dice and lesion F1.

Scores are computed in the cord frame (48 x 48 x Z at 0.5 mm, the T2Sag path), where training
sees the reference; the participant level scores on the native T2Sag grid instead, so its numbers
differ slightly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from numpy.typing import NDArray

from bids_app.inference import sliding_window
from bids_app.metrics import dice, lesion_wise
from bids_app.model.layout import from_network_layout
from bids_app.model.network import MultiSequenceUNet
from bids_app.postprocess import PostprocessOptions, postprocess
from bids_app.training.subjects import TrainingSubject


def predict_subject(
    model: MultiSequenceUNet,
    subject: TrainingSubject,
    device: torch.device,
    *,
    bf16: bool = False,
) -> NDArray[np.float32]:
    """Lesion probability of one subject, every slot it has, windows of the model's patch.

    Parameters
    ----------
    model : MultiSequenceUNet
        In eval mode.

    Returns
    -------
    ndarray of float32, shape (X, Y, Z)
        In the cord frame's own axes (nibabel ``LAS``).
    """
    config = model.config
    n_slots = len(config.slots)
    shape = subject.labels.shape
    volume = torch.zeros((2 * n_slots, *shape), dtype=torch.float32)
    presence = torch.zeros(n_slots, dtype=torch.bool)
    for slot, crop in subject.images.items():
        volume[slot] = torch.from_numpy(crop)
        volume[n_slots + slot] = torch.from_numpy(subject.coverage[slot].astype(np.float32))
        presence[slot] = True
    volume, presence = volume.to(device), presence.to(device)
    with_coverage = config.imputation == 'coverage'

    def forward(window: torch.Tensor) -> torch.Tensor:
        batch = window.shape[0]
        coverage = window[:, n_slots:] > 0.5 if with_coverage else None
        return model(window[:, :n_slots], presence.expand(batch, n_slots), coverage).logits[0]

    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    with torch.inference_mode(), autocast:
        logits = sliding_window(forward, volume, config.patch_size[2])
    probability = torch.softmax(logits.float(), dim=0)[1]
    return from_network_layout(probability.cpu().numpy()).astype(np.float32)


def score_subject(
    probability: NDArray[np.float32],
    subject: TrainingSubject,
    options: PostprocessOptions,
) -> dict[str, float | str]:
    """Post-process as the participant level does, then Dice and lesion-wise scores."""
    mask = postprocess(probability, options, cord_mask=subject.cord)
    reference = from_network_layout(subject.labels) > 0
    lesions = lesion_wise(mask, reference)
    return {
        'name': subject.name,
        'dice': dice(mask, reference),
        'f1': lesions.f1,
        'sensitivity': lesions.sensitivity,
        'precision': lesions.precision,
    }


def validate(
    model: MultiSequenceUNet,
    subjects: Sequence[TrainingSubject],
    device: torch.device,
    *,
    bf16: bool = False,
    options: PostprocessOptions | None = None,
) -> list[dict[str, float | str]]:
    """Score every subject (the model is put in eval mode, then back in its former mode)."""
    was_training = model.training
    model.eval()
    try:
        return [
            score_subject(
                predict_subject(model, s, device, bf16=bf16), s, options or PostprocessOptions()
            )
            for s in subjects
        ]
    finally:
        model.train(was_training)


def summarise(rows: Sequence[dict[str, float | str]]) -> dict[str, float]:
    """Mean Dice and F1 over subjects, and their mean (the score that picks the best checkpoint).

    Examples
    --------
    >>> summarise([{'dice': 0.5, 'f1': 1.0}, {'dice': 0.7, 'f1': 0.0}])
    {'dice': 0.6, 'f1': 0.5, 'score': 0.55}
    """
    if not rows:
        return {'dice': math.nan, 'f1': math.nan, 'score': math.nan}
    mean_dice = float(np.mean([r['dice'] for r in rows]))
    mean_f1 = float(np.mean([r['f1'] for r in rows]))
    return {'dice': mean_dice, 'f1': mean_f1, 'score': (mean_dice + mean_f1) / 2}
