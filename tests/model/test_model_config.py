from __future__ import annotations

import json

import pytest

from bids_app.errors import UsageError
from bids_app.model.config import VARIANTS, ModelConfig, variant_config
from bids_app.model.layout import from_network_layout, to_network_layout, xyz_to_zxy
from bids_app.slots import SLOTS, Slot


def test_total_stride_is_paper_bottleneck() -> None:
    # Four downsamplings: 8x in-plane, 16x along z -> 4 x 4 x 8 mm at 0.5 mm.
    assert ModelConfig().total_stride == (8, 8, 16)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_json_round_trip(variant: str) -> None:
    slots = ['T2Sag', 'T2starAx'] if variant == 'combination' else None
    config = variant_config(variant, slots=slots)
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_variants_differ_only_where_the_paper_says() -> None:
    base = ModelConfig(widths=(16, 32, 64, 128, 160))
    diffs = {}
    for name in VARIANTS:
        slots = ('T2Sag', 'STIR') if name == 'combination' else None
        cfg = variant_config(name, slots=slots).to_dict()
        diffs[name] = {k for k, v in cfg.items() if v != base.to_dict()[k]}
    assert diffs == {
        'baseline': {'slots', 'imputation'},
        'combination': {'slots', 'imputation'},
        'mean-imputation': set(),
        'frozen-encoder': {'freeze_encoders'},
        'distillation': {'distill_weight'},
        'feature-augmentation': {'slots', 'imputation', 'latent_noise'},
        'coverage-imputation': {'imputation'},
        'skip-fusion': {'fuse_skips'},
    }
    assert variant_config('distillation').distill_weight == 0.1
    assert variant_config('mean-imputation').slots == SLOTS


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'slots': (Slot.STIR,)}, 'must start with T2Sag'),
        ({'slots': (Slot.T2Sag, Slot.T1w, Slot.STIR)}, 'in the order'),
        ({'imputation': 'median'}, 'unknown'),
        ({'patch_size': (48, 48, 100)}, 'divisible'),
        ({'slots': (Slot.T2Sag,), 'freeze_encoders': (Slot.STIR,)}, 'lacks'),
        ({'slots': ('T2Sag', 'FLAIR')}, r"slots \['FLAIR'\] unknown"),
        ({'slots': 'T2Sag'}, 'must be a list of slot names'),
        ({'widths': 'abc'}, 'must be a list of positive whole numbers'),
        ({'widths': (32, 64, 0, 256, 320)}, 'must be a list of positive whole numbers'),
        ({'widths': (32, 64.5, 128, 256, 320)}, 'must be a list of positive whole numbers'),
        ({'strides': 2}, r'must be a list of \[x, y, z\] steps'),
    ],
)
def test_invalid_configs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ModelConfig(**kwargs)


def test_variant_errors() -> None:
    with pytest.raises(UsageError, match='needs its slots'):
        variant_config('combination')
    with pytest.raises(UsageError, match='T2Sag only'):
        variant_config('baseline', slots=['T2Sag', 'STIR'])
    with pytest.raises(UsageError, match='unknown variant'):
        variant_config('dropout')
    with pytest.raises(UsageError, match='unknown model config keys'):
        ModelConfig.from_dict({'depth': 3})


def test_layout_moves_z_first_and_back() -> None:
    import numpy as np

    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (x, y, z)
    b = to_network_layout(a)
    assert b.shape == (4, 2, 3)
    assert b[3, 1, 2] == a[1, 2, 3]
    np.testing.assert_array_equal(from_network_layout(b), a)
    assert xyz_to_zxy((1, 2, 3)) == (3, 1, 2)
