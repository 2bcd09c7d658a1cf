"""Choose the post-processing a trained model's card carries, on its validation units.

A network's probabilities are only half a result: where to threshold them, how far to grow a
confident core (hysteresis) and which specks to drop decide its lesions. nnU-Net likewise chooses
its post-processing on cross-validation after training. Each validation unit is predicted once
with its T2Sag alone and once with all its sequences; every setting of a small grid then
post-processes those probabilities, and the one with the best mean validation score
(:func:`bids_app.training.validation.summarise`) over the two rows wins. The card's
``"postprocess"`` entry makes it the participant level's default (``--threshold`` and friends
override it). ``benchmarks/postprocess.py`` runs the same choice over any grid and any extra
labelled frames.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from bids_app.evaluation.subsets import ALL_AVAILABLE
from bids_app.model.network import MultiSequenceUNet
from bids_app.postprocess import PostprocessOptions
from bids_app.progress import progress
from bids_app.training.subjects import TrainingSubject
from bids_app.training.validation import predict_subject, score_subject, summarise

logger = logging.getLogger(__name__)

#: The grid a training run searches: thresholds, grow thresholds (besides none) and smallest
#: lesions in mm^3. Stage 5's card was chosen from a grid like it (docs/status.md).
THRESHOLDS = (0.5, 0.6, 0.7)
GROWS = (0.3, 0.4)
SIZES = (5.0, 10.0, 15.0, 20.0)

#: Rows of the choice: the T2Sag alone and every sequence a unit has.
ROWS = ('T2Sag', ALL_AVAILABLE)

Predictions = Mapping[str, Sequence[tuple[NDArray[np.float32], TrainingSubject]]]


def settings(
    thresholds: Iterable[float], sizes: Iterable[float], grows: Iterable[float]
) -> Iterator[PostprocessOptions]:
    """Each threshold alone, then grown to each grow threshold below it, at each size.

    Examples
    --------
    >>> [(o.threshold, o.grow_threshold, o.min_lesion_mm3)
    ...  for o in settings([0.5, 0.7], [10.0], [0.6])]
    [(0.5, 0.5, 10.0), (0.7, 0.7, 10.0), (0.7, 0.6, 10.0)]
    """
    sizes, grows = list(sizes), sorted(grows)
    for threshold in thresholds:
        for grow in [None, *(g for g in grows if g < threshold)]:
            for size in sizes:
                yield PostprocessOptions(threshold, size, grow_threshold=grow)


def t2sag_alone(subject: TrainingSubject) -> TrainingSubject:
    """The same unit with its other sequences removed (slot 0 is the T2Sag)."""
    return dataclasses.replace(
        subject, images={0: subject.images[0]}, coverage={0: subject.coverage[0]}
    )


def predict_rows(
    model: MultiSequenceUNet,
    subjects: Sequence[TrainingSubject],
    device: torch.device,
    *,
    tta: bool = True,
    bf16: bool = False,
) -> dict[str, list[tuple[NDArray[np.float32], TrainingSubject]]]:
    """Row -> (probability, subject) of every unit, T2Sag alone and all available."""
    was_training = model.training
    model.eval()
    predictions: dict[str, list[tuple[NDArray[np.float32], TrainingSubject]]] = {
        row: [] for row in ROWS
    }
    try:
        for subject in progress(subjects, desc='choose post-processing', unit='unit'):
            for row, given in zip(ROWS, (t2sag_alone(subject), subject), strict=True):
                probability = predict_subject(model, given, device, bf16=bf16, tta=tta)
                predictions[row].append((probability, subject))
    finally:
        model.train(was_training)
    return predictions


def score_settings(
    predictions: Predictions, grid: Iterable[PostprocessOptions]
) -> list[dict[str, Any]]:
    """One row per (row, setting): the validation summary and the lesion-free units' specks."""
    grid = list(grid)
    rows = []
    for row, items in predictions.items():
        for options in grid:
            scores = [score_subject(p, s, options) for p, s in items]
            free = [r for r in scores if r['n_ref'] == 0]
            rows.append({
                'row': row, 'threshold': options.threshold,
                'grow_threshold': options.grow_threshold,
                'min_lesion_mm3': options.min_lesion_mm3, **summarise(scores),
                'lesion_free_units': len(free),
                'lesion_free_fp': sum(int(r['n_pred']) for r in free),
            })  # fmt: skip
    return rows


def best_setting(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The setting whose mean score over the rows (T2Sag alone, all available) is highest.

    Ties go to the first setting in grid order.

    Examples
    --------
    >>> grid = [('a', 0.5, 0.6), ('b', 0.5, 0.8), ('a', 0.7, 0.9), ('b', 0.7, 0.4)]
    >>> rows = [{'row': r, 'threshold': t, 'grow_threshold': t, 'min_lesion_mm3': 1.0, 'score': v}
    ...         for r, t, v in grid]
    >>> best_setting(rows)
    {'threshold': 0.5, 'grow_threshold': 0.5, 'min_lesion_mm3': 1.0, 'score': 0.7}
    """
    scores: dict[tuple, list[float]] = {}
    for r in rows:
        key = (r['threshold'], r['grow_threshold'], r['min_lesion_mm3'])
        scores.setdefault(key, []).append(r['score'])
    key, values = max(scores.items(), key=lambda item: sum(item[1]) / len(item[1]))
    names = ('threshold', 'grow_threshold', 'min_lesion_mm3')
    return {**dict(zip(names, key, strict=True)), 'score': round(sum(values) / len(values), 4)}


def choose_postprocess(predictions: Predictions, *, tta: bool) -> tuple[dict, dict]:
    """The card's ``"postprocess"`` entry chosen on :func:`predict_rows`' ``predictions`` (made
    with mirroring when ``tta``), and a record of the choice for the card.

    Only units with lesions can judge a grid on Dice and lesion F1: check
    :func:`any_lesion` before predicting.
    """
    rows = score_settings(predictions, settings(THRESHOLDS, SIZES, GROWS))
    best = best_setting(rows)
    entry = {k: best[k] for k in ('threshold', 'grow_threshold', 'min_lesion_mm3')}
    units = len(next(iter(predictions.values())))
    record = {
        'units': units,
        'rows': list(predictions),
        'score': best['score'],
        'grid': {'thresholds': THRESHOLDS, 'grow_thresholds': GROWS, 'min_lesion_mm3': SIZES},
    }
    logger.info(
        'post-processing chosen on %d validation units (mirroring TTA %s): threshold %g grown '
        'to %g, lesions of at least %g mm^3 (score %.3f)',
        units,
        'on' if tta else 'off',
        entry['threshold'],
        entry['grow_threshold'],
        entry['min_lesion_mm3'],
        best['score'],
    )
    return {**entry, 'tta': tta}, record


def any_lesion(subjects: Iterable[TrainingSubject]) -> bool:
    """Whether some subject has a reference lesion."""
    return any(s.lesion_z.size for s in subjects)
