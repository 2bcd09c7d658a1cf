"""What became of each subject/session: done, or why not, read from what the run left.

A unit is done when its expected output exists and it left no Nipype crash file; otherwise the
last exception line of its crash file is the one-line reason. The participant level, the
training-frame cache and the group level all read outcomes this way.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bids_app.errors import EXIT_OK, EXIT_SUBJECT_FAILED
from bids_app.slots import Slot

if TYPE_CHECKING:
    from bids_app.workflows.base import UnitPlan

logger = logging.getLogger(__name__)

_ERROR_LINE = re.compile(r'^(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$')


def crash_reason(crash_file: Path) -> str:
    """The last exception line of a Nipype crash file, for a one-line failure report."""
    reason = ''
    for line in crash_file.read_text(errors='replace').splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match:
            reason = f'{match.group(1)}: {match.group(2)}'
    return reason or f'see {crash_file}'


def unit_outcomes(
    plans: Sequence[UnitPlan],
    log_dir: Callable[[UnitPlan], Path],
    expected: Callable[[UnitPlan], Path],
) -> dict[str, str | None]:
    """Unit name -> None when its expected output exists and it left no crash file, else why."""
    outcomes: dict[str, str | None] = {}
    for plan in plans:
        crashes = sorted(log_dir(plan).glob('crash-*.txt'))
        if crashes:
            outcomes[plan.unit.name] = crash_reason(crashes[0])
        elif not expected(plan).exists():
            outcomes[plan.unit.name] = 'did not run (an earlier failure stopped the run)'
        else:
            outcomes[plan.unit.name] = None
    return outcomes


def warn_dropped(plan: UnitPlan, summary: Path) -> None:
    """One warning per slot left out of inference, naming its files and the way to keep it."""
    with summary.open(newline='') as handle:
        (row,) = list(csv.DictReader(handle, delimiter='\t'))
    dropped = row.get('slots_dropped') or 'n/a'
    for item in filter(None, dropped.removeprefix('n/a').split('; ')):
        slot, _, why = item.partition(': ')
        files = ', '.join(p.name for p in plan.unit.slots.get(Slot(slot), []))
        logger.warning(
            '%s: %s (%s) left out of inference: %s; --force-sequences uses it anyway',
            plan.unit.name,
            slot,
            files,
            why,
        )


def report_outcomes(outcomes: dict[str, str | None]) -> int:
    """Log one line per failed unit and a summary; exit 1 if any failed."""
    failed = {name: why for name, why in outcomes.items() if why}
    for name, why in failed.items():
        logger.error('%s failed: %s', name, why)
    logger.log(
        25, '%d of %d subject/session(s) finished', len(outcomes) - len(failed), len(outcomes)
    )
    return EXIT_SUBJECT_FAILED if failed else EXIT_OK
