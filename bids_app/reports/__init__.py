"""Per-subject HTML report with PNG figures (CONVENTIONS section 5).

Modules: :mod:`.unit` (what the report reads), :mod:`.views` (pure 2D views and mosaics),
:mod:`.canvas` (matplotlib plumbing), :mod:`.native` and :mod:`.mosaics` (figures),
:mod:`.html` (fragments), :mod:`.sections` (one function per section) and :mod:`.subject`
(:func:`write_subject_report`).
"""

from bids_app.reports.subject import write_subject_report
from bids_app.reports.unit import UnitReport

__all__ = ['UnitReport', 'write_subject_report']
