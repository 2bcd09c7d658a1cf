"""Patch sampling: windows along z, padding, lesion oversampling, reproducible batches."""

from __future__ import annotations

import numpy as np
import torch
from training_frames import make_frame

from bids_app.slots import Slot
from bids_app.training.data import IterationBatches, PatchDataset, make_loader, patch_window
from bids_app.training.subjects import to_training_subject


def test_patch_window_bounds_and_targets():
    rng = np.random.default_rng(0)
    starts = {patch_window(40, 32, rng)[0] for _ in range(400)}
    assert starts == set(range(9))  # every start 0..8, none beyond
    for target in (0, 20, 39):
        for _ in range(50):
            source, dest, count = patch_window(40, 32, rng, target)
            assert (dest, count) == (0, 32)
            assert source <= target < source + 32
    offsets = {patch_window(10, 32, rng)[1] for _ in range(400)}
    assert offsets == set(range(23))  # a short volume anywhere inside the patch
    assert patch_window(32, 32, rng) == (0, 0, 32)


def _dataset(frames, oversample=0.0, seed=0, patch_z=32):
    slots = (Slot.T2Sag, Slot.STIR)
    subjects = [to_training_subject(n, f, slots, (16, 16)) for n, f in frames.items()]
    return PatchDataset(subjects, len(slots), patch_z, oversample, seed)


def test_samples_depend_only_on_seed_and_index():
    frames = {'sub-1': make_frame(1, (Slot.T2Sag, Slot.STIR)), 'sub-2': make_frame(2)}
    a, b = _dataset(frames)[7], _dataset(frames)[7]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a['images'].shape == (2, 32, 16, 16)
    assert a['labels'].dtype == np.int64
    assert any(
        not np.array_equal(_dataset(frames)[i]['images'], a['images']) for i in range(8, 12)
    )


def test_full_oversampling_always_shows_a_lesion():
    frames = {'sub-1': make_frame(1, length=200)}  # the lesion is 5 of 200 slices
    dataset = _dataset(frames, oversample=1.0)
    assert all(dataset[i]['labels'].any() for i in range(40))
    plain = _dataset(frames, oversample=0.0)
    assert not all(plain[i]['labels'].any() for i in range(40))


def test_short_frames_are_padded_and_absent_slots_are_empty():
    frames = {'sub-1': make_frame(1, length=20, lesion=False)}
    sample = _dataset(frames, oversample=1.0)[0]  # no lesion: oversampling falls back
    covered = sample['coverage'][0].any(axis=(1, 2))
    assert covered.sum() == 20
    first = int(np.argmax(covered))
    assert covered[first : first + 20].all()
    assert (sample['images'][0][~covered] == 0).all()
    assert sample['presence'].tolist() == [True, False]
    assert not sample['images'][1].any()
    assert not sample['coverage'][1].any()


def test_batches_are_the_same_with_worker_processes():
    frames = {'sub-1': make_frame(1, (Slot.T2Sag, Slot.STIR)), 'sub-2': make_frame(2)}
    batches = IterationBatches(3, 5, batch_size=2)
    assert list(batches) == [[6, 7], [8, 9]]
    serial = list(make_loader(_dataset(frames), batches, num_workers=0, pin_memory=False))
    parallel = list(make_loader(_dataset(frames), batches, num_workers=2, pin_memory=False))
    for one, two in zip(serial, parallel, strict=True):
        for key in one:
            assert torch.equal(one[key], two[key])
