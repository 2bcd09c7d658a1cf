"""The weights a training run starts from: random (seeded), another model's encoders
(``--init-encoder``, the frozen-encoder variant) or all of another model's weights
(``--init-weights``, fine-tuning, e.g. from the shipped model)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from bids_app.errors import UsageError
from bids_app.model.card import load_model_dir
from bids_app.model.config import ModelConfig
from bids_app.model.network import MultiSequenceUNet, init_encoder_from
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig

logger = logging.getLogger(__name__)


def build_model(
    model_config: ModelConfig, config: TrainConfig, device: torch.device
) -> MultiSequenceUNet:
    """The network a run starts from, on ``device``: seeded random weights, then the encoders of
    ``--init-encoder`` or every weight of ``--init-weights`` (fine-tuning)."""
    torch.manual_seed(config.seed)
    model = MultiSequenceUNet(model_config)
    if config.init_encoder:
        source, _ = load_model_dir(Path(config.init_encoder))
        shared = [s for s in model_config.slots if s in source.config.slots]
        missing = [str(s) for s in model_config.freeze_encoders if s not in shared]
        if missing:
            raise UsageError(
                f'{config.init_encoder} has no encoder for the frozen slots {missing}; '
                'give --init-encoder a model that has them (a T2Sag baseline)'
            )
        try:
            for slot in shared:
                init_encoder_from(model, source, Slot(slot))
        except ValueError as err:
            raise UsageError(f'--init-encoder {config.init_encoder}: {err}') from err
        logger.info(
            'encoders %s initialised from %s', [str(s) for s in shared], config.init_encoder
        )
    if config.init_weights:
        init_weights_from(model, Path(config.init_weights))
    return model.to(device)


def init_weights_from(model: MultiSequenceUNet, model_dir: Path) -> None:
    """Load every weight of ``model`` from a model folder of the same architecture."""
    source, _ = load_model_dir(model_dir)
    mine, theirs = model.config, source.config
    if tuple(mine.slots) != tuple(theirs.slots) or tuple(mine.widths) != tuple(theirs.widths):
        raise UsageError(
            f'--init-weights {model_dir}: its slots {[str(s) for s in theirs.slots]} and widths '
            f"{list(theirs.widths)} differ from this run's {[str(s) for s in mine.slots]} and "
            f'{list(mine.widths)}; pass the same --slots and --widths'
        )
    weights = {k: v.float() for k, v in source.state_dict().items()}
    if mine.fuse_skips and not theirs.fuse_skips:
        # skip gates at 0 give the source's skips: the run starts from the source's outputs
        gates = {k: v for k, v in model.state_dict().items() if k.startswith('skip_gates.')}
        weights.update(gates)
        logger.info('skip-fusion gates start at 0 (%s has none)', model_dir)
    elif theirs.fuse_skips and not mine.fuse_skips:
        raise UsageError(
            f'--init-weights {model_dir} mixes slots into its skips (variant skip-fusion); '
            'pass --variant skip-fusion'
        )
    model.load_state_dict(weights)
    logger.info('all weights initialised from %s', model_dir)
