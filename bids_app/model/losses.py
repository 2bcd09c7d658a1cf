"""Training losses: cross-entropy + soft Dice with deep supervision, and L1 distillation.

Logits are ``(B, n_classes, z, x, y)``; targets are integer class maps ``(B, z, x, y)`` in the same
network layout (class 0 background, 1 lesion).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bids_app.model.config import ModelConfig
from bids_app.model.network import UNetOutput

#: Relative weights of the deep-supervision outputs, finest first (nnU-Net: halves, normalised).
SUPERVISION_WEIGHTS = (2 / 3, 1 / 3)


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, *, smooth: float = 1e-5, batch_dice: bool = False
) -> torch.Tensor:
    """``1 - mean soft Dice`` over the foreground classes (nnU-Net's, without background).

    Parameters
    ----------
    logits : Tensor, shape (B, K, ...)
    target : Tensor of int, shape (B, ...)
    smooth : float
        Added to numerator and denominator (an empty prediction of an empty target scores 1).
    batch_dice : bool
        Pool the sums over the batch before the ratio, instead of per sample.

    Returns
    -------
    Tensor, scalar
    """
    probs = torch.softmax(logits.float(), dim=1)[:, 1:]
    onehot = F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1)[:, 1:].to(probs.dtype)
    dims = tuple(range(2, probs.ndim))
    intersection = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    if batch_dice:
        intersection, total = intersection.sum(0), total.sum(0)
    return 1 - ((2 * intersection + smooth) / (total + smooth)).mean()


def ce_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice loss, as nnU-Net trains (Dice here as ``1 - Dice``, so >= 0)."""
    return F.cross_entropy(logits.float(), target.long()) + soft_dice_loss(logits, target)


def downsample_target(target: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Reduce a label map to a coarser grid by max pooling, so small lesions are not dropped.

    Parameters
    ----------
    target : Tensor of int, shape (B, z, x, y)
    shape : (int, int, int)
        Coarser ``(z, x, y)`` whose sizes divide the target's.
    """
    if tuple(target.shape[1:]) == tuple(shape):
        return target
    kernel = tuple(t // s for t, s in zip(target.shape[1:], shape, strict=True))
    return F.max_pool3d(target[:, None].float(), kernel).squeeze(1).to(target.dtype)


def deep_supervision_loss(logits: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Weighted CE + Dice over the decoder outputs (finest first); one output gets weight 1."""
    weights = SUPERVISION_WEIGHTS[: len(logits)]
    norm = sum(weights)
    return sum(
        w / norm * ce_dice_loss(out, downsample_target(target, tuple(out.shape[2:])))
        for w, out in zip(weights, logits, strict=False)
    )


def distillation_loss(features: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """L1 distance between T2Sag's bottleneck features and each other present slot's (equation 2).

    Per sample with at least two present slots: the mean absolute difference between slot 0
    (T2Sag) and each other present slot, averaged over those slots; then the mean over such
    samples. Gradients reach both sides. Zero when no sample has a second slot.

    Parameters
    ----------
    features : Tensor, shape (B, S, C, z, x, y)
    presence : Tensor of bool, shape (B, S)

    Returns
    -------
    Tensor, scalar
    """
    others = presence[:, 1:].to(features.dtype)
    n_others = others.sum(dim=1)
    if not bool((n_others > 0).any()):
        return features.sum() * 0
    diff = (features[:, 1:] - features[:, :1]).abs().flatten(2).mean(dim=2)  # (B, S-1)
    per_sample = (diff * others).sum(dim=1) / n_others.clamp(min=1)
    keep = n_others > 0
    return per_sample[keep].mean()


def training_loss(
    output: UNetOutput, target: torch.Tensor, config: ModelConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of one batch and its parts (for logging).

    Parameters
    ----------
    output : UNetOutput
        From a forward pass in training mode.
    target : Tensor of int, shape (B, z, x, y)
    config : ModelConfig
        Its ``distill_weight`` adds :func:`distillation_loss`.

    Returns
    -------
    total : Tensor, scalar
    parts : dict of str to float
        ``segmentation`` and ``distillation``.
    """
    segmentation = deep_supervision_loss(output.logits, target)
    total = segmentation
    distill = torch.zeros((), device=target.device)
    if config.distill_weight:
        distill = distillation_loss(output.features, output.presence)
        total = total + config.distill_weight * distill
    return total, {
        'segmentation': float(segmentation.detach()),
        'distillation': float(distill.detach()),
    }
