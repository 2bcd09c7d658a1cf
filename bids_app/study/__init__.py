"""A study of the paper's variants: Tables 1 and 2 of Walsh et al. (MICCAI 2024).

The data flow follows the file names: :mod:`~bids_app.study.plan` (which runs: variants x seeds,
frequent fixed combinations; the test split) -> :mod:`~bids_app.study.run` (train each run,
resumably) -> :mod:`~bids_app.study.evaluate` (score each run on the test units) ->
:mod:`~bids_app.study.tables` (aggregate over seeds, Wilcoxon against the baseline) ->
:mod:`~bids_app.study.plots` and :mod:`~bids_app.study.report` (TSVs, HTML page).
:mod:`~bids_app.study.entry` runs them for ``sclesion ... train --study variants``;
:mod:`~bids_app.cli.study_tables` (``python -m bids_app.study``) remakes the
tables from the folder.
"""

from __future__ import annotations

from bids_app.study.evaluate import evaluate_run, model_rows
from bids_app.study.plan import StudyRun, frequent_combinations, plan_study, split_test
from bids_app.study.report import make_report
from bids_app.study.run import RunOutcome, train_runs
from bids_app.study.tables import Score, table1, table2

__all__ = [
    'RunOutcome',
    'Score',
    'StudyRun',
    'evaluate_run',
    'frequent_combinations',
    'make_report',
    'model_rows',
    'plan_study',
    'split_test',
    'table1',
    'table2',
    'train_runs',
]
