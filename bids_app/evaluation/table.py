"""Table 1 from per-unit scores: each row on its own units, paired with T2Sag alone on them.

Dice and lesion-wise F1 are computed per unit, then averaged over the row's units that have
reference lesions (the paper's "per image, then the mean over images"). On a lesion-free unit both
can only be 1 (nothing predicted) or 0 (anything predicted, one voxel will do), so a few such
units would swing the means by a tenth; they are scored apart, as the MSSEG-2 challenge scores
its patients without new lesions: the fraction left without any predicted lesion and the mean
number of predicted lesions. Each row also gives T2Sag alone on exactly the same units and the
two-sided paired Wilcoxon signed-rank p of the row against it. Sensitivity on faint and
on conspicuous lesions pools the reference lesions of the row's units (detected / lesions), since
most units have few lesions of each kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bids_app.evaluation.faint import (
    CONSPICUOUS,
    FAINT,
    FAINT_CONTRAST,
    UNCLASSIFIED,
    classify,
)
from bids_app.evaluation.scoring import UnitEvaluation
from bids_app.evaluation.subsets import Row
from bids_app.slots import Slot
from bids_app.stats import describe, wilcoxon_paired

#: Columns of ``table1.tsv``, with the descriptions written to its JSON.
COLUMNS: dict[str, str] = {
    'row': 'Sequences given at inference: T2Sag, T2Sag+<X>, or every sequence each unit has',
    'n_units': 'Units (subject/sessions) scored in this row: those that have its sequences',
    'n_lesion_free': 'Of those, units without reference lesions (left out of Dice and F1)',
    'dice': 'Mean voxel-wise Dice over the units with reference lesions',
    'dice_std': 'Sample standard deviation of Dice over those units',
    'dice_t2sag': 'Mean Dice of T2Sag alone on the same units',
    'dice_p': 'Two-sided paired Wilcoxon signed-rank p, row vs T2Sag alone, Dice',
    'f1': 'Mean lesion-wise F1 over the units with reference lesions',
    'f1_std': 'Sample standard deviation of F1 over those units',
    'f1_t2sag': 'Mean F1 of T2Sag alone on the same units',
    'f1_p': 'Two-sided paired Wilcoxon signed-rank p, row vs T2Sag alone, F1',
    'n_faint': 'Reference lesions of these units that are faint on the T2Sag',
    'faint_sensitivity': 'Faint lesions detected (>= 10 % of voxels) over faint lesions',
    'faint_sensitivity_t2sag': 'The same with T2Sag alone',
    'n_conspicuous': 'Reference lesions of these units that are conspicuous on the T2Sag',
    'conspicuous_sensitivity': 'Conspicuous lesions detected over conspicuous lesions',
    'conspicuous_sensitivity_t2sag': 'The same with T2Sag alone',
    'lesion_free_clean': 'Fraction of the lesion-free units with no predicted lesion',
    'lesion_free_clean_t2sag': 'The same with T2Sag alone',
    'lesion_free_fp': 'Mean number of predicted lesions per lesion-free unit',
}

_T2SAG = str(Slot.T2Sag)


@dataclass(frozen=True)
class TableRow:
    """One row of Table 1; the attributes are the columns of :data:`COLUMNS`."""

    row: str
    n_units: int
    n_lesion_free: int
    dice: float
    dice_std: float
    dice_t2sag: float
    dice_p: float
    f1: float
    f1_std: float
    f1_t2sag: float
    f1_p: float
    n_faint: int
    faint_sensitivity: float
    faint_sensitivity_t2sag: float
    n_conspicuous: int
    conspicuous_sensitivity: float
    conspicuous_sensitivity_t2sag: float
    lesion_free_clean: float
    lesion_free_clean_t2sag: float
    lesion_free_fp: float


def _pooled_sensitivity(
    units: Sequence[UnitEvaluation], row: str, kind: str, faint_contrast: float
) -> tuple[int, float]:
    """Lesions of ``kind`` in ``units`` and the fraction of them that ``row`` detects."""
    found, total = 0, 0
    for unit in units:
        wanted = np.array([c == kind for c in classify(unit.contrast, faint_contrast)], bool)
        total += int(wanted.sum())
        found += int(unit.scores[row].detected[wanted].sum()) if wanted.any() else 0
    return total, found / total if total else math.nan


def table_row(
    row: Row, evaluations: Sequence[UnitEvaluation], faint_contrast: float = FAINT_CONTRAST
) -> TableRow | None:
    """Aggregate one row over the units that have its sequences; ``None`` when none has.

    Parameters
    ----------
    row : Row
    evaluations : sequence of UnitEvaluation
        Every unit; those without a score for ``row`` are left out of it.
    faint_contrast : float
        Contrast below which a reference lesion is faint.
    """
    units = [u for u in evaluations if row.name in u.scores]
    if not units:
        return None
    with_lesions = [u for u in units if u.n_ref]
    lesion_free = [u for u in units if not u.n_ref]
    values = {
        (metric, name): np.array([getattr(u.scores[name], metric) for u in with_lesions])
        for metric in ('dice', 'f1')
        for name in (row.name, _T2SAG)
    }
    predicted = {
        name: np.array([u.scores[name].n_pred for u in lesion_free], float)
        for name in (row.name, _T2SAG)
    }
    n_faint, faint = _pooled_sensitivity(units, row.name, FAINT, faint_contrast)
    _, faint_t2 = _pooled_sensitivity(units, _T2SAG, FAINT, faint_contrast)
    n_consp, consp = _pooled_sensitivity(units, row.name, CONSPICUOUS, faint_contrast)
    _, consp_t2 = _pooled_sensitivity(units, _T2SAG, CONSPICUOUS, faint_contrast)
    dice_row, f1_row = describe(values['dice', row.name]), describe(values['f1', row.name])
    return TableRow(
        row=row.name,
        n_units=len(units),
        n_lesion_free=len(lesion_free),
        dice=dice_row.mean,
        dice_std=dice_row.std,
        dice_t2sag=describe(values['dice', _T2SAG]).mean,
        dice_p=wilcoxon_paired(values['dice', row.name], values['dice', _T2SAG]).p_value,
        f1=f1_row.mean,
        f1_std=f1_row.std,
        f1_t2sag=describe(values['f1', _T2SAG]).mean,
        f1_p=wilcoxon_paired(values['f1', row.name], values['f1', _T2SAG]).p_value,
        n_faint=n_faint,
        faint_sensitivity=faint,
        faint_sensitivity_t2sag=faint_t2,
        n_conspicuous=n_consp,
        conspicuous_sensitivity=consp,
        conspicuous_sensitivity_t2sag=consp_t2,
        lesion_free_clean=_mean(predicted[row.name] == 0),
        lesion_free_clean_t2sag=_mean(predicted[_T2SAG] == 0),
        lesion_free_fp=_mean(predicted[row.name]),
    )


def _mean(values: NDArray) -> float:
    """Mean of ``values``, ``nan`` when empty."""
    return float(np.mean(values)) if values.size else math.nan


def build_table(
    rows: Sequence[Row],
    evaluations: Sequence[UnitEvaluation],
    faint_contrast: float = FAINT_CONTRAST,
) -> list[TableRow]:
    """Table 1: every row that at least one unit can fill, in ``rows`` order."""
    built = (table_row(row, evaluations, faint_contrast) for row in rows)
    return [r for r in built if r is not None]


def contrast_summary(
    evaluations: Sequence[UnitEvaluation], faint_contrast: float = FAINT_CONTRAST
) -> dict[str, float | int]:
    """How the reference lesions' T2Sag contrasts are spread, and how many fall in each class.

    Examples
    --------
    >>> from bids_app.evaluation.scoring import UnitEvaluation
    >>> unit = UnitEvaluation('sub-1', (), np.ones(3), np.array([0.2, 1.0, np.nan]), {})
    >>> summary = contrast_summary([unit], 0.5)
    >>> summary['n_faint'], summary['n_conspicuous'], summary['n_unclassified']
    (1, 1, 1)
    """
    contrasts = np.concatenate([u.contrast for u in evaluations]) if evaluations else np.zeros(0)
    classes = [c for u in evaluations for c in classify(u.contrast, faint_contrast)]
    known = contrasts[~np.isnan(contrasts)]
    quantiles = (
        np.quantile(known, [0.1, 0.25, 0.5, 0.75, 0.9]) if len(known) else np.full(5, math.nan)
    )
    return {
        'faint_contrast': faint_contrast,
        'n_lesions': len(contrasts),
        'n_faint': classes.count(FAINT),
        'n_conspicuous': classes.count(CONSPICUOUS),
        'n_unclassified': classes.count(UNCLASSIFIED),
        **{
            f'contrast_q{int(q * 100):02d}': float(v)
            for q, v in zip((0.1, 0.25, 0.5, 0.75, 0.9), quantiles, strict=True)
        },
    }
