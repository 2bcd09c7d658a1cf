"""Batched intensity primitives for augmentation: masked statistics, z-scoring, 1-D Gaussian blur.

Images are stacks ``(N, z, x, y)`` in the network layout (a batch's ``(B, S)`` images flattened):
each a z-scored cord-frame crop that is zero outside its field of view (``mask``). Per-image
parameters have shape ``(N,)``. Everything runs on the images' device (the GPU when training on
one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def masked_stats(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each image over its masked voxels.

    Parameters
    ----------
    x : Tensor, shape (N, z, x, y)
    mask : Tensor of bool, shape (N, z, x, y)

    Returns
    -------
    mean, std : Tensor, shape (N, 1, 1, 1)
        Zero for images with no masked voxel.

    Examples
    --------
    >>> x = torch.tensor([1.0, 3.0, 100.0]).reshape(1, 3, 1, 1)
    >>> m = torch.tensor([True, True, False]).reshape(1, 3, 1, 1)
    >>> [float(v) for v in masked_stats(x, m)]
    [2.0, 1.0]
    """
    weight = mask.to(x.dtype)
    count = weight.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1)
    mean = (x * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    var = (((x - mean) * weight) ** 2).sum(dim=(1, 2, 3), keepdim=True) / count
    return mean, var.sqrt()


def renormalise(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Z-score each image over its masked voxels and zero the rest (as inference normalises).

    Examples
    --------
    >>> x = torch.tensor([2.0, 6.0, 9.0]).reshape(1, 3, 1, 1)
    >>> m = torch.tensor([True, True, False]).reshape(1, 3, 1, 1)
    >>> renormalise(x, m).flatten().tolist()
    [-1.0, 1.0, 0.0]
    """
    mean, std = masked_stats(x, mask)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return torch.where(mask, (x - mean) / std, torch.zeros_like(x))


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Normalised 1-D Gaussian kernels, one per sigma; sigma 0 gives the identity.

    Parameters
    ----------
    sigma : Tensor, shape (N,)
        Standard deviations in voxels.
    radius : int
        Half-width; the kernels have ``2 radius + 1`` taps.

    Returns
    -------
    Tensor, shape (N, 2 radius + 1)

    Examples
    --------
    >>> gaussian_kernels(torch.tensor([0.0]), 1).tolist()
    [[0.0, 1.0, 0.0]]
    """
    taps = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    safe = sigma.clamp(min=1e-6)[:, None]
    kernel = torch.exp(-0.5 * (taps[None] / safe) ** 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def masked_range(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum and maximum of each image over its masked voxels, shape (N, 1, 1, 1) each."""
    low = torch.where(mask, x, torch.full_like(x, math.inf)).amin(dim=(1, 2, 3), keepdim=True)
    high = torch.where(mask, x, torch.full_like(x, -math.inf)).amax(dim=(1, 2, 3), keepdim=True)
    return low, high


def blur_axis(x: torch.Tensor, sigma: torch.Tensor, axis: int) -> torch.Tensor:
    """Blur each image along one spatial axis with its own Gaussian (edges replicated).

    Parameters
    ----------
    x : Tensor, shape (N, z, x, y)
    sigma : Tensor, shape (N,)
        Standard deviation in voxels per image; 0 leaves the image unchanged.
    axis : {1, 2, 3}
        The axis of ``x`` to blur along.

    Returns
    -------
    Tensor, shape (N, z, x, y)

    Examples
    --------
    >>> x = torch.zeros(1, 1, 1, 5); x[0, 0, 0, 2] = 1  # taps exp(-k^2 / 2), |k| <= 3, sum 2.5058
    >>> [round(v, 4) for v in blur_axis(x, torch.tensor([1.0]), 3).flatten().tolist()]
    [0.054, 0.242, 0.3991, 0.242, 0.054]
    """
    if not bool((sigma > 0).any()):
        return x
    length = x.shape[axis]
    radius = min(max(1, math.ceil(3 * float(sigma.max()))), length - 1)
    if radius < 1:
        return x
    kernels = gaussian_kernels(sigma.to(x.dtype), radius)
    shape = [1, 1, 1]
    shape[axis - 1] = 2 * radius + 1
    weight = kernels.reshape(x.shape[0], 1, *shape)
    pad = [0, 0, 0, 0, 0, 0]
    pad[2 * (3 - axis)] = pad[2 * (3 - axis) + 1] = radius
    padded = F.pad(x[None], pad, mode='replicate')
    return F.conv3d(padded, weight, groups=x.shape[0])[0]


def uniform(
    generator: torch.Generator, shape: tuple[int, ...], low: float, high: float
) -> torch.Tensor:
    """Uniform draws in ``[low, high)`` on the generator's device."""
    return low + (high - low) * torch.rand(shape, generator=generator, device=generator.device)


def chance(generator: torch.Generator, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """Bernoulli(p) draws as bool, on the generator's device."""
    return torch.rand(shape, generator=generator, device=generator.device) < p
