"""Tables 1 and 2 of the study from per-unit scores of every model and seed.

Each figure is a mean over seeds of a mean over units: for each seed, Dice (or lesion-wise F1) is
averaged over the units (the paper's "per image, then the mean over images"), and the table gives
the mean and the sample standard deviation of those per-seed means.

Table 2 compares each model with the T2Sag baseline at T2Sag-only inference with a two-sided
Wilcoxon signed-rank test over the test units, paired by unit: each unit's value is its mean over
the model's seeds (so the pairs are independent images, not image x seed replicates).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bids_app.evaluation.subsets import ALL_AVAILABLE
from bids_app.slots import SLOTS
from bids_app.stats import describe, wilcoxon_paired
from bids_app.study.plan import BASELINE

#: The row of T2Sag-only inference, and the cohort that holds every unit.
T2SAG_ROW = 'T2Sag'
ALL_COHORTS = 'all'

TABLE1_COLUMNS: dict[str, str] = {
    'model': 'Model (training variant, or combination-<sequences> for a fixed combination)',
    'cohort': "Units counted: 'all', or one value of the cohort column of participants.tsv",
    'row': 'Sequences given at inference: T2Sag, T2Sag+<X>..., or every sequence each unit has',
    'n_units': 'Test units (subject/sessions) in this cohort that have the sequences of the row',
    'n_seeds': 'Seeds (trained runs) of the model',
    'dice': 'Mean over seeds of the mean Dice over the units',
    'dice_seed_std': 'Sample standard deviation over seeds of the mean Dice',
    'f1': 'Mean over seeds of the mean lesion-wise F1 over the units',
    'f1_seed_std': 'Sample standard deviation over seeds of the mean F1',
}
TABLE2_COLUMNS: dict[str, str] = {
    'model': 'Model, given T2Sag alone at inference',
    'n_seeds': 'Seeds (trained runs) of the model',
    'n_units': 'Test units scored',
    'dice': 'Mean over seeds of the mean Dice over the units',
    'dice_seed_std': 'Sample standard deviation over seeds of the mean Dice',
    'f1': 'Mean over seeds of the mean lesion-wise F1 over the units',
    'f1_seed_std': 'Sample standard deviation over seeds of the mean F1',
    'n_pairs': 'Units paired with the baseline (each unit: its mean over seeds)',
    'dice_p': 'Two-sided Wilcoxon signed-rank p of Dice against the baseline, paired by unit',
    'f1_p': 'Two-sided Wilcoxon signed-rank p of F1 against the baseline, paired by unit',
}


@dataclass(frozen=True)
class Score:
    """One unit scored by one run under one set of sequences."""

    model: str
    seed: int
    unit: str
    row: str
    dice: float
    f1: float


@dataclass(frozen=True)
class SeedSummary:
    """A metric's per-seed means over units, summarised over seeds."""

    n_seeds: int
    n_units: int
    dice: float
    dice_seed_std: float
    f1: float
    f1_seed_std: float


@dataclass(frozen=True)
class Table1Row:
    """One line of Table 1; the attributes are the columns of :data:`TABLE1_COLUMNS`."""

    model: str
    cohort: str
    row: str
    n_units: int
    n_seeds: int
    dice: float
    dice_seed_std: float
    f1: float
    f1_seed_std: float


@dataclass(frozen=True)
class Table2Row:
    """One line of Table 2; the attributes are the columns of :data:`TABLE2_COLUMNS`."""

    model: str
    n_seeds: int
    n_units: int
    dice: float
    dice_seed_std: float
    f1: float
    f1_seed_std: float
    n_pairs: int
    dice_p: float
    f1_p: float


def summarise_seeds(scores: Sequence[Score]) -> SeedSummary:
    """Mean and sample std over seeds of the per-seed mean Dice and F1 (``nan`` left out).

    Examples
    --------
    >>> s = [Score('m', 0, 'a', 'T2Sag', 0.2, 0.5), Score('m', 0, 'b', 'T2Sag', 0.4, 0.5),
    ...      Score('m', 1, 'a', 'T2Sag', 0.6, 1.0), Score('m', 1, 'b', 'T2Sag', 0.6, 0.0)]
    >>> summary = summarise_seeds(s)  # per-seed Dice means 0.3 and 0.6
    >>> round(summary.dice, 6), round(summary.dice_seed_std, 6), summary.f1, summary.f1_seed_std
    (0.45, 0.212132, 0.5, 0.0)
    """
    by_seed: dict[int, list[Score]] = defaultdict(list)
    for score in scores:
        by_seed[score.seed].append(score)
    dice = describe([describe([s.dice for s in group]).mean for group in by_seed.values()])
    f1 = describe([describe([s.f1 for s in group]).mean for group in by_seed.values()])
    return SeedSummary(
        n_seeds=len(by_seed),
        n_units=len({s.unit for s in scores}),
        dice=dice.mean,
        dice_seed_std=dice.std,
        f1=f1.mean,
        f1_seed_std=f1.std,
    )


