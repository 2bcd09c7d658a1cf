"""The mean-imputation network of Walsh et al. (MICCAI 2024), its variants and model folders.

Modules, in data-flow order: :mod:`.config` (``ModelConfig``, presets, variants), :mod:`.layout`
(z-first tensors), :mod:`.blocks`, :mod:`.imputation`, :mod:`.network`, :mod:`.losses`,
:mod:`.card` (the model folder format).
"""

from __future__ import annotations

from bids_app.model.card import load_model_dir, read_card, save_model_dir
from bids_app.model.config import VARIANTS, WIDTH_PRESETS, ModelConfig, variant_config
from bids_app.model.layout import from_network_layout, to_network_layout
from bids_app.model.losses import training_loss
from bids_app.model.network import (
    ARCHITECTURES,
    FoldedUNet,
    MultiSequenceUNet,
    UNetOutput,
    init_encoder_from,
)

__all__ = [
    'ARCHITECTURES',
    'VARIANTS',
    'WIDTH_PRESETS',
    'FoldedUNet',
    'ModelConfig',
    'MultiSequenceUNet',
    'UNetOutput',
    'from_network_layout',
    'init_encoder_from',
    'load_model_dir',
    'read_card',
    'save_model_dir',
    'to_network_layout',
    'training_loss',
    'variant_config',
]
