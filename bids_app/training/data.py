"""Patches for training: full in-plane windows at random z, lesion oversampling, a data loader.

Every random choice for sample ``i`` comes from ``numpy.random.default_rng((seed, i))``, and
iteration ``t`` of process ``r`` out of ``W`` reads samples ``((t W + r) B + b)`` for
``b < B``. A batch is therefore a function of the seed and the iteration only: the same with 0 or
8 worker processes, and the sampler's position in a checkpoint is the iteration number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader, Dataset, Sampler

from bids_app.training.subjects import TrainingSubject

Window = tuple[int, int, int]


def patch_window(
    length: int, patch: int, rng: np.random.Generator, target: int | None = None
) -> Window:
    """Where a patch of ``patch`` slices reads a volume of ``length`` slices.

    Parameters
    ----------
    length : int
        Slices ``Z`` of the volume.
    patch : int
        Slices of the patch.
    rng : numpy.random.Generator
    target : int, optional
        A slice the patch must contain (oversampling); uniform over the allowed starts.

    Returns
    -------
    source, dest, count : int
        ``patch[dest:dest + count] = volume[source:source + count]``; the rest is zero padding.
        A volume shorter than the patch sits at a random offset inside it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> patch_window(100, 32, rng, target=5)[1:]  # starts 0..5 contain slice 5
    (0, 32)
    >>> patch_window(10, 32, rng)[0], patch_window(10, 32, rng)[2]
    (0, 10)
    """
    if length < patch:
        return 0, int(rng.integers(0, patch - length + 1)), length
    low, high = 0, length - patch
    if target is not None:
        low, high = max(low, target - patch + 1), min(high, target)
    return int(rng.integers(low, high + 1)), 0, patch


class PatchDataset(Dataset):
    """Sample ``i`` -> one patch of one training subject (map-style, for worker processes).

    Parameters
    ----------
    subjects : sequence of TrainingSubject
    n_slots : int
        Slots of the model ``S``.
    patch_z : int
        Patch length along z in slices.
    oversample : float
        Probability that the patch contains a reference lesion of the chosen subject (chosen
        uniformly among its lesions, then a slice of it uniformly), when it has any.
    seed : int

    Notes
    -----
    A sample is a dict of arrays in the network layout: ``images`` (S, P, X, Y) float32 (zero
    for absent slots and padding), ``coverage`` (S, P, X, Y) bool, ``presence`` (S,) bool,
    ``labels`` (P, X, Y) int64.
    """

    def __init__(
        self,
        subjects: Sequence[TrainingSubject],
        n_slots: int,
        patch_z: int,
        oversample: float,
        seed: int,
    ) -> None:
        self.subjects = list(subjects)
        self.n_slots = n_slots
        self.patch_z = patch_z
        self.oversample = oversample
        self.seed = seed

    def __getitem__(self, index: int) -> dict[str, NDArray]:
        rng = np.random.default_rng((self.seed, int(index)))
        subject = self.subjects[int(rng.integers(len(self.subjects)))]
        target = None
        if rng.random() < self.oversample and len(subject.lesion_z):
            first, last = subject.lesion_z[int(rng.integers(len(subject.lesion_z)))]
            target = int(rng.integers(first, last + 1))
        source, dest, count = patch_window(subject.length, self.patch_z, rng, target)
        in_plane = subject.labels.shape[1:]
        images = np.zeros((self.n_slots, self.patch_z, *in_plane), np.float32)
        coverage = np.zeros(images.shape, bool)
        for slot, crop in subject.images.items():
            images[slot, dest : dest + count] = crop[source : source + count]
            coverage[slot, dest : dest + count] = subject.coverage[slot][source : source + count]
        labels = np.zeros((self.patch_z, *in_plane), np.int64)
        labels[dest : dest + count] = subject.labels[source : source + count]
        return {
            'images': images,
            'coverage': coverage,
            'presence': subject.presence_of(self.n_slots),
            'labels': labels,
        }


class IterationBatches(Sampler[list[int]]):
    """Batches of sample indices for iterations ``start .. stop - 1`` of one process.

    Examples
    --------
    >>> list(IterationBatches(1, 3, batch_size=2, rank=1, world_size=2))
    [[6, 7], [10, 11]]
    """

    def __init__(
        self, start: int, stop: int, *, batch_size: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.start, self.stop = start, stop
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for iteration in range(self.start, self.stop):
            first = (iteration * self.world_size + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)


def make_loader(
    dataset: PatchDataset,
    batches: IterationBatches,
    *,
    num_workers: int,
    pin_memory: bool,
) -> DataLoader:
    """A loader over ``batches``; tensors pinned for fast copies to a GPU when asked."""
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
    )


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move every tensor of a batch (asynchronously from pinned memory)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
