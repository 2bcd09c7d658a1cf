"""The runs of a study of the paper's variants: which models, which seeds, in which order.

A study (Walsh et al., MICCAI 2024, Tables 1 and 2) trains on one labelled dataset with one
subject split: the T2Sag baseline, T2Sag with latent feature augmentation, mean imputation, mean
imputation with the T2Sag encoder frozen from the baseline, mean imputation with the L1
distillation loss, and a fixed-combination model for every set of sequences that at least a given
fraction of the training units have. Each model is trained once per seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bids_app.errors import DatasetError
from bids_app.frame import CordFrame
from bids_app.slots import SLOTS, Slot
from bids_app.training.subjects import FrameSource, split_by_subject, subject_of

BASELINE = 'baseline'
#: The study's variants other than the fixed combinations, in training order (the baseline first:
#: the frozen-encoder run copies its T2Sag encoder).
STUDY_VARIANTS: tuple[str, ...] = (
    BASELINE,
    'feature-augmentation',
    'mean-imputation',
    'frozen-encoder',
    'distillation',
)
#: Default share of training units that must have every sequence of a fixed combination.
MIN_FRACTION = 0.2
RUNS_DIR = 'runs'


@dataclass(frozen=True)
class StudyRun:
    """One model trained with one seed.

    Attributes
    ----------
    model : str
        The model's name in the tables: a variant, or ``combination-T2Sag+<X>[+<Y>...]``.
    variant : str
        A key of :data:`bids_app.model.config.VARIANTS`.
    seed : int
        The training seed (the subject split is the same for every run).
    slots : tuple of Slot, optional
        The combination's sequences; ``None`` for the other variants.
    depends_on : str, optional
        :attr:`key` of the run whose model folder initialises (and freezes) this one's T2Sag
        encoder: the baseline of the same seed, for ``frozen-encoder``.
    """

    model: str
    variant: str
    seed: int
    slots: tuple[Slot, ...] | None = None
    depends_on: str | None = None

    @property
    def key(self) -> str:
        """``<model>/seed-<k>``, also the run's folder under ``runs/``."""
        return f'{self.model}/seed-{self.seed}'

    def directory(self, study_dir: Path) -> Path:
        """The run's model folder: ``study_dir/runs/<model>/seed-<k>``."""
        return Path(study_dir) / RUNS_DIR / self.model / f'seed-{self.seed}'

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (slots as strings)."""
        return {
            'model': self.model,
            'variant': self.variant,
            'seed': self.seed,
            'slots': None if self.slots is None else [str(s) for s in self.slots],
            'depends_on': self.depends_on,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyRun:
        """Inverse of :meth:`to_dict`."""
        slots = data.get('slots')
        return cls(
            model=str(data['model']),
            variant=str(data['variant']),
            seed=int(data['seed']),
            slots=None if slots is None else tuple(Slot(s) for s in slots),
            depends_on=data.get('depends_on'),
        )


def combination_name(slots: Sequence[Slot]) -> str:
    """The name of a set of sequences, as the rows of Table 1 spell it.

    Examples
    --------
    >>> combination_name([Slot.T2Sag, Slot.STIR, Slot.T1w])
    'T2Sag+STIR+T1w'
    """
    return '+'.join(str(s) for s in slots)


def frequent_combinations(
    unit_slots: Mapping[str, Iterable[Slot]], min_fraction: float = MIN_FRACTION
) -> dict[tuple[Slot, ...], float]:
    """T2Sag plus each set of other sequences that at least ``min_fraction`` of units have.

    A unit "has" a combination when it has every sequence of it (the fixed-combination model
    trains on those units); a combination no unit has is never kept, whatever the fraction.

    Parameters
    ----------
    unit_slots : mapping
        Unit name -> its sequences (the training units: labelled, with a T2Sag).
    min_fraction : float
        In ``[0, 1]``.

    Returns
    -------
    dict
        Combination (T2Sag first, then :data:`~bids_app.slots.SLOTS` order) -> the fraction of
        units that have it, smallest combinations first.

    Examples
    --------
    >>> units = {'a': [Slot.T2Sag, Slot.STIR, Slot.T1w], 'b': [Slot.T2Sag, Slot.STIR],
    ...          'c': [Slot.T2Sag], 'd': [Slot.T2Sag, Slot.T1w]}
    >>> {combination_name(c): f for c, f in frequent_combinations(units, 0.5).items()}
    {'T2Sag+STIR': 0.5, 'T2Sag+T1w': 0.5}
    >>> [combination_name(c) for c in frequent_combinations(units, 0.25)][-1]
    'T2Sag+STIR+T1w'
    """
    have = [set(slots) for slots in unit_slots.values()]
    if not have:
        return {}
    others = [s for s in SLOTS if s is not Slot.T2Sag and any(s in h for h in have)]
    kept: dict[tuple[Slot, ...], float] = {}
    for size in range(1, len(others) + 1):
        for extra in itertools.combinations(others, size):
            combination = (Slot.T2Sag, *extra)
            count = sum(set(combination) <= h for h in have)
            if count and count / len(have) >= min_fraction:
                kept[combination] = count / len(have)
    return kept


def plan_study(
    unit_slots: Mapping[str, Iterable[Slot]],
    seeds: Sequence[int],
    min_fraction: float = MIN_FRACTION,
) -> list[StudyRun]:
    """Every run of the study, in training order: seed by seed, the baseline first in each.

    Seed-major order means that a study stopped half-way has every model for its first seeds
    rather than every seed of its first models, and the frozen-encoder run of a seed comes after
    the baseline of that seed, whose T2Sag encoder it copies.

    Examples
    --------
    >>> runs = plan_study({'a': [Slot.T2Sag, Slot.STIR]}, seeds=[0, 1])
    >>> [r.key for r in runs][:6]  # doctest: +NORMALIZE_WHITESPACE
    ['baseline/seed-0', 'feature-augmentation/seed-0', 'mean-imputation/seed-0',
     'frozen-encoder/seed-0', 'distillation/seed-0', 'combination-T2Sag+STIR/seed-0']
    >>> runs[3].depends_on, len(runs)
    ('baseline/seed-0', 12)
    """
    combinations = list(frequent_combinations(unit_slots, min_fraction))
    runs = []
    for seed in seeds:
        baseline = StudyRun(BASELINE, BASELINE, seed)
        for variant in STUDY_VARIANTS:
            depends_on = baseline.key if variant == 'frozen-encoder' else None
            runs.append(StudyRun(variant, variant, seed, depends_on=depends_on))
        runs += [
            StudyRun(f'combination-{combination_name(c)}', 'combination', seed, slots=c)
            for c in combinations
        ]
    return runs


def labelled_slots(frames: Mapping[str, FrameSource]) -> dict[str, tuple[Slot, ...]]:
    """The sequences of each unit that can train or be scored: labelled, with a T2Sag.

    Parameters
    ----------
    frames : mapping
        Unit name -> cord frame, its ``.npz`` file, or (str) why pre-processing gave none.
        Files are read for their keys only, not their arrays.
    """
    out = {}
    for name, source in sorted(frames.items()):
        if isinstance(source, str):
            continue
        if isinstance(source, CordFrame):
            slots, labelled = tuple(source.slots), source.labels is not None
        else:
            with np.load(source) as data:
                slots = tuple(s for s in SLOTS if f'crop_{s}' in data.files)
                labelled = 'labels' in data.files
        if labelled and Slot.T2Sag in slots:
            out[name] = slots
    return out


def split_test(
    units: Sequence[str],
    *,
    test_subjects: Sequence[str] = (),
    test_fraction: float = 0.2,
    seed: int = 0,
    groups: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Hold subjects out for testing (every session of a subject on the same side).

    Parameters
    ----------
    units : sequence of str
        The labelled units ``sub-<s>[_ses-<t>]``.
    test_subjects : sequence of str
        Subjects to test on (``sub-<s>``); replaces ``test_fraction``.
    test_fraction : float
        Share of subjects drawn for testing with ``seed`` (at least one).
    seed : int
        The split seed (``--split-seed``); the validation split of each run is drawn later
        from the remaining subjects.
    groups : mapping of str to str, optional
        Subject -> person: a drawn test set holds out whole people
        (:func:`~bids_app.training.subjects.split_by_subject`).

    Returns
    -------
    train, test : list of str
        Unit names, sorted.

    Raises
    ------
    DatasetError
        Test subjects without a labelled cord frame, or no subject left to train on.

    Examples
    --------
    >>> split_test(['sub-1', 'sub-2', 'sub-3_ses-a'], test_subjects=['sub-3'])
    (['sub-1', 'sub-2'], ['sub-3_ses-a'])
    """
    known = {subject_of(u) for u in units}
    unknown = sorted(set(test_subjects) - known)
    if unknown:
        raise DatasetError(
            f'test subjects {unknown} have no labelled cord frame (labelled subjects: '
            f'{sorted(known)}); fix --test-subjects'
        )
    if not test_subjects and test_fraction <= 0:
        raise DatasetError('a study needs test subjects; give --test-subjects or --test-fraction')
    try:
        train, test = split_by_subject(
            units,
            val_fraction=test_fraction,
            seed=seed,
            val_subjects=tuple(test_subjects),
            groups=groups,
        )
    except DatasetError as err:  # its advice names the validation options, not ours
        raise DatasetError(
            f'no subject of {len(known)} left to train on after holding out the test subjects; '
            'lower --test-fraction or list fewer --test-subjects'
        ) from err
    if not test:
        raise DatasetError(
            f'no test subject drawn from {len(known)} subject(s); give --test-subjects'
        )
    return train, test
