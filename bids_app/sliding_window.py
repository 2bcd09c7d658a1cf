"""Pure helpers of inference in the cord frame: intensity normalisation and the sliding window.

Arrays are cord-frame crops ``(N, N, Z)``, axes ``(x, y, z)`` = nibabel ``LAS``, 0.5 mm voxels
(SCT RPI); tensors follow the network layout ``(B, C, z, x, y)``. Training validates with the
same window (:mod:`bids_app.training.validation`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray

from bids_app.errors import InputImageError


def normalise_intensity(
    crop: NDArray[np.floating], coverage: NDArray[np.bool_] | None = None
) -> NDArray[np.float32]:
    """Z-score a crop over the voxels its image covers; zero outside.

    Parameters
    ----------
    crop : ndarray, shape (X, Y, Z)
        Intensities sampled in the cord frame.
    coverage : ndarray of bool, shape (X, Y, Z) or (Z,), optional
        Voxels (or whole slices) inside the image's field of view; default all.

    Returns
    -------
    ndarray of float32, shape (X, Y, Z)
        Mean 0 and standard deviation 1 over the covered voxels (only centred when constant).

    Examples
    --------
    >>> normalise_intensity(np.array([[[1.0, 3.0, 7.0]]]), np.array([True, True, False]))
    array([[[-1.,  1.,  0.]]], dtype=float32)
    """
    data = np.asarray(crop, dtype=np.float64)
    inside = np.ones(data.shape, bool) if coverage is None else np.asarray(coverage, bool)
    inside = np.broadcast_to(inside, data.shape)
    if not inside.any():
        raise InputImageError('a crop covers no voxel of its image; check its field of view')
    values = data[inside]
    std = values.std()
    out = (data - values.mean()) / (std if std > 0 else 1.0)
    return np.where(inside, out, 0.0).astype(np.float32)


def window_starts(length: int, patch: int, overlap: float = 0.5) -> NDArray[np.int64]:
    """First index of each sliding window along one axis, evenly spread, ends included.

    As nnU-Net: ``ceil((length - patch) / (patch * (1 - overlap))) + 1`` windows, the first at 0
    and the last at ``length - patch``; a single window at 0 when ``length <= patch``.

    Examples
    --------
    >>> window_starts(320, 320).tolist()
    [0]
    >>> window_starts(480, 320).tolist()
    [0, 160]
    >>> window_starts(500, 320).tolist()
    [0, 90, 180]
    """
    if length <= patch:
        return np.zeros(1, dtype=np.int64)
    n = math.ceil((length - patch) / (patch * (1 - overlap))) + 1
    return np.round(np.linspace(0, length - patch, n)).astype(np.int64)


def gaussian_weights(patch: int, sigma_scale: float = 1 / 8) -> NDArray[np.float32]:
    """Blending weights along z: a Gaussian centred on the patch, ``sigma = sigma_scale * patch``.

    Normalised to a maximum of 1 (nnU-Net's default weighting, along the one axis that slides).

    Examples
    --------
    >>> w = gaussian_weights(8, 1 / 8)  # sigma 1 voxel, centre 3.5
    >>> float(w[3]), float(w[4]), round(float(w[0]), 6)  # exp(-(3.5**2 - 0.5**2) / 2) = exp(-6)
    (1.0, 1.0, 0.002479)
    """
    centre = (patch - 1) / 2
    sigma = sigma_scale * patch
    z = np.arange(patch) - centre
    weights = np.exp(-(z**2) / (2 * sigma**2))
    return (weights / weights.max()).astype(np.float32)


def mirror_averaged(
    forward: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forward`` averaged with its pass on the left-right mirror (test-time augmentation).

    Windows are in the network layout ``(B, C, z, x, y)``: dimension 3 is left-right.

    Examples
    --------
    >>> first_x = lambda w: w[:, :, :, :1].expand_as(w)  # not mirror-symmetric
    >>> mirror_averaged(first_x)(torch.arange(2.0).reshape(1, 1, 1, 2, 1)).flatten().tolist()
    [0.5, 0.5]
    """
    return lambda window: (forward(window) + forward(window.flip(3)).flip(3)) / 2


def sliding_window(
    forward: Callable[[torch.Tensor], torch.Tensor],
    volume: torch.Tensor,
    patch_z: int,
    *,
    overlap: float = 0.5,
    sigma_scale: float = 1 / 8,
    batch_size: int = 1,
) -> torch.Tensor:
    """Run ``forward`` on overlapping windows along z and blend them with Gaussian weights.

    Parameters
    ----------
    forward : callable
        ``(B, C, patch_z, X, Y) -> (B, K, patch_z, X, Y)`` logits.
    volume : Tensor, shape (C, Z, X, Y)
        Any ``Z``: shorter than ``patch_z`` is zero-padded equally at both ends, then cropped back.
    patch_z : int
        Window length along z.

    Returns
    -------
    Tensor, shape (K, Z, X, Y)
        Weighted mean of the windows' logits at every slice.
    """
    length = volume.shape[1]
    pad = max(patch_z - length, 0)
    if pad:
        volume = torch.nn.functional.pad(volume, (0, 0, 0, 0, pad // 2, pad - pad // 2))
    weight = torch.from_numpy(gaussian_weights(patch_z, sigma_scale)).to(volume.device)
    weight = weight[:, None, None]
    starts = window_starts(volume.shape[1], patch_z, overlap).tolist()
    total = None
    norm = torch.zeros(volume.shape[1], 1, 1, device=volume.device)
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        logits = forward(torch.stack([volume[:, s : s + patch_z] for s in chunk])).float()
        if total is None:
            total = torch.zeros(logits.shape[1], *volume.shape[1:], device=volume.device)
        for s, window in zip(chunk, logits, strict=True):
            total[:, s : s + patch_z] += window * weight
            norm[s : s + patch_z] += weight
    blended = total / norm
    return blended[:, pad // 2 : pad // 2 + length]
