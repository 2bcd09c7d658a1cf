"""The ``own`` cases of the battery: each its own ``sclesion`` run (robustness_cases).

Most stop before any work (dataset, model and permission errors) or at ``--dry-run``;
``otherslots`` and ``diskfulltmpfs`` process one subject, ``killedrerun`` runs one twice.
"""

from __future__ import annotations

import re

import pytest
from checksums import changed, checksums
from robustness_cases import CASES
from robustness_checks import check_line, temporary_files, user_line
from robustness_scenarios import summary

from bids_app.cli.run import main

OWN = [case for case in CASES if case.run == 'own']


@pytest.mark.parametrize('case', OWN, ids=lambda case: case.id)
def test_case(case, good, tiny_model, tmp_path, capsys):
    out = tmp_path / 'out'
    with case.make(tmp_path, good, tiny_model) as scenario:
        before = scenario.before or checksums(scenario.bids)
        capsys.readouterr()
        code = main(scenario.argv)
        captured = capsys.readouterr()
        # OUTPUT_DIR may be a tmpfs that goes away with the scenario: look at it now.
        assert temporary_files(out) == []
        if case.outcome == 'failed':
            assert not summary(out, scenario.unit.removeprefix('sub-')).exists()
        for path in scenario.processed:
            assert path.is_file(), path
    lines = (captured.out + captured.err).splitlines()
    assert code == case.exit_code, '\n'.join(lines[-20:])
    assert not [line for line in lines if 'Traceback' in line]
    line = user_line(case, lines, scenario.unit)
    if line:
        check_line(case, line, scenario.names)
    for pattern in scenario.expect:
        assert [line for line in lines if re.search(pattern, line)], pattern
    if case.outcome == 'refused':
        assert len([line for line in lines if '[ERROR]' in line]) == 1
        assert not (tmp_path / 'work').exists()
    assert changed(before, checksums(scenario.bids)) == []
