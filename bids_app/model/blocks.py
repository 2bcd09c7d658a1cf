"""nnU-Net-style building blocks: conv-norm-LeakyReLU, encoder, decoder with deep supervision.

Tensors are ``(B, C, z, x, y)`` (see :mod:`bids_app.model.layout`); strides follow that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Stride = tuple[int, int, int]

#: LeakyReLU slope of nnU-Net.
NEGATIVE_SLOPE = 0.01


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that sends every float32 CPU convolution to oneDNN.

    For a batch of one with 3x3x3 kernels, PyTorch picks its generic ``slow_conv3d`` kernel
    whenever ``N * C * D * H <= 20480`` (the 1-channel first convolution of every encoder, the
    coarse levels of short patches), which then also adds the bias in a separate pass and returns
    the plain memory format whatever the weights' format. oneDNN is what PyTorch uses for every
    other shape here, so outputs agree to float rounding (tests/model/test_model_blocks.py).
    Autocast (bfloat16) and other devices take the usual path: oneDNN is chosen there anyway.
    """

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if _onednn_float32(input, weight) and self.padding_mode == 'zeros':
            return torch.mkldnn_convolution(
                input, weight, bias, self.padding, self.stride, self.dilation, self.groups
            )
        return super()._conv_forward(input, weight, bias)


def _onednn_float32(input: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether a convolution of these tensors can go to oneDNN directly as float32."""
    return (
        input.device.type == 'cpu'
        and input.dtype == weight.dtype == torch.float32
        and not input.is_mkldnn
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and not _cpu_autocast()
    )


def _cpu_autocast() -> bool:
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled()


class ConvNormAct(nn.Sequential):
    """3x3x3 convolution, instance normalisation (with affine), LeakyReLU(0.01).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    stride : (int, int, int)
        Convolution stride along ``(z, x, y)``; a stride > 1 downsamples.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: Stride = (1, 1, 1)) -> None:
        super().__init__(
            Conv3d(in_channels, out_channels, 3, stride=stride, padding=1),
            # instance normalisation with affine, as GroupNorm with one group per channel: the
            # same values, and PyTorch's CPU kernel is ~30 % faster (one pass, fused affine)
            nn.GroupNorm(out_channels, out_channels, eps=1e-5),
            nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True),
        )

    @property
    def conv(self) -> nn.Conv3d:
        """The convolution (the fusion layer folds its weights)."""
        return self[0]


class Stage(nn.Sequential):
    """Two :class:`ConvNormAct`; the first carries the stride (nnU-Net's strided-conv pooling)."""

    def __init__(self, in_channels: int, out_channels: int, stride: Stride) -> None:
        super().__init__(
            ConvNormAct(in_channels, out_channels, stride),
            ConvNormAct(out_channels, out_channels),
        )


class Encoder(nn.Module):
    """One slot's encoder: a :class:`Stage` per resolution level.

    Parameters
    ----------
    widths : sequence of int
        Channels per level, finest first.
    strides : sequence of (int, int, int)
        Stride of each level's first convolution along ``(z, x, y)``.
    """

    def __init__(self, widths: Sequence[int], strides: Sequence[Stride]) -> None:
        super().__init__()
        channels = [1, *widths]
        self.stages = nn.ModuleList(
            Stage(channels[i], channels[i + 1], strides[i]) for i in range(len(widths))
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Features of every level, finest first; the last is the bottleneck.

        Parameters
        ----------
        image : Tensor, shape (B, 1, z, x, y)

        Returns
        -------
        list of Tensor
            Level ``l`` has shape ``(B, widths[l], z / s_z, x / s_x, y / s_y)``.
        """
        features = []
        x = image
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class Decoder(nn.Module):
    """nnU-Net decoder: transposed-conv upsampling, concatenation with a skip, a :class:`Stage`.

    Segmentation heads (1x1x1 convolutions) sit on the ``n_heads`` finest levels.
    """

    def __init__(
        self, widths: Sequence[int], strides: Sequence[Stride], n_classes: int, n_heads: int
    ) -> None:
        super().__init__()
        levels = range(len(widths) - 2, -1, -1)  # coarsest decoder level first
        self.upsample = nn.ModuleList(
            nn.ConvTranspose3d(widths[i + 1], widths[i], strides[i + 1], stride=strides[i + 1])
            for i in levels
        )
        self.stages = nn.ModuleList(Stage(2 * widths[i], widths[i], (1, 1, 1)) for i in levels)
        self.heads = nn.ModuleList(Conv3d(widths[i], n_classes, 1) for i in range(n_heads))

    def forward(
        self, bottleneck: torch.Tensor, skips: Sequence[torch.Tensor], n_outputs: int
    ) -> list[torch.Tensor]:
        """Logits of the ``n_outputs`` finest levels, finest first.

        Parameters
        ----------
        bottleneck : Tensor, shape (B, widths[-1], ...)
            Fused bottleneck features.
        skips : sequence of Tensor
            T2Sag encoder features of levels ``0 .. L-2``, finest first.
        n_outputs : int
            1 at inference, up to ``n_heads`` for deep supervision.
        """
        x = bottleneck
        outputs = []
        n_levels = len(self.stages)
        for k, (up, stage) in enumerate(zip(self.upsample, self.stages, strict=True)):
            level = n_levels - 1 - k
            x = stage(torch.cat([up(x), skips[level]], dim=1))
            if level < n_outputs:
                outputs.append(self.heads[level](x))
        return outputs[::-1]
