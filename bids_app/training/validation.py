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

from bids_app.metrics import dice, lesion_wise
from bids_app.model.layout import from_network_layout
from bids_app.model.network import MultiSequenceUNet
from bids_app.postprocess import PostprocessOptions, field_of_view, postprocess
from bids_app.sliding_window import mirror_averaged, sliding_window
from bids_app.training.subjects import TrainingSubject


def predict_subject(
    model: MultiSequenceUNet,
    subject: TrainingSubject,
    device: torch.device,
    *,
    bf16: bool = False,
    tta: bool = False,
) -> NDArray[np.float32]:
    """Lesion probability of one subject, every slot it has, windows of the model's patch.

    Parameters
    ----------
    model : MultiSequenceUNet
        In eval mode.
    tta : bool
        Average the logits with those of the left-right mirror, as the participant level's
        ``--tta`` does (:class:`bids_app.inference.LesionPredictor`).

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
    reads_coverage = config.reads_coverage

    def forward(window: torch.Tensor) -> torch.Tensor:
        batch = window.shape[0]
        coverage = window[:, n_slots:] > 0.5 if reads_coverage else None
        return model(window[:, :n_slots], presence.expand(batch, n_slots), coverage).logits[0]

    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    with torch.inference_mode(), autocast:
        logits = sliding_window(
            mirror_averaged(forward) if tta else forward, volume, config.patch_size[2]
        )
    probability = torch.softmax(logits.float(), dim=0)[1]
    return from_network_layout(probability.cpu().numpy()).astype(np.float32)


def score_subject(
    probability: NDArray[np.float32],
    subject: TrainingSubject,
    options: PostprocessOptions,
) -> dict[str, float | str]:
    """Post-process as the participant level does, then Dice and lesion-wise scores."""
    seen = field_of_view(from_network_layout(c) for c in subject.coverage.values())
    mask = postprocess(
        probability, options, cord_mask=subject.cord, voxel_mm=subject.voxel_mm, seen=seen
    )
    reference = from_network_layout(subject.labels) > 0
    lesions = lesion_wise(mask, reference)
    return {
        'name': subject.name,
        'dice': dice(mask, reference),
        'f1': lesions.f1,
        'sensitivity': lesions.sensitivity,
        'precision': lesions.precision,
        'n_ref': lesions.n_ref,
        'n_pred': lesions.n_pred,
        'tp': lesions.tp,
        'fp': lesions.fp,
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
    """Validation Dice and lesion-wise F1, and their mean: the score that picks the best weights.

    Dice is the mean over subjects with reference lesions: on a lesion-free subject it can only be
    1 or 0, and a handful of those would swing the mean by a tenth on one stray voxel. F1 pools
    the lesion counts of every subject (detected reference lesions, false-positive lesions), so a
    false positive on a lesion-free subject still costs what it costs anywhere else. Rows without
    counts (``n_ref`` and friends) fall back to plain means.

    Examples
    --------
    >>> rows = [{'dice': 0.5, 'n_ref': 2, 'tp': 1, 'n_pred': 2, 'fp': 1},
    ...         {'dice': 0.0, 'n_ref': 0, 'tp': 0, 'n_pred': 1, 'fp': 1}]
    >>> {k: round(v, 6) for k, v in summarise(rows).items()}  # S 1/2, P 1/3 -> F1 0.4
    {'dice': 0.5, 'f1': 0.4, 'score': 0.45}
    >>> summarise([{'dice': 0.5, 'f1': 1.0}, {'dice': 0.7, 'f1': 0.0}])
    {'dice': 0.6, 'f1': 0.5, 'score': 0.55}
    """
    if not rows:
        return {'dice': math.nan, 'f1': math.nan, 'score': math.nan}
    with_lesions = [r for r in rows if r.get('n_ref', 1)] or rows
    mean_dice = float(np.mean([r['dice'] for r in with_lesions]))
    if all('tp' in r for r in rows):
        f1 = pooled_f1(rows)
    else:
        f1 = float(np.mean([r['f1'] for r in rows]))
    return {'dice': mean_dice, 'f1': f1, 'score': (mean_dice + f1) / 2}


def pooled_f1(rows: Sequence[dict[str, float | str]]) -> float:
    """Lesion-wise F1 of the lesion counts summed over subjects (1.0 when both sums are empty).

    >>> round(pooled_f1([{'n_ref': 4, 'tp': 3, 'n_pred': 3, 'fp': 0}]), 6)  # S 3/4, P 1 -> 6/7
    0.857143
    """
    n_ref = sum(int(r['n_ref']) for r in rows)
    n_pred = sum(int(r['n_pred']) for r in rows)
    if n_ref == 0 and n_pred == 0:
        return 1.0
    tp = sum(int(r['tp']) for r in rows)
    correct = n_pred - sum(int(r['fp']) for r in rows)
    if tp == 0 or correct == 0:
        return 0.0
    sensitivity, precision = tp / n_ref, correct / n_pred
    return 2 * sensitivity * precision / (sensitivity + precision)
