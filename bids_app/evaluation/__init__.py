"""Held-out evaluation: Table 1 of Walsh et al. (MICCAI 2024) for one model on a labelled dataset.

The data flow follows the file names: :mod:`~bids_app.evaluation.subsets` (the rows: sequences
given at inference) -> :mod:`~bids_app.evaluation.faint` (reference lesions and their T2Sag
contrast) -> :mod:`~bids_app.evaluation.scoring` (predict and score each unit in the cord frame)
-> :mod:`~bids_app.evaluation.table` (aggregate, paired with T2Sag alone) ->
:mod:`~bids_app.evaluation.outputs` and :mod:`~bids_app.evaluation.plot` (files);
:mod:`~bids_app.cli.evaluate` (``sclesion-evaluate``) runs them on a BIDS dataset.
"""

from __future__ import annotations

from bids_app.evaluation.scoring import UnitEvaluation, evaluate_frames, evaluate_unit
from bids_app.evaluation.subsets import Row, table_rows
from bids_app.evaluation.table import TableRow, build_table

__all__ = [
    'Row',
    'TableRow',
    'UnitEvaluation',
    'build_table',
    'evaluate_frames',
    'evaluate_unit',
    'table_rows',
]
