"""Frames -> training subjects: normalisation, slots, lesion extents, the subject split."""

from __future__ import annotations

import numpy as np
import pytest
from training_frames import make_frame

from bids_app.errors import DatasetError
from bids_app.slots import Slot
from bids_app.training.options import TrainConfig
from bids_app.training.subjects import (
    lesion_extents,
    load_frames,
    resolve_slots,
    split_by_subject,
    to_training_subject,
)


def test_training_subject_is_z_scored_in_network_layout():
    frame = make_frame(0, (Slot.T2Sag, Slot.T1w), length=40)
    frame.coverage[Slot.T1w][:, :, 30:] = False
    subject = to_training_subject('sub-00', frame, (Slot.T2Sag, Slot.STIR, Slot.T1w), (16, 16))
    assert sorted(subject.images) == [0, 2]  # T2Sag and T1w; STIR absent
    t1 = subject.images[2]
    assert t1.shape == (40, 16, 16)  # (z, x, y)
    inside = subject.coverage[2]
    assert inside[:30].all()
    assert not inside[30:].any()
    assert t1[inside].mean() == pytest.approx(0, abs=1e-5)
    assert t1[inside].std() == pytest.approx(1, abs=1e-4)
    assert (t1[~inside] == 0).all()
    assert subject.presence_of(3).tolist() == [True, False, True]
    np.testing.assert_array_equal(subject.labels, np.moveaxis(frame.labels, -1, 0))


def test_crop_size_must_match_the_patch():
    with pytest.raises(DatasetError, match=r'sub-00: T2Sag crop is \(16, 16\)'):
        to_training_subject('sub-00', make_frame(0), (Slot.T2Sag,), (48, 48))


def test_lesion_extents_per_connected_lesion():
    labels = np.zeros((20, 4, 4), np.uint8)
    labels[3:6, 1, 1] = 1
    labels[6, 2, 2] = 1  # touches the first by a corner: same lesion (26-connectivity)
    labels[12:15, 0, 3] = 1
    assert lesion_extents(labels).tolist() == [[3, 6], [12, 14]]
    assert lesion_extents(np.zeros((5, 2, 2))).shape == (0, 2)


def test_frames_without_labels_or_with_a_reason_are_left_out(tmp_path):
    saved = make_frame(1).save(tmp_path / 'sub-01.npz')
    units = {
        'sub-01': saved,
        'sub-02': make_frame(2, labels=False),
        'sub-03': 'no T2Sag found',
    }
    usable, left_out = load_frames(units)
    assert list(usable) == ['sub-01']
    assert left_out == {
        'sub-02': 'no reference lesion label matched its T2Sag',
        'sub-03': 'no T2Sag found',
    }


def test_mean_imputation_takes_the_slots_present():
    counts = dict.fromkeys(Slot, 0) | {Slot.T2Sag: 4, Slot.STIR: 2, Slot.T1w: 1}
    assert resolve_slots(TrainConfig(), counts, 4) == (Slot.T2Sag, Slot.STIR, Slot.T1w)
    assert resolve_slots(TrainConfig(variant='baseline'), counts, 4) == (Slot.T2Sag,)
    with pytest.raises(DatasetError, match=r"needs \['T2Ax'\].*T2Sag 4/4, STIR 2/4"):
        resolve_slots(TrainConfig(slots=('T2Sag', 'T2Ax')), counts, 4)


def test_split_keeps_sessions_together_and_repeats_with_the_seed():
    units = [f'sub-{s}_ses-{t}' for s in 'abcdefgh' for t in (1, 2)] + ['sub-i']
    train, val = split_by_subject(units, val_fraction=0.25, seed=3)
    assert len({u.split('_')[0] for u in val}) == 2  # round(0.25 * 9 subjects)
    assert not {u.split('_')[0] for u in train} & {u.split('_')[0] for u in val}
    assert sorted(train + val) == sorted(units)
    assert split_by_subject(units, val_fraction=0.25, seed=3) == (train, val)
    assert split_by_subject(units, val_fraction=0.25, seed=4) != (train, val)


def test_split_edge_cases():
    assert split_by_subject(['sub-1', 'sub-2'], val_fraction=0.1, seed=0)[1] != []  # at least 1
    assert split_by_subject(['sub-1'], val_fraction=0.5, seed=0) == (['sub-1'], [])
    with pytest.raises(DatasetError, match=r"\['sub-9'\] have no labelled"):
        split_by_subject(['sub-1', 'sub-2'], val_fraction=0, seed=0, val_subjects=['sub-9'])
    with pytest.raises(DatasetError, match='no subject left'):
        split_by_subject(['sub-1'], val_fraction=0, seed=0, val_subjects=['sub-1'])


def _people(n_people: int, copies: int) -> tuple[list[str], dict[str, str]]:
    """``copies`` subjects made from each of ``n_people`` people, and 20 phantoms of their own."""
    made = {f'sub-p{p}ins{c}': f'sub-p{p}' for p in range(n_people) for c in range(copies)}
    return sorted([*made, *(f'sub-{i:03d}' for i in range(20))]), made


@pytest.mark.parametrize('seed', range(6))
def test_split_with_groups_holds_out_whole_people(seed):
    units, groups = _people(4, 5)  # 40 subjects
    train, val = split_by_subject(units, val_fraction=0.25, seed=seed, groups=groups)
    for person in set(groups.values()):
        copies = {u for u, g in groups.items() if g == person}
        assert copies <= set(val) or not copies & set(val)  # never split across train and val
    assert set(train) | set(val) == set(units)
    assert not set(train) & set(val)
    # the share is reached with whole people: 10 wanted, never more than 15
    assert 10 <= len(val) <= 15
    assert split_by_subject(units, val_fraction=0.25, seed=seed, groups=groups) == (train, val)


def test_split_without_groups_is_unchanged_by_empty_groups():
    units, _ = _people(4, 5)
    assert split_by_subject(units, val_fraction=0.25, seed=2, groups={}) == split_by_subject(
        units, val_fraction=0.25, seed=2
    )


def test_explicit_validation_subjects_beat_groups():
    units, groups = _people(2, 3)
    _, val = split_by_subject(
        units, val_fraction=0.5, seed=0, val_subjects=['sub-p0ins0'], groups=groups
    )
    assert val == ['sub-p0ins0']
