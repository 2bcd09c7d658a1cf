"""Axis order inside the network: z first.

The public arrays are cord-frame crops ``(..., x, y, z)`` (nibabel ``LAS``, 0.5 mm). Inside the
network, tensors are ``(B, C, z, x, y)``: at batch 1, PyTorch's CPU convolution picks oneDNN only
when ``B * C * D1 * D2 > 20480`` for a tensor ``(B, C, D1, D2, D3)``; with z (hundreds of slices)
among the first spatial axes every layer but the 1-channel stem passes that test, while with
``(x, y, z)`` the bottleneck layers (6 x 6 in-plane) fall back to the slow generic kernel
(``aten::slow_conv3d_forward``, measured with ``torch.profiler`` in ``benchmarks/model.py``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

ArrayT = TypeVar('ArrayT', np.ndarray, torch.Tensor)


def to_network_layout(array: ArrayT) -> ArrayT:
    """Move the last axis (z) before the two in-plane axes: ``(..., x, y, z) -> (..., z, x, y)``.

    Examples
    --------
    >>> to_network_layout(np.zeros((2, 48, 48, 7))).shape
    (2, 7, 48, 48)
    """
    if isinstance(array, torch.Tensor):
        return torch.movedim(array, -1, -3)
    return np.moveaxis(array, -1, -3)


def from_network_layout(array: ArrayT) -> ArrayT:
    """Inverse of :func:`to_network_layout`: ``(..., z, x, y) -> (..., x, y, z)``.

    Examples
    --------
    >>> from_network_layout(np.zeros((2, 7, 48, 48))).shape
    (2, 48, 48, 7)
    """
    if isinstance(array, torch.Tensor):
        return torch.movedim(array, -3, -1)
    return np.moveaxis(array, -3, -1)


def xyz_to_zxy(values: tuple[int, int, int]) -> tuple[int, int, int]:
    """Reorder a per-axis triple (stride, size) from ``(x, y, z)`` to the network's ``(z, x, y)``.

    Examples
    --------
    >>> xyz_to_zxy((48, 48, 320))
    (320, 48, 48)
    """
    x, y, z = values
    return (z, x, y)
