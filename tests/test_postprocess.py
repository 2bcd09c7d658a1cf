"""Which thresholds and minimum lesion size apply (the flag's, else the card's, else built-in),
and what hysteresis keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bids_app.errors import ModelCardError
from bids_app.postprocess import (
    PostprocessOptions,
    field_of_view,
    hysteresis,
    postprocess,
    resolve_options,
    resolve_tta,
)

BOTH = {'postprocess': {'threshold': 0.3, 'min_lesion_mm3': 4}}


@pytest.mark.parametrize(
    ('card', 'flags', 'expected'),
    [
        (None, {}, (0.5, 1.0)),  # no card: built-in
        ({'name': 'old', 'training': {}}, {}, (0.5, 1.0)),  # a card from before "postprocess"
        ({'postprocess': {}}, {}, (0.5, 1.0)),
        ({'postprocess': {'threshold': 0.3}}, {}, (0.3, 1.0)),  # either key may be absent
        ({'postprocess': {'min_lesion_mm3': 4}}, {}, (0.5, 4.0)),
        ({'postprocess': {'min_lesion_mm3': 0}}, {}, (0.5, 0.0)),  # 0 is a value, not "unset"
        (BOTH, {}, (0.3, 4.0)),
        (BOTH, {'threshold': 0.7}, (0.7, 4.0)),  # a flag beats the card, key by key
        (BOTH, {'min_lesion_mm3': 0.0}, (0.3, 0.0)),
        (BOTH, {'threshold': 0.7, 'min_lesion_mm3': 2.5}, (0.7, 2.5)),
        (None, {'threshold': 0.2, 'min_lesion_mm3': 0.0}, (0.2, 0.0)),
    ],
)
def test_flag_beats_card_beats_builtin(card, flags, expected) -> None:
    options = resolve_options(card, **flags)
    assert (options.threshold, options.min_lesion_mm3) == expected
    # what the card cannot set keeps its default
    assert options.cord_margin_mm == PostprocessOptions().cord_margin_mm == 3.0
    assert options.centreline_radius_mm == PostprocessOptions().centreline_radius_mm == 8.0


@pytest.mark.parametrize(
    ('entry', 'message'),
    [
        ({'threshold': 1.0}, 'threshold is 1.0, it must be strictly between 0 and 1'),
        ({'threshold': 0}, 'threshold is 0, it must be strictly between 0 and 1'),
        ({'threshold': '0.4'}, "threshold is '0.4', it must be strictly between 0 and 1"),
        ({'threshold': True}, 'threshold is True'),
        ({'grow_threshold': 0.0}, 'grow_threshold is 0.0, it must be strictly between 0 and 1'),
        ({'min_lesion_mm3': -0.5}, 'min_lesion_mm3 is -0.5, it must be a finite number of at'),
        ({'min_lesion_mm3': math.inf}, 'min_lesion_mm3 is inf'),
        ({'min_lesion_mm3': None}, 'min_lesion_mm3 is None'),
        ({'min_lesion': 2}, "unknown key(s) ['min_lesion']"),
        ({'tta': 1}, 'tta is 1, it must be true or false'),
        ({'tta': 'yes'}, "tta is 'yes', it must be true or false"),
        ([0.5, 1.0], 'make it an object'),
    ],
)
def test_card_values_out_of_range_are_refused(entry, message) -> None:
    with pytest.raises(ModelCardError) as caught:
        resolve_options({'postprocess': entry})
    assert message in str(caught.value)
    # a flag does not excuse a broken card: the card is wrong either way
    with pytest.raises(ModelCardError):
        resolve_options({'postprocess': entry}, threshold=0.5, min_lesion_mm3=1.0)


@pytest.mark.parametrize(
    ('card', 'flag', 'expected'),
    [
        (None, None, False),  # no card: off
        ({'postprocess': {'threshold': 0.3}}, None, False),  # a card without the key: off
        ({'postprocess': {'tta': True}}, None, True),  # the card's choice
        ({'postprocess': {'tta': True}}, False, False),  # --no-tta beats the card
        ({'postprocess': {'tta': False}}, True, True),  # --tta beats the card
    ],
)
def test_tta_flag_beats_card_beats_off(card, flag, expected) -> None:
    assert resolve_tta(card, flag) is expected
    # the card's tta is not a post-processing option of the mask
    assert resolve_options(card) == resolve_options(
        {
            'postprocess': {
                k: v for k, v in ((card or {}).get('postprocess') or {}).items() if k != 'tta'
            }
        }
    )


@pytest.mark.parametrize(
    ('card', 'flags', 'expected'),
    [
        (None, {}, 0.5),  # no growing: the threshold itself
        ({'postprocess': {'threshold': 0.7, 'grow_threshold': 0.3}}, {}, 0.3),
        ({'postprocess': {'threshold': 0.7, 'grow_threshold': 0.3}}, {'grow_threshold': 0.5}, 0.5),
        # a --threshold under the card's grow threshold thresholds there: no growing
        ({'postprocess': {'threshold': 0.7, 'grow_threshold': 0.3}}, {'threshold': 0.2}, 0.2),
        ({'postprocess': {'grow_threshold': 0.9}}, {}, 0.5),
    ],
)
def test_grow_threshold_never_above_the_threshold(card, flags, expected) -> None:
    assert resolve_options(card, **flags).grow_threshold == expected


def test_hysteresis_keeps_the_rim_of_a_confident_core_only() -> None:
    """A 3 x 3 x 3 core at 0.9 inside a 5 x 5 x 5 rim at 0.4, and a lone cube at 0.4."""
    probability = np.zeros((12, 12, 12), np.float32)
    probability[1:6, 1:6, 1:6] = 0.4
    probability[2:5, 2:5, 2:5] = 0.9
    probability[7:10, 7:10, 7:10] = 0.4
    probability[6, 6, 6] = 0.4  # touches both only diagonally: 26-connectivity joins them
    grown = hysteresis(probability, 0.7, 0.3)
    assert grown.sum() == 125 + 1 + 27
    probability[6, 6, 6] = 0.0
    grown = hysteresis(probability, 0.7, 0.3)
    assert grown.sum() == 125
    assert grown[1:6, 1:6, 1:6].all()
    assert (hysteresis(probability, 0.7, 0.7) == (probability >= 0.7)).all()
    assert hysteresis(probability, 0.95, 0.3).sum() == 0  # no core, nothing grows
    options = PostprocessOptions(threshold=0.7, min_lesion_mm3=0.0, grow_threshold=0.3)
    assert postprocess(probability, options).sum() == 125
    assert postprocess(probability, PostprocessOptions(0.7, 0.0)).sum() == 27


def test_no_lesion_outside_the_field_of_view() -> None:
    """A confident blob beyond a short field of view is dropped; one across its edge keeps only
    its seen part, and the unseen part cannot carry hysteresis across to another core."""
    probability = np.zeros((10, 10, 20), np.float32)
    probability[2:5, 2:5, 1:4] = 0.99  # 27 voxels, all beyond the field of view (z < 6)
    probability[5:8, 5:8, 4:8] = 0.9  # 36 voxels: z 4-5 unseen, z 6-7 seen (18)
    seen = np.zeros(probability.shape, bool)
    seen[:, :, 6:] = True
    options = PostprocessOptions(threshold=0.5, min_lesion_mm3=0.0)
    assert postprocess(probability, options).sum() == 27 + 36  # default: everywhere counts
    kept = postprocess(probability, options, seen=seen)
    assert kept.sum() == 18
    assert not kept[:, :, :6].any()
    # a seen rim at 0.4 touches an unseen core only: nothing grows from what no image shows
    probability[:] = 0.0
    probability[2:5, 2:5, 4:6] = 0.9
    probability[2:5, 2:5, 6:9] = 0.4
    grown = PostprocessOptions(threshold=0.7, min_lesion_mm3=0.0, grow_threshold=0.3)
    assert postprocess(probability, grown).sum() == 45
    assert postprocess(probability, grown, seen=seen).sum() == 0
    # the smallest size applies to what is left in view: 18 voxels = 2.25 mm^3 < 3 mm^3
    probability[:] = 0.0
    probability[5:8, 5:8, 4:8] = 0.9
    assert postprocess(probability, PostprocessOptions(0.5, 3.0)).sum() == 36
    assert postprocess(probability, PostprocessOptions(0.5, 3.0), seen=seen).sum() == 0


def test_field_of_view_is_the_union_of_the_sequences_given() -> None:
    sagittal = np.zeros((4, 4, 10), bool)
    sagittal[:, :, 3:] = True
    axial = np.zeros((4, 4, 10), bool)
    axial[:, :, :5] = True
    assert field_of_view([sagittal]).sum() == 4 * 4 * 7
    assert field_of_view([sagittal, axial]).all()
    assert field_of_view(iter([])) is None
