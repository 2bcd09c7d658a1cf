"""The robustness battery: a good subject to derive bad inputs from, and the battery's count.

``pytest tests/robustness`` ends with ``robustness battery: N cases, M passed ...``: one line
over every case of the registry, including those deselected or skipped.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from robustness_cases import CASES
from robustness_inputs import Good, write_good


@pytest.fixture(scope='session')
def good(tmp_path_factory) -> Good:
    """One good subject (a 105 mm cervical phantom, sagittal T2w only) with its cord mask."""
    return write_good(tmp_path_factory.mktemp('robustness') / 'bids')


def pytest_collection_modifyitems(items):
    """Tag every test of a case with the case's id (reports carry it to the summary)."""
    for item in items:
        case = getattr(getattr(item, 'callspec', None), 'params', {}).get('case')
        if case is not None and case in CASES:
            item.user_properties.append(('robustness_case', case.id))


def pytest_terminal_summary(terminalreporter):
    """``robustness battery: N cases, M passed, F failed, S skipped, K not run``."""
    outcomes: dict[str, set[str]] = defaultdict(set)
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not isinstance(report, pytest.TestReport):
                continue  # the 'deselected' list holds items
            case = dict(report.user_properties).get('robustness_case')
            if case is None:
                continue
            if report.failed:
                outcomes[case].add('failed')
            elif report.skipped:
                outcomes[case].add('skipped')
            elif report.when == 'call':
                outcomes[case].add('passed')
    if not outcomes:
        return
    failed = sum(1 for o in outcomes.values() if 'failed' in o)
    skipped = sum(1 for o in outcomes.values() if 'skipped' in o and 'failed' not in o)
    passed = len(outcomes) - failed - skipped
    terminalreporter.write_line(
        f'robustness battery: {len(CASES)} cases, {passed} passed, {failed} failed, '
        f'{skipped} skipped, {len(CASES) - len(outcomes)} not run (deselected)'
    )
