"""Mean imputation of missing slots' bottleneck features, its exact folding, skip mixing, and
latent noise.

Features are stacked per slot: ``(B, S, C, z, x, y)`` with ``S`` the model's slots in
:data:`bids_app.slots.SLOTS` order and T2Sag at index 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

#: Latent feature augmentation of the paper: 25 % Logistic(0, s), 75 % Normal(0, sigma).
LOGISTIC_FRACTION = 0.25
LOGISTIC_SCALE = 0.002
NORMAL_SIGMA = 0.4


def impute_mean(features: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """Replace absent slots' features by the mean of the present slots' (equation 1).

    Parameters
    ----------
    features : Tensor, shape (B, S, C, z, x, y)
        Bottleneck features per slot; values at absent slots are ignored.
    presence : Tensor of bool, shape (B, S) or (B, S, z, x, y)
        Which slots are present, per sample or per bottleneck voxel. At least one slot must be
        present everywhere (T2Sag always is).

    Returns
    -------
    Tensor, shape (B, S, C, z, x, y)
        Present slots unchanged, absent slots equal to the mean of the present ones.
    """
    present = _slot_weight(features, presence).bool()
    return torch.where(present, features, present_mean(features, presence).unsqueeze(1))


def present_mean(features: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """Mean of the present slots' features, ``(B, C, z, x, y)``; arguments as :func:`impute_mean`
    (the mean over every slot after mean imputation)."""
    weight = _slot_weight(features, presence)
    return (features * weight).sum(dim=1) / weight.sum(dim=1)


def _slot_weight(features: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """``presence`` as 0/1 of the features' dtype, broadcastable to ``(B, S, C, z, x, y)``."""
    weight = presence.to(features.dtype)
    weight = weight.reshape(*weight.shape[:2], 1, *weight.shape[2:])
    return weight.reshape(*weight.shape, *([1] * (features.ndim - weight.ndim)))


def voxel_presence(
    presence: torch.Tensor, coverage: torch.Tensor, level_shape: Sequence[int]
) -> torch.Tensor:
    """Per-voxel presence at one feature level from per-slot coverage (coverage-aware imputation
    at the bottleneck, skip fusion at every level).

    A feature voxel counts as covered by a slot when at least half of the input voxels it
    summarises are covered. T2Sag (index 0) counts as present everywhere: it defines the frame.

    Parameters
    ----------
    presence : Tensor of bool, shape (B, S)
    coverage : Tensor of bool, shape (B, S, z, x, y) or (B, S, z)
        Coverage of each slot's field of view on the patch (network layout, z first).
    level_shape : (int, int, int)
        ``(z, x, y)`` size of the feature level.

    Returns
    -------
    Tensor of bool, shape (B, S, z', x', y')
    """
    cov = coverage.to(torch.float32)
    if cov.ndim == 3:
        cov = cov[..., None, None].expand(*cov.shape, 1, 1)
    fraction = F.adaptive_avg_pool3d(cov, tuple(level_shape))
    voxel = (fraction >= 0.5) & presence[:, :, None, None, None]
    voxel[:, 0] = True
    return voxel


def fold_fusion_weight(weight: torch.Tensor, present: Sequence[int], n_slots: int) -> torch.Tensor:
    """Fold mean-imputed slots' fusion weights into the present slots' weights.

    The fusion convolution is linear in its input, and an imputed slot's features are
    ``(1 / P) * sum_p f_p``, so ``sum_s W_s * f_s = sum_p (W_p + (1 / P) * sum_m W_m) * f_p``
    where ``p`` runs over the ``P`` present slots and ``m`` over the missing ones.

    Parameters
    ----------
    weight : Tensor, shape (C_out, S * C, k, k, k)
        Fusion convolution weight; input channels are slot-major (slot 0's C channels first).
    present : sequence of int
        Indices of the present slots, increasing.
    n_slots : int
        ``S``.

    Returns
    -------
    Tensor, shape (C_out, P * C, k, k, k)
    """
    per_slot = weight.reshape(weight.shape[0], n_slots, -1, *weight.shape[2:])
    present_idx = torch.as_tensor(list(present), dtype=torch.long)
    missing = [s for s in range(n_slots) if s not in set(present)]
    folded = per_slot[:, present_idx]
    if missing:
        extra = per_slot[:, missing].sum(dim=1, keepdim=True) / len(present)
        folded = folded + extra
    return folded.reshape(weight.shape[0], -1, *weight.shape[2:])


def mix_skip(t2sag: torch.Tensor, mean: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """A skip connection with the present slots mixed in: ``t2sag + gate * (mean - t2sag)``.

    Mean imputation of the absent slots followed by an average over every slot gives the mean of
    the present ones, so ``gate = 1`` is mean imputation of the skip and ``gate = 0`` T2Sag's own
    skip (the paper). With T2Sag alone the mean is T2Sag's features and the skip is unchanged.

    Parameters
    ----------
    t2sag, mean : Tensor, shape (B, C, z, x, y)
        T2Sag's encoder features at one level and the mean of every present slot's.
    gate : Tensor, shape (C,)

    Examples
    --------
    >>> t2, mean = torch.zeros(1, 2, 1, 1, 1), torch.ones(1, 2, 1, 1, 1)
    >>> mix_skip(t2, mean, torch.tensor([0.0, 0.25])).flatten().tolist()
    [0.0, 0.25]
    """
    return t2sag + gate.view(1, -1, 1, 1, 1) * (mean - t2sag)


def sample_latent_noise(
    shape: Sequence[int],
    *,
    device: torch.device | str = 'cpu',
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw latent augmentation noise: 25 % Logistic(0, 0.002), 75 % Normal(0, 0.4), per element.

    Parameters
    ----------
    shape : sequence of int
        Shape of the features the noise is added to.

    Returns
    -------
    Tensor of ``shape``
    """
    kw = {'device': device, 'dtype': dtype, 'generator': generator}
    pick = torch.rand(shape, **kw) < LOGISTIC_FRACTION
    u = torch.rand(shape, **kw).clamp_(1e-7, 1 - 1e-7)
    logistic = LOGISTIC_SCALE * torch.log(u / (1 - u))
    normal = NORMAL_SIGMA * torch.randn(shape, **kw)
    return torch.where(pick, logistic, normal)
