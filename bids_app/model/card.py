"""The model folder: ``model.safetensors`` (weights) + ``card.json`` (what they are and how made).

Loading checks, before building anything, that the card names a known architecture and a valid
:class:`~bids_app.model.config.ModelConfig`, that the weights' sha256 matches the card, that
every tensor is finite and has the shape the config implies, and that the optional
``"postprocess"`` defaults (:func:`bids_app.postprocess.resolve_options`) are in range. Only
safetensors are read (never a pickle).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bids_app import __version__
from bids_app.config import CordFrameConfig
from bids_app.errors import ModelCardError, UsageError
from bids_app.model.config import ModelConfig
from bids_app.model.network import ARCHITECTURES, MultiSequenceUNet
from bids_app.postprocess import card_defaults

logger = logging.getLogger(__name__)

CARD_NAME = 'card.json'
WEIGHTS_NAME = 'model.safetensors'
CARD_FORMAT = 1
#: Card keys written by :func:`save_model_dir`; ``card_extra`` may not override them.
RESERVED_KEYS = frozenset(
    {
        'format',
        'architecture',
        'model_config',
        'patch_size',
        'preprocessing',
        'software_version',
        'weights',
    }
)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open('rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def save_model_dir(
    path: Path,
    model: MultiSequenceUNet,
    config: ModelConfig,
    card_extra: Mapping[str, Any],
    *,
    dtype: torch.dtype = torch.float16,
    frame: CordFrameConfig | None = None,
) -> dict[str, Any]:
    """Write a model folder: weights (stored as ``dtype``) and the card.

    Parameters
    ----------
    path : Path
        Folder to create (``models/<name>/``); existing files in it are replaced.
    model : MultiSequenceUNet
    config : ModelConfig
        The config ``model`` was built from.
    card_extra : mapping
        More card entries, e.g. ``name``, ``training`` (data summary, iterations, seed) and
        ``validation`` (metrics); JSON-serialisable.
    dtype : torch.dtype
        Storage type of floating-point weights (float16 halves the file; loaded as float32).
    frame : CordFrameConfig, optional
        The cord frame the training crops were built on (default: the default frame with the
        patch's crop size); inference builds the same (:func:`card_frame`).

    Returns
    -------
    dict
        The card as written.
    """
    clash = RESERVED_KEYS & set(card_extra)
    if clash:
        raise ValueError(f'card_extra may not set {sorted(clash)}')
    path.mkdir(parents=True, exist_ok=True)
    tensors = {
        key: (value.to(dtype) if value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    weights = path / WEIGHTS_NAME
    save_file(tensors, str(weights))
    frame = frame or CordFrameConfig(crop_size=config.patch_size[0])
    card = {
        'format': CARD_FORMAT,
        'name': path.name,
        **card_extra,
        'architecture': _architecture_name(model),
        'model_config': config.to_dict(),
        'patch_size': list(config.patch_size),
        'preprocessing': {
            **asdict(frame),
            'axes': 'LAS',
            'intensity': 'z-score over the covered voxels of each crop, zero outside',
        },
        'software_version': __version__,
        'weights': {'file': WEIGHTS_NAME, 'sha256': sha256_file(weights), 'dtype': str(dtype)},
    }
    (path / CARD_NAME).write_text(json.dumps(card, indent=2) + '\n')
    logger.info('Wrote model folder %s (sha256 %s)', path, card['weights']['sha256'][:12])
    return card


def card_frame(card: Mapping[str, Any], path: Path) -> CordFrameConfig:
    """The cord frame a model was trained on, from its card's ``preprocessing``.

    Raises
    ------
    ModelCardError
        Values that are not a frame, or a crop that is not the model's patch.
    """
    recorded = card.get('preprocessing') or {}
    try:
        frame = CordFrameConfig(
            voxel_mm=float(recorded.get('voxel_mm', CordFrameConfig.voxel_mm)),
            crop_size=int(recorded.get('crop_size', CordFrameConfig.crop_size)),
            z_margin_mm=float(recorded.get('z_margin_mm', CordFrameConfig.z_margin_mm)),
        )
    except (TypeError, ValueError) as exc:
        raise ModelCardError(f'{path}: "preprocessing" is not a cord frame ({exc})') from exc
    patch = list(card.get('patch_size') or [frame.crop_size] * 2)[:2]
    if not (frame.voxel_mm > 0 and frame.crop_size > 0 and patch == [frame.crop_size] * 2):
        raise ModelCardError(
            f'{path}: its cord frame ({frame.crop_size} voxels of {frame.voxel_mm} mm) does not '
            f'match its patch {patch}; the card was edited or is damaged: restore it'
        )
    return frame


def _architecture_name(model: MultiSequenceUNet) -> str:
    for name, builder in ARCHITECTURES.items():
        if type(model) is builder:
            return name
    raise ValueError(f'{type(model).__name__} is not in ARCHITECTURES')


def read_card(path: Path) -> dict[str, Any]:
    """Read and check ``card.json`` of a model folder, without touching the weights."""
    card_path = path / CARD_NAME
    if not path.is_dir():
        raise ModelCardError(f'model folder {path} does not exist; give --model a model folder')
    if not card_path.is_file():
        raise ModelCardError(f'{card_path} is missing; a model folder needs {CARD_NAME}')
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as err:
        raise ModelCardError(f'{card_path} is not valid JSON ({err}); restore it') from err
    for key in ('architecture', 'model_config', 'weights'):
        if key not in card:
            raise ModelCardError(f'{card_path} lacks {key!r}; rewrite it with save_model_dir')
    if card['architecture'] not in ARCHITECTURES:
        raise ModelCardError(
            f'{card_path}: unknown architecture {card["architecture"]!r}; known: '
            f'{sorted(ARCHITECTURES)} (upgrade sclesion?)'
        )
    try:
        ModelConfig.from_dict(card['model_config'])
    except (UsageError, TypeError) as err:
        raise ModelCardError(
            f'{card_path}: invalid model_config ({err}); put back the card.json saved with '
            'these weights'
        ) from err
    try:
        card_defaults(card)
    except ModelCardError as err:
        raise ModelCardError(f'{card_path}: {err}') from err
    return card


def check_finite(tensors: Mapping[str, torch.Tensor], weights: Path) -> None:
    """``ModelCardError`` when a floating-point tensor holds NaN or infinity (a diverged run)."""
    broken = sorted(
        key for key, value in tensors.items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    )  # fmt: skip
    if broken:
        raise ModelCardError(
            f'{weights}: {len(broken)} of {len(tensors)} tensors hold NaN or infinite values '
            f'(e.g. {broken[0]}), so every probability would be NaN; the model is broken (a '
            'diverged training?): use another model folder or retrain it'
        )


def load_model_dir(
    path: Path, device: torch.device | str = 'cpu'
) -> tuple[MultiSequenceUNet, dict]:
    """Load a model folder written by :func:`save_model_dir`, after checking it.

    Returns
    -------
    model : MultiSequenceUNet
        Float32, on ``device``, in eval mode.
    card : dict

    Raises
    ------
    ModelCardError
        Missing folder/card/weights, invalid card, unknown architecture, checksum mismatch,
        unreadable weights, weights holding NaN or infinity, or weights that do not fit the
        config.
    """
    path = Path(path)
    card = read_card(path)
    config = ModelConfig.from_dict(card['model_config'])
    weights = path / card['weights'].get('file', WEIGHTS_NAME)
    if not weights.is_file():
        raise ModelCardError(f'{weights} is missing; copy the weights next to {CARD_NAME}')
    digest = sha256_file(weights)
    if digest != card['weights'].get('sha256'):
        raise ModelCardError(
            f'{weights}: sha256 {digest[:12]}... does not match the card; the file is corrupted '
            'or from another model, download or copy it again'
        )
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise ModelCardError(f'{weights} cannot be read ({err}); replace the file') from err
    check_finite(tensors, weights)
    model = ARCHITECTURES[card['architecture']](config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(
        k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape
    )
    if missing or unexpected or wrong:
        first = (missing + unexpected + wrong)[0]
        raise ModelCardError(
            f'{weights} does not fit the card config ({len(missing)} missing, {len(unexpected)} '
            f'unexpected, {len(wrong)} wrong-shape tensors, e.g. {first}); the card and weights '
            'come from different models: put back the card.json saved with these weights'
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    return model.to(device).eval(), card
