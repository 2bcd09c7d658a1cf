from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from bids_app import __version__
from bids_app.config import CordFrameConfig
from bids_app.errors import ModelCardError
from bids_app.model.card import (
    card_frame,
    load_model_dir,
    read_card,
    save_model_dir,
    sha256_file,
)
from bids_app.model.network import MultiSequenceUNet


@pytest.fixture
def saved(tmp_path: Path, tiny_config) -> tuple[Path, MultiSequenceUNet]:
    config = tiny_config()
    model = MultiSequenceUNet(config)
    path = tmp_path / 'tiny'
    save_model_dir(
        path, model, config, {'training': {'iterations': 3}, 'validation': {'dice': 0.5}}
    )
    return path, model


def test_round_trip_and_card_contents(saved: tuple[Path, MultiSequenceUNet]) -> None:
    path, model = saved
    loaded, card = load_model_dir(path)
    assert card['name'] == 'tiny'
    assert card['architecture'] == 'multi-sequence-unet'
    assert card['software_version'] == __version__
    assert card['preprocessing']['voxel_mm'] == 0.5
    assert card['preprocessing']['crop_size'] == 16  # the patch's: the frame it needs
    assert card['patch_size'] == [16, 16, 32]
    assert card['training'] == {'iterations': 3}
    assert card['weights']['sha256'] == sha256_file(path / 'model.safetensors')
    assert not loaded.training
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == torch.float32
        # stored as float16: equal to the float16 rounding of the original
        torch.testing.assert_close(got, value.half().float(), rtol=0, atol=0)


def test_stored_as_float16(saved: tuple[Path, MultiSequenceUNet]) -> None:
    tensors = load_file(str(saved[0] / 'model.safetensors'))
    assert {t.dtype for t in tensors.values()} == {torch.float16}


def test_missing_folder_card_and_weights(tmp_path: Path, saved) -> None:
    path, _ = saved
    with pytest.raises(ModelCardError, match='does not exist'):
        load_model_dir(tmp_path / 'nowhere')
    (path / 'model.safetensors').unlink()
    with pytest.raises(ModelCardError, match=r'model\.safetensors is missing'):
        load_model_dir(path)
    (path / 'card.json').unlink()
    with pytest.raises(ModelCardError, match=r'card\.json is missing'):
        load_model_dir(path)


def test_checksum_mismatch(saved) -> None:
    path, _ = saved
    weights = path / 'model.safetensors'
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelCardError, match=r'sha256 .* does not match the card'):
        load_model_dir(path)


def test_corrupted_weights_with_matching_checksum(saved) -> None:
    path, _ = saved
    weights = path / 'model.safetensors'
    weights.write_bytes(b'not a safetensors file')
    _rewrite_card(path, lambda card: card['weights'].update(sha256=sha256_file(weights)))
    with pytest.raises(ModelCardError, match='cannot be read'):
        load_model_dir(path)


def test_card_and_weights_shapes_disagree(saved) -> None:
    path, _ = saved
    _rewrite_card(path, lambda card: card['model_config'].update(widths=[4, 8, 8, 8, 16]))
    with pytest.raises(ModelCardError, match='does not fit the card config'):
        load_model_dir(path)
    tensors = load_file(str(path / 'model.safetensors'))
    tensors.pop('fusion.0.bias')
    save_file(tensors, str(path / 'model.safetensors'))
    _rewrite_card(
        path,
        lambda card: (
            card['model_config'].update(widths=[4, 8, 8, 8, 8])
            or card['weights'].update(sha256=sha256_file(path / 'model.safetensors'))
        ),
    )
    with pytest.raises(ModelCardError, match='1 missing'):
        load_model_dir(path)


