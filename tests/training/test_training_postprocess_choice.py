"""Choosing the card's post-processing on validation units: known answers on hand-made maps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from training_frames import N, make_frame

from bids_app.config import CordFrameConfig
from bids_app.model.layout import from_network_layout
from bids_app.postprocess import PostprocessOptions, card_defaults
from bids_app.slots import Slot
from bids_app.training.postprocess_choice import (
    ROWS,
    any_lesion,
    best_setting,
    choose_postprocess,
    score_settings,
    settings,
    t2sag_alone,
)
from bids_app.training.subjects import to_training_subject
from bids_app.training.validation import score_subject

SLOTS = (Slot.T2Sag, Slot.STIR)
VOXEL_MM3 = 0.5**3  # the cord frame's voxel


def _subject(seed: int, *, lesion: bool = True):
    return to_training_subject(
        f'sub-{seed}', make_frame(seed, SLOTS, lesion=lesion), SLOTS, (N, N)
    )


def _with_speck(probability: np.ndarray, z: int) -> np.ndarray:
    """A confident 2 x 2 x 2 speck (1 mm^3) beside the centre column, at slice ``z``."""
    probability[7:9, 7:9, z : z + 2] = 0.95
    return probability


def test_grid_keeps_a_faint_small_lesion_and_drops_a_confident_speck():
    with_lesion = _subject(1)
    reference = from_network_layout(with_lesion.labels) > 0
    lesion_voxels = int(reference.sum())
    assert 5.0 <= lesion_voxels * VOXEL_MM3 < 10.0  # kept from 5 mm^3, dropped from 10
    # The network is unsure of the lesion (0.55) and sure of a speck far from it (0.95).
    probability = np.where(reference, 0.55, 0.02).astype(np.float32)
    far = 2 if np.flatnonzero(reference.any(axis=(0, 1))).min() > 10 else reference.shape[2] - 4
    probability = _with_speck(probability, far)
    free = _subject(2, lesion=False)
    free_probability = _with_speck(np.full(reference.shape, 0.02, np.float32), 20)
    items = [(probability, with_lesion), (free_probability, free)]
    grid = settings([0.5, 0.7], [1.0, 5.0, 10.0], [0.4])
    rows = score_settings(dict.fromkeys(ROWS, items), grid)

    # 2 rows x (0.5 and 0.7, each alone and grown to 0.4) x 3 sizes
    assert len(rows) == 2 * 4 * 3
    by_setting = {(r['threshold'], r['grow_threshold'], r['min_lesion_mm3']): r for r in rows}
    # Only 0.5 finds a lesion whose every voxel is 0.55 (no core to grow from at 0.7); 1 mm^3
    # keeps both specks, 10 mm^3 loses the lesion too.
    assert by_setting[(0.5, 0.5, 5.0)]['dice'] == 1.0
    assert by_setting[(0.5, 0.5, 5.0)]['f1'] == 1.0
    assert by_setting[(0.5, 0.5, 5.0)]['lesion_free_fp'] == 0
    assert by_setting[(0.5, 0.5, 1.0)]['lesion_free_fp'] == 1
    assert by_setting[(0.5, 0.5, 10.0)]['dice'] == 0.0
    assert by_setting[(0.7, 0.4, 5.0)]['dice'] == 0.0
    assert best_setting(rows) == {
        'threshold': 0.5,
        'grow_threshold': 0.5,
        'min_lesion_mm3': 5.0,
        'score': 1.0,
    }


def test_t2sag_alone_keeps_only_slot_zero():
    subject = _subject(3)
    alone = t2sag_alone(subject)
    assert set(subject.images) == {0, 1}
    assert set(alone.images) == set(alone.coverage) == {0}
    assert alone.images[0] is subject.images[0]
    assert alone.labels is subject.labels


def test_any_lesion():
    assert any_lesion([_subject(4, lesion=False), _subject(5)])
    assert not any_lesion([_subject(4, lesion=False), _subject(6, lesion=False)])
    assert not any_lesion([])


def test_choice_becomes_a_card_entry_with_its_record():
    subject = _subject(7)
    reference = from_network_layout(subject.labels) > 0
    probability = np.where(reference, 0.9, 0.0).astype(np.float32)
    items = [(probability, subject)]
    entry, record = choose_postprocess(dict.fromkeys(ROWS, items), tta=True)
    # Every setting finds the lesion whole; the first in grid order wins the tie.
    assert entry == {'threshold': 0.5, 'grow_threshold': 0.5, 'min_lesion_mm3': 5.0, 'tta': True}
    assert card_defaults({'postprocess': entry}) == entry  # a card accepts it
    assert record['units'] == 1
    assert record['rows'] == list(ROWS)
    assert record['score'] == 1.0


def test_a_confident_lesion_beyond_the_field_of_view_is_not_counted():
    """Validation post-processes as the participant level does: nothing is reported where the
    given sequences have no image, and the field of view is theirs (T2Sag alone: its own)."""
    frame = make_frame(3, SLOTS, lesion=False)
    frame.coverage[Slot.T2Sag][:, :, :6] = False  # a short sagittal: slices 0-5 unseen
    subject = to_training_subject('sub-3', frame, SLOTS, (N, N))
    probability = np.full(from_network_layout(subject.labels).shape, 0.02, np.float32)
    probability[6:10, 6:10, 1:5] = 0.99  # 8 mm^3, all in slices only the STIR sees
    options = PostprocessOptions(0.5, 1.0)
    assert score_subject(probability, subject, options)['n_pred'] == 1
    assert score_subject(probability, t2sag_alone(subject), options)['n_pred'] == 0
    frame.coverage[Slot.STIR][:, :, :6] = False
    nobody = to_training_subject('sub-3', frame, SLOTS, (N, N))
    assert score_subject(probability, nobody, options)['n_pred'] == 0


def test_lesion_sizes_are_measured_in_the_frame_of_the_unit():
    """A 2 x 2 x 2 voxel speck is 1 mm^3 in the default 0.5 mm frame and 8 mm^3 in a model's 1 mm
    frame: the smallest kept lesion (5 mm^3) drops the one and keeps the other."""
    frame = make_frame(4, SLOTS, lesion=False)
    fine = to_training_subject('sub-4', frame, SLOTS, (N, N))
    coarse = to_training_subject(
        'sub-4', replace(frame, config=CordFrameConfig(voxel_mm=1.0)), SLOTS, (N, N)
    )
    assert (fine.voxel_mm, coarse.voxel_mm) == (0.5, 1.0)
    probability = _with_speck(
        np.full(from_network_layout(fine.labels).shape, 0.02, np.float32), 20
    )
    options = PostprocessOptions(0.5, 5.0)
    assert score_subject(probability, fine, options)['n_pred'] == 0
    assert score_subject(probability, coarse, options)['n_pred'] == 1
