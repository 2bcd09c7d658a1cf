"""Which threshold and minimum lesion size apply: the flag's, else the card's, else built-in."""

from __future__ import annotations

import math

import pytest

from bids_app.errors import ModelCardError
from bids_app.postprocess import PostprocessOptions, resolve_options, resolve_tta

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