@pytest.mark.parametrize(
    ('edit', 'message'),
    [
        (lambda card: card.update(architecture='transformer'), 'unknown architecture'),
        (lambda card: card['model_config'].update(imputation='median'), 'invalid model_config'),
        (lambda card: card['model_config'].update(depth=3), 'invalid model_config'),
        (lambda card: card.pop('weights'), "lacks 'weights'"),
        (
            lambda card: card['model_config'].update(slots=['T2Sag', 'FLAIR']),
            r"slots \['FLAIR'\] unknown; use T2Sag, STIR",
        ),
        (
            lambda card: card['model_config'].update(widths='abc'),
            "widths 'abc' must be a list of positive whole numbers",
        ),
        (
            lambda card: card['model_config'].update(patch_size=[48, 48, 'x']),
            'patch_size .* must be a list of positive whole numbers',
        ),
    ],
)
def test_bad_card(saved, edit, message: str) -> None:
    path, _ = saved
    _rewrite_card(path, edit)
    with pytest.raises(ModelCardError, match=message):
        read_card(path)


def test_postprocess_out_of_range_names_the_card_file(saved) -> None:
    path, _ = saved
    _rewrite_card(path, lambda card: card.update(postprocess={'min_lesion_mm3': -1}))
    with pytest.raises(ModelCardError) as caught:
        load_model_dir(path)
    message = str(caught.value)
    assert message.startswith(f'{path / "card.json"}: "postprocess" min_lesion_mm3 is -1,')
    assert message.endswith('correct or remove it')


def test_postprocess_entry_and_unknown_keys_load(saved) -> None:
    path, _ = saved
    entry = {'threshold': 0.35, 'min_lesion_mm3': 0}
    _rewrite_card(path, lambda card: card.update(postprocess=entry, notes='from a later version'))
    assert read_card(path)['postprocess'] == entry


def test_invalid_json(saved) -> None:
    path, _ = saved
    (path / 'card.json').write_text('{')
    with pytest.raises(ModelCardError, match='not valid JSON'):
        load_model_dir(path)


def test_reserved_card_keys(tmp_path: Path, tiny_config) -> None:
    config = tiny_config()
    with pytest.raises(ValueError, match='may not set'):
        save_model_dir(tmp_path / 'm', MultiSequenceUNet(config), config, {'weights': 1})


def _rewrite_card(path: Path, edit) -> None:
    card = json.loads((path / 'card.json').read_text())
    edit(card)
    (path / 'card.json').write_text(json.dumps(card))


def test_weights_holding_nan_are_refused_naming_the_file(tmp_path: Path, tiny_config) -> None:
    config = tiny_config()
    model = MultiSequenceUNet(config)
    with torch.no_grad():
        next(iter(model.parameters()))[0] = float('nan')
    path = tmp_path / 'diverged'
    save_model_dir(path, model, config, {})  # the checksum matches: the file is as written
    with pytest.raises(ModelCardError) as caught:
        load_model_dir(path)
    message = str(caught.value)
    assert message.startswith(f'{path / "model.safetensors"}: 1 of ')
    assert 'NaN or infinite' in message
    assert message.endswith('use another model folder or retrain it')


def test_the_card_records_the_frame_and_inference_reads_it(saved, tmp_path, tiny_config) -> None:
    path, _ = saved
    assert card_frame(read_card(path), path) == CordFrameConfig(crop_size=16)
    config = tiny_config()
    frame = CordFrameConfig(voxel_mm=0.4, crop_size=16, z_margin_mm=6.0)
    other = tmp_path / 'other'
    save_model_dir(other, MultiSequenceUNet(config), config, {}, frame=frame)
    assert card_frame(read_card(other), other) == frame


@pytest.mark.parametrize(
    ('edit', 'message'),
    [
        ({'crop_size': 48}, r'does not match its patch \[16, 16\]'),
        ({'voxel_mm': 'half'}, 'is not a cord frame'),
        ({'voxel_mm': 0}, 'does not match'),
    ],
)
def test_an_edited_frame_is_a_card_error(saved, edit, message) -> None:
    path, _ = saved
    card = read_card(path)
    card['preprocessing'].update(edit)
    with pytest.raises(ModelCardError, match=message):
        card_frame(card, path)