def unit_means(scores: Iterable[Score], metric: str) -> dict[str, float]:
    """Each unit's mean over seeds of ``metric`` (``'dice'`` or ``'f1'``), ``nan`` left out.

    Examples
    --------
    >>> s = [Score('m', 0, 'a', 'T2Sag', 0.2, 0.5), Score('m', 1, 'a', 'T2Sag', 0.4, 0.5)]
    >>> round(unit_means(s, 'dice')['a'], 6)
    0.3
    """
    values: dict[str, list[float]] = defaultdict(list)
    for score in scores:
        values[score.unit].append(getattr(score, metric))
    return {unit: describe(v).mean for unit, v in sorted(values.items())}


def row_order(name: str) -> tuple[int, list[int]]:
    """Sort key of Table 1's rows: T2Sag, then by number of sequences, 'all available' last.

    Examples
    --------
    >>> sorted(['all available', 'T2Sag+T1w', 'T2Sag+STIR+T1w', 'T2Sag', 'T2Sag+STIR'],
    ...        key=row_order)
    ['T2Sag', 'T2Sag+STIR', 'T2Sag+T1w', 'T2Sag+STIR+T1w', 'all available']
    """
    if name == ALL_AVAILABLE:
        return len(SLOTS) + 1, []
    names = [str(s) for s in SLOTS]
    return name.count('+'), [names.index(part) for part in name.split('+')]


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    """``values`` in ``order``, those missing from it after, sorted."""
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def table1(
    scores: Sequence[Score],
    cohorts: Mapping[str, str] | None = None,
    models: Sequence[str] = (),
) -> list[Table1Row]:
    """Dice and F1 of each model under each set of sequences, over all units and per cohort.

    Parameters
    ----------
    scores : sequence of Score
    cohorts : mapping, optional
        Unit -> its cohort (a participants.tsv value); without it, only ``'all'``.
    models : sequence of str
        Model order (the study's plan); other models follow, sorted.
    """
    cohorts = cohorts or {}
    groups: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for score in scores:
        groups[score.model, score.row].append(score)
    names = [ALL_COHORTS, *sorted(set(cohorts.values()))]
    lines = []
    for model in _ordered({m for m, _ in groups}, models):
        for row in sorted({r for m, r in groups if m == model}, key=row_order):
            for cohort in names:
                chosen = [
                    s
                    for s in groups[model, row]
                    if cohort == ALL_COHORTS or cohorts.get(s.unit) == cohort
                ]
                if chosen:
                    lines.append(Table1Row(model, cohort, row, **_summary_columns(chosen)))
    return lines


def _summary_columns(scores: Sequence[Score]) -> dict[str, float | int]:
    summary = summarise_seeds(scores)
    return {
        'n_units': summary.n_units,
        'n_seeds': summary.n_seeds,
        'dice': summary.dice,
        'dice_seed_std': summary.dice_seed_std,
        'f1': summary.f1,
        'f1_seed_std': summary.f1_seed_std,
    }


def _paired_p(model: Sequence[Score], baseline: Sequence[Score], metric: str) -> tuple[int, float]:
    """Units both have, and the Wilcoxon p of their seed means (``nan`` without a baseline)."""
    ours, theirs = unit_means(model, metric), unit_means(baseline, metric)
    common = sorted(set(ours) & set(theirs))
    if not common:
        return 0, math.nan
    test = wilcoxon_paired(
        np.array([ours[u] for u in common]), np.array([theirs[u] for u in common])
    )
    return test.n_pairs, test.p_value


def table2(
    scores: Sequence[Score], models: Sequence[str] = (), baseline: str = BASELINE
) -> list[Table2Row]:
    """T2Sag-only inference: each model's mean +- std over seeds, and its p against the baseline.

    Parameters
    ----------
    scores : sequence of Score
        Lines of other rows and of models never given T2Sag alone are ignored.
    models : sequence of str
        Model order; other models follow, sorted.
    baseline : str
        The model every other is compared with; its own p values are ``nan``.
    """
    by_model: dict[str, list[Score]] = defaultdict(list)
    for score in scores:
        if score.row == T2SAG_ROW:
            by_model[score.model].append(score)
    lines = []
    for model in _ordered(by_model, models):
        summary = summarise_seeds(by_model[model])
        n_pairs, dice_p, f1_p = 0, math.nan, math.nan
        if model != baseline and baseline in by_model:
            n_pairs, dice_p = _paired_p(by_model[model], by_model[baseline], 'dice')
            _, f1_p = _paired_p(by_model[model], by_model[baseline], 'f1')
        lines.append(
            Table2Row(
                model=model,
                n_seeds=summary.n_seeds,
                n_units=summary.n_units,
                dice=summary.dice,
                dice_seed_std=summary.dice_seed_std,
                f1=summary.f1,
                f1_seed_std=summary.f1_seed_std,
                n_pairs=n_pairs,
                dice_p=dice_p,
                f1_p=f1_p,
            )
        )
    return lines
