"""The multi-sequence U-Net: one encoder per slot, fusion with mean imputation, one decoder.

Tensors are in the network layout ``(B, C, z, x, y)`` (see :mod:`bids_app.model.layout`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bids_app.model.blocks import NEGATIVE_SLOPE, Conv3d, ConvNormAct, Decoder, Encoder
from bids_app.model.config import ModelConfig
from bids_app.model.imputation import (
    fold_fusion_weight,
    impute_mean,
    mix_skip,
    present_mean,
    sample_latent_noise,
    voxel_presence,
)
from bids_app.model.layout import xyz_to_zxy
from bids_app.slots import Slot

#: Number of decoder outputs used for deep supervision (the two finest levels).
N_SUPERVISED = 2

#: Skip-fusion gates are stored divided by this, so that SGD at the network's learning rate moves
#: them GATE_SCALE**2 = 25x faster: unscaled, a fine-tune at lr 0.002 moved them by 0.02 in 750
#: iterations, too slowly for the other sequences to reach the decoder in a run of known length.
GATE_SCALE = 5.0

#: The samples (batch rows) that have one slot, and that slot's encoder features at every level.
_SlotLevels = tuple[torch.Tensor, list[torch.Tensor]]


@dataclass
class UNetOutput:
    """What one forward pass returns.

    Attributes
    ----------
    logits : list of Tensor
        ``[(B, n_classes, z, x, y)]`` at inference; in training with deep supervision also the
        second-finest level ``(B, n_classes, z/2, x/2, y/2)``, finest first.
    features : Tensor, shape (B, S, C, z', x', y')
        Bottleneck features per slot before imputation (zeros for absent slots).
    presence : Tensor of bool, shape (B, S)
    """

    logits: list[torch.Tensor]
    features: torch.Tensor
    presence: torch.Tensor


class MultiSequenceUNet(nn.Module):
    """Encoders per slot, concatenation + one 3x3x3 fusion convolution, decoder with T2Sag skips
    (with every present slot mixed in when ``config.fuse_skips``).

    Parameters
    ----------
    config : ModelConfig
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        strides = [xyz_to_zxy(s) for s in config.strides]
        self.encoders = nn.ModuleDict(
            {str(s): Encoder(config.widths, strides) for s in config.slots}
        )
        width = config.widths[-1]
        self.fusion = ConvNormAct(len(config.slots) * width, width)
        self.decoder = Decoder(config.widths, strides, config.n_classes, N_SUPERVISED)
        if config.fuse_skips:
            self.skip_gates = nn.ParameterList(
                nn.Parameter(torch.zeros(w)) for w in config.widths[:-1]
            )
        for slot in config.freeze_encoders:
            self.encoders[str(slot)].requires_grad_(False)

    def forward(
        self,
        images: torch.Tensor,
        presence: torch.Tensor | None = None,
        coverage: torch.Tensor | None = None,
    ) -> UNetOutput:
        """Segment a batch whose samples may have different slot sets.

        Parameters
        ----------
        images : Tensor, shape (B, S, z, x, y)
            Normalised crops of every model slot; absent slots' values are never read.
        presence : Tensor of bool, shape (B, S), optional
            Present slots per sample; default all. T2Sag must be present in every sample, and with
            ``imputation='none'`` every slot.
        coverage : Tensor of bool, shape (B, S, z, x, y) or (B, S, z), optional
            Field-of-view coverage, used with ``imputation='coverage'`` (bottleneck) and
            ``fuse_skips`` (a slot is mixed into a skip only where it covers); default all.
        """
        n_batch, n_slots = images.shape[:2]
        if presence is None:
            presence = torch.ones(n_batch, n_slots, dtype=torch.bool, device=images.device)
        presence = presence.to(images.device, torch.bool)
        if not bool(presence[:, 0].all()):
            raise ValueError('every sample needs its T2Sag (slot 0 of images)')
        if self.config.imputation == 'none' and not bool(presence.all()):
            raise ValueError(f'this model needs every one of its slots {list(self.config.slots)}')

        if coverage is not None:
            coverage = coverage.to(images.device)
        skips, features = self._encode(images, presence, coverage)
        if self.training and self.config.latent_noise:
            noise = sample_latent_noise(
                features.shape, device=features.device, dtype=features.dtype
            )
            features = F.leaky_relu(features + noise, NEGATIVE_SLOPE)
        present = presence
        if self.config.imputation == 'coverage' and coverage is not None:
            present = voxel_presence(presence, coverage, features.shape[3:])
        fused = self.fusion(impute_mean(features, present).flatten(1, 2))
        n_outputs = N_SUPERVISED if self.training and self.config.deep_supervision else 1
        return UNetOutput(self.decoder(fused, skips, n_outputs), features, presence)

    def _encode(
        self, images: torch.Tensor, presence: torch.Tensor, coverage: torch.Tensor | None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Run each slot's encoder on the samples that have that slot, and only those; the skips
        and the stacked bottleneck features."""
        per_slot: list[_SlotLevels | None] = []
        for s, slot in enumerate(self.config.slots):
            rows = presence[:, s].nonzero().squeeze(1)
            per_slot.append(
                None
                if rows.numel() == 0
                else (rows, self.encoders[str(slot)](images[rows, s : s + 1]))
            )
        t2sag = per_slot[0][1]
        skips = t2sag[:-1]
        if self.config.fuse_skips:
            given = [s for s, entry in enumerate(per_slot) if entry is not None]
            levels = [
                [_full_batch(per_slot[s], level, skip) for s in given]
                for level, skip in enumerate(skips)
            ]
            skips = mixed_skips(
                levels,
                presence[:, given],
                None if coverage is None else coverage[:, given],
                skip_gates(self),
            )
        stacked = [_full_batch(entry, -1, t2sag[-1]) for entry in per_slot]
        return skips, torch.stack(stacked, dim=1)


def mixed_skips(
    levels: Sequence[Sequence[torch.Tensor]],
    presence: torch.Tensor,
    coverage: torch.Tensor | None,
    gates: Sequence[torch.Tensor],
) -> list[torch.Tensor]:
    """Skip fusion: each level's T2Sag features with the present slots' mean mixed in.

    Parameters
    ----------
    levels : sequence (per level) of sequence (per slot, T2Sag first) of Tensor (B, C, z, x, y)
        Encoder features; values of a sample that lacks a slot are ignored.
    presence : Tensor of bool, shape (B, P)
    coverage : Tensor of bool, shape (B, P, z, x, y) or (B, P, z), optional
        A slot counts only where it covers (:func:`voxel_presence`), so that outside a short
        field of view the skip is T2Sag's own.
    gates : sequence of Tensor (C,)
    """
    out = []
    for features, gate in zip(levels, gates, strict=True):
        stacked = torch.stack(list(features), dim=1)
        present = presence
        if coverage is not None:
            present = voxel_presence(presence, coverage, stacked.shape[3:])
        out.append(mix_skip(stacked[:, 0], present_mean(stacked, present), gate))
    return out


def skip_gates(model: nn.Module) -> list[torch.Tensor]:
    """The skip-fusion gate of each level (``mix_skip``'s ``gate``), from the stored parameters."""
    return [GATE_SCALE * stored for stored in model.skip_gates]


def _full_batch(entry: _SlotLevels | None, level: int, like: torch.Tensor) -> torch.Tensor:
    """One slot's features at one level for the whole batch (``like``'s shape; T2Sag has every
    sample), zeros for the samples without the slot."""
    full = like.new_zeros(like.shape)
    if entry is None:
        return full
    rows, levels = entry
    return full.index_copy(0, rows, levels[level])


class FoldedUNet(nn.Module):
    """Inference-only view of a mean-imputation model for one fixed set of present slots.

    Shares the encoders and decoder with ``model``; its fusion convolution has the imputed slots'
    weights folded into the present slots' (:func:`~bids_app.model.imputation.fold_fusion_weight`),
    so absent encoders are never run and the fusion costs ``P / S`` of the full one, with the same
    output as ``model`` up to float rounding.

    Parameters
    ----------
    model : MultiSequenceUNet
    slots : sequence of Slot
        The present slots, a subset of ``model.config.slots`` that contains T2Sag.
    """

    def __init__(self, model: MultiSequenceUNet, slots: Sequence[Slot]) -> None:
        super().__init__()
        model_slots = model.config.slots
        self.slots = tuple(s for s in model_slots if s in set(slots))
        self.encoders = nn.ModuleList(model.encoders[str(s)] for s in self.slots)
        self.decoder = model.decoder
        self.skip_gates = model.skip_gates if model.config.fuse_skips else None
        present = [model_slots.index(s) for s in self.slots]
        self.fusion = copy.deepcopy(model.fusion)
        conv = model.fusion.conv
        folded = fold_fusion_weight(conv.weight.detach(), present, len(model_slots))
        self.fusion[0] = Conv3d(
            folded.shape[1],
            folded.shape[0],
            3,
            padding=1,
            device=folded.device,
            dtype=folded.dtype,
        )
        with torch.no_grad():
            self.fusion[0].weight.copy_(folded)
            self.fusion[0].bias.copy_(conv.bias)
        self.eval()

    def forward(self, images: torch.Tensor, coverage: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the finest level.

        Parameters
        ----------
        images : Tensor, shape (B, P, z, x, y)
            Normalised crops of the present slots, in ``self.slots`` order.
        coverage : Tensor of bool, shape (B, P, z, x, y) or (B, P, z), optional
            Their fields of view, for skip fusion; default all.

        Returns
        -------
        Tensor, shape (B, n_classes, z, x, y)
        """
        per_slot = [encoder(images[:, p : p + 1]) for p, encoder in enumerate(self.encoders)]
        skips = per_slot[0][:-1]
        if self.skip_gates is not None:
            presence = images.new_ones(images.shape[:2], dtype=torch.bool)
            levels = [[features[level] for features in per_slot] for level in range(len(skips))]
            skips = mixed_skips(levels, presence, coverage, skip_gates(self))
        bottlenecks = torch.cat([levels[-1] for levels in per_slot], dim=1)
        return self.decoder(self.fusion(bottlenecks), skips, 1)[0]


def init_encoder_from(model: MultiSequenceUNet, source: MultiSequenceUNet, slot: Slot) -> None:
    """Copy one slot's encoder weights from ``source`` (e.g. T2Sag from a trained baseline).

    Raises
    ------
    ValueError
        When either model lacks the slot or their widths differ.
    """
    if slot not in model.config.slots or slot not in source.config.slots:
        raise ValueError(f'both models need a {slot} encoder')
    if model.config.widths != source.config.widths:
        raise ValueError(f'encoder widths differ: {model.config.widths} vs {source.config.widths}')
    model.encoders[str(slot)].load_state_dict(source.encoders[str(slot)].state_dict())


#: Architecture names recorded in model cards, mapped explicitly to their builders.
ARCHITECTURES: dict[str, Callable[[ModelConfig], MultiSequenceUNet]] = {
    'multi-sequence-unet': MultiSequenceUNet,
}
