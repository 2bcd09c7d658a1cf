"""Training losses: cross-entropy + soft Dice with deep supervision, a lesion-wise Dice, and L1
distillation.

Logits are ``(B, n_classes, z, x, y)``; targets are integer class maps ``(B, z, x, y)`` in the same
network layout (class 0 background, 1 lesion).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from bids_app.lesions import structuring_element
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


def lesion_components(target: torch.Tensor) -> torch.Tensor:
    """Each sample's reference lesions numbered 1..n (26-connected, as the lesion-wise metrics).

    Parameters
    ----------
    target : Tensor of int, shape (B, z, x, y)

    Returns
    -------
    Tensor of int64, shape (B, z, x, y), on the target's device
        0 outside lesions; numbers restart at 1 in every sample.
    """
    structure = structuring_element(26)
    mask = (target > 0).cpu().numpy()
    numbered = np.stack([ndimage.label(sample, structure=structure)[0] for sample in mask])
    return torch.from_numpy(numbered.astype(np.int64)).reshape(target.shape).to(target.device)


def lesion_wise_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 -`` the mean soft Dice of every reference lesion scored on its own ("blob loss").

    Kofler et al. (2023, blob loss): each lesion is compared with the lesion probability where
    every *other* lesion is masked out, so the Dice of lesion ``i`` is ``2 P_i / (P_bg + P_i +
    V_i)`` with ``P_i`` the probability summed inside it, ``P_bg`` outside every lesion and ``V_i``
    its voxels. A 10 mm^3 lesion then weighs as much as a 500 mm^3 one, which the soft Dice over
    the whole patch does not do, and probability anywhere outside the lesions still lowers every
    lesion's score. Averaged over all lesions of the batch; 0 (with a graph) when there is none.

    Parameters
    ----------
    logits : Tensor, shape (B, K, z, x, y)
    target : Tensor of int, shape (B, z, x, y)

    Returns
    -------
    Tensor, scalar
    """
    probs = torch.softmax(logits.float(), dim=1)[:, 1:].sum(1).flatten(1)  # (B, N)
    numbered = lesion_components(target).flatten(1)
    scores = []
    for sample_probs, sample_lesions in zip(probs, numbered, strict=True):
        n = int(sample_lesions.max())
        if not n:
            continue
        summed = torch.zeros(n + 1, dtype=probs.dtype, device=probs.device)
        summed = summed.scatter_add(0, sample_lesions, sample_probs)
        voxels = torch.bincount(sample_lesions, minlength=n + 1)[1:].to(probs.dtype)
        inside, outside = summed[1:], summed[0]
        scores.append(2 * inside / (outside + inside + voxels))
    if not scores:
        return probs.sum() * 0
    return 1 - torch.cat(scores).mean()


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
    output: UNetOutput, target: torch.Tensor, config: ModelConfig, *, lesion_weight: float = 0.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of one batch and its parts (for logging).

    Parameters
    ----------
    output : UNetOutput
        From a forward pass in training mode.
    target : Tensor of int, shape (B, z, x, y)
    config : ModelConfig
        Its ``distill_weight`` adds :func:`distillation_loss`.
    lesion_weight : float
        Weight of :func:`lesion_wise_dice_loss` on the finest output (0: not computed).

    Returns
    -------
    total : Tensor, scalar
    parts : dict of str to float
        ``segmentation``, ``lesion_wise`` and ``distillation``.
    """
    segmentation = deep_supervision_loss(output.logits, target)
    total = segmentation
    zero = torch.zeros((), device=target.device)
    lesion_wise, distill = zero, zero
    if lesion_weight:
        lesion_wise = lesion_wise_dice_loss(output.logits[0], target)
        total = total + lesion_weight * lesion_wise
    if config.distill_weight:
        distill = distillation_loss(output.features, output.presence)
        total = total + config.distill_weight * distill
    return total, {
        'segmentation': float(segmentation.detach()),
        'lesion_wise': float(lesion_wise.detach()),
        'distillation': float(distill.detach()),
    }
