"""What every case of the battery must show: one clear line, the right fate, inputs unchanged."""

from __future__ import annotations

import re
from pathlib import Path

from robustness_cases import Case

#: Temporary names of atomic writes (``.<name>.<random>``): none may stay in OUTPUT_DIR.
_KEPT_DOTFILES = {'.sclesion.lock', '.bidsignore'}


def user_line(case: Case, lines: list[str], unit: str) -> str:
    """The one line the user gets for ``case`` about ``unit`` ('' for a silent success).

    A failure is the ``<unit> failed:`` line of the end summary, a skip the ``<unit> skipped:``
    warning, a refused run its only error line; a processed case with something to say, the one
    line that says it.
    """
    pattern = {
        'failed': rf'\[ERROR\] {unit} failed: ',
        'skipped': rf'\[WARNING\] {unit} skipped: ',
        'refused': r'\[ERROR\] ',
    }.get(case.outcome)
    if pattern is None and not case.problem:
        loud = [line for line in lines if unit in line and re.search(r'\[(ERROR|WARNING)\]', line)]
        assert not loud, loud
        return ''
    found = [line for line in lines if re.search(pattern or case.problem, line)]
    assert len(found) == 1, f'expected one line matching {pattern or case.problem!r}: {found}'
    return found[0]


def check_line(case: Case, line: str, names: str) -> None:
    """The line names the file (``names``), says what is wrong and, for errors, what to do."""
    assert names in line, f'{names!r} is not named in {line!r}'
    assert re.search(case.problem, line), f'{case.problem!r} not in {line!r}'
    assert re.search(case.fix, line), f'{case.fix!r} not in {line!r}'
    assert 'Traceback' not in line


def temporary_files(out: Path) -> list[Path]:
    """Leftovers of interrupted atomic writes under ``out``."""
    if not out.exists():
        return []
    return sorted(p for p in out.rglob('.*') if p.is_file() and p.name not in _KEPT_DOTFILES)
