"""The group level: tables, accuracy against reference labels, comparisons, QC and report.

Data flow: :mod:`~bids_app.group.collect` (each unit's outputs or failure) ->
:mod:`~bids_app.group.tables` (the group table) -> :mod:`~bids_app.group.evaluate` (metrics
against ``--labels``) -> :mod:`~bids_app.group.summary` and :mod:`~bids_app.group.compare`
(statistics) -> :mod:`~bids_app.group.report` (``group_lesions.html``); :mod:`~bids_app.group.qc`
reads the raters' marks back. :func:`run_group` runs them all.
"""

from __future__ import annotations

from bids_app.group.run import GroupResult, run_group

__all__ = ['GroupResult', 'run_group']
