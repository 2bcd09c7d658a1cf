"""Group statistics over per-image metrics: summaries, paired Wilcoxon tests, Bland-Altman.

Pure functions on 1D sequences of per-image values (one value per subject/session). Missing values
are ``nan`` (a sensitivity on an image without reference lesions, see :mod:`bids_app.metrics`)
and are left out, and every result says how many values it used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from bids_app.errors import DatasetError

logger = logging.getLogger(__name__)

#: Half-width of the Bland-Altman limits of agreement, in standard deviations (95 % normal).
LIMITS_OF_AGREEMENT_SD = 1.96


@dataclass(frozen=True)
class Summary:
    """Summary of one metric over images; ``nan`` where fewer values than needed.

    Attributes
    ----------
    n : int
        Values used (not ``nan``).
    n_missing : int
        Values left out because they were ``nan``.
    mean, median : float
        Of the values used (``nan`` when ``n == 0``).
    std : float
        Sample standard deviation (ddof = 1; ``nan`` when ``n < 2``).
    """

    n: int
    n_missing: int
    mean: float
    median: float
    std: float


@dataclass(frozen=True)
class PairedTest:
    """Two-sided Wilcoxon signed-rank test of paired values ``a`` against ``b``.

    Attributes
    ----------
    n_pairs : int
        Pairs used (both values present).
    statistic : float
        ``min(W+, W-)``, the sums of the ranks of positive and negative differences ``a - b``
        after zero differences are dropped (scipy's ``zero_method='wilcox'``).
    p_value : float
        Two-sided p-value; 1.0 when every pair is equal, ``nan`` without pairs.
    note : str
        Why the test is degenerate or which pairs were left out; empty otherwise.
    """

    n_pairs: int
    statistic: float
    p_value: float
    note: str


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement of paired measurements, differences ``a - b``.

    Attributes
    ----------
    n : int
        Pairs used (both values present).
    mean_difference : float
        Mean of ``a - b`` (the bias).
    sd_difference : float
        Sample standard deviation of ``a - b`` (ddof = 1; ``nan`` when ``n < 2``).
    lower_limit, upper_limit : float
        Limits of agreement, ``mean_difference -/+ 1.96 sd_difference``.
    """

    n: int
    mean_difference: float
    sd_difference: float
    lower_limit: float
    upper_limit: float


def describe(values: Sequence[float] | NDArray[np.floating]) -> Summary:
    """Mean, median and sample standard deviation of a metric over images, ``nan`` left out.

    Parameters
    ----------
    values : (N,) sequence of float
        One value per image; ``nan`` where the metric is undefined for that image.

    Returns
    -------
    Summary

    Examples
    --------
    >>> describe([1.0, float('nan'), 2.0, 6.0])
    Summary(n=3, n_missing=1, mean=3.0, median=2.0, std=2.6457513110645907)
    """
    array = _as_1d(values, 'values')
    present = array[~np.isnan(array)]
    n = len(present)
    return Summary(
        n=n,
        n_missing=len(array) - n,
        mean=float(present.mean()) if n else math.nan,
        median=float(np.median(present)) if n else math.nan,
        std=float(present.std(ddof=1)) if n > 1 else math.nan,
    )


def wilcoxon_paired(
    a: Sequence[float] | NDArray[np.floating], b: Sequence[float] | NDArray[np.floating]
) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of two models' per-image metrics (the paper's Table 2).

    Pairs with a ``nan`` on either side are left out. Zero differences are dropped before
    ranking (Wilcoxon's original method, scipy's default); when every pair is equal there is no
    evidence of a difference and the result is ``p = 1.0`` with a note, where scipy would give
    ``nan``. scipy chooses the exact distribution for small samples without ties and the normal
    approximation otherwise.

    Parameters
    ----------
    a, b : (N,) sequences of float
        The same metric for the same images under two models, in the same order.

    Returns
    -------
    PairedTest

    Examples
    --------
    >>> wilcoxon_paired([2.0, 4.0, 6.0, 8.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0]).p_value
    0.0625
    >>> wilcoxon_paired([0.5, 0.7], [0.5, 0.7]).note
    'all 2 pairs are equal'
    """
    a_used, b_used, note = _pairs(a, b)
    n = len(a_used)
    if n == 0:
        return PairedTest(0, math.nan, math.nan, _join(note, 'no complete pairs'))
    if np.all(a_used == b_used):
        return PairedTest(n, 0.0, 1.0, _join(note, f'all {n} pairs are equal'))
    result = stats.wilcoxon(a_used, b_used, zero_method='wilcox', alternative='two-sided')
    return PairedTest(n, float(result.statistic), float(result.pvalue), note)


def bland_altman(
    a: Sequence[float] | NDArray[np.floating], b: Sequence[float] | NDArray[np.floating]
) -> BlandAltman:
    """Bias and 95 % limits of agreement of paired measurements (e.g. lesion volumes).

    Parameters
    ----------
    a, b : (N,) sequences of float
        Paired measurements (e.g. predicted and reference volumes in mm^3); pairs with a
        ``nan`` on either side are left out.

    Returns
    -------
    BlandAltman

    Examples
    --------
    >>> ba = bland_altman([3.0, 5.0, 7.0, 9.0], [2.0, 3.0, 7.0, 8.0])
    >>> ba.mean_difference, round(ba.sd_difference, 4), round(ba.upper_limit, 4)
    (1.0, 0.8165, 2.6003)
    """
    a_used, b_used, _ = _pairs(a, b)
    difference = a_used - b_used
    n = len(difference)
    mean = float(difference.mean()) if n else math.nan
    sd = float(difference.std(ddof=1)) if n > 1 else math.nan
    return BlandAltman(
        n=n,
        mean_difference=mean,
        sd_difference=sd,
        lower_limit=mean - LIMITS_OF_AGREEMENT_SD * sd,
        upper_limit=mean + LIMITS_OF_AGREEMENT_SD * sd,
    )


def _pairs(
    a: Sequence[float] | NDArray[np.floating], b: Sequence[float] | NDArray[np.floating]
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """Paired values with a ``nan`` on neither side, and a note on how many were left out."""
    a_array, b_array = _as_1d(a, 'a'), _as_1d(b, 'b')
    if a_array.shape != b_array.shape:
        raise DatasetError(
            f'paired values differ in length ({len(a_array)} and {len(b_array)}); '
            'give one value per image on both sides, nan where missing'
        )
    complete = ~(np.isnan(a_array) | np.isnan(b_array))
    n_left_out = int(np.count_nonzero(~complete))
    note = f'left out {n_left_out} pair(s) with a missing value' if n_left_out else ''
    if n_left_out:
        logger.info('%s', note)
    return a_array[complete], b_array[complete], note


def _as_1d(values: Sequence[float] | NDArray[np.floating], name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise DatasetError(f'{name} must be one value per image (1D), got shape {array.shape}')
    return array


def _join(*notes: str) -> str:
    return '; '.join(note for note in notes if note)
