"""docs/robustness.md lists exactly the cases of the registry, as the registry describes them."""

from __future__ import annotations

import re
from pathlib import Path

from robustness_cases import CASES, CATEGORIES, OUTCOMES, markdown_table

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'robustness.md'


def test_the_docs_table_lists_exactly_the_registry():
    text = DOCS.read_text()
    documented = re.findall(r'^\| `(\w+)` \|', text, flags=re.MULTILINE)
    assert sorted(documented) == sorted(case.id for case in CASES)
    assert len(documented) == len(set(documented))
    assert markdown_table() in text, (
        'the table differs from the registry: regenerate it with '
        'python tests/robustness/robustness_cases.py'
    )


def test_ids_are_unique_and_cases_complete():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case.category in CATEGORIES, case.id
        assert case.run in ('shared', 'own'), case.id
        assert re.fullmatch(r'[a-z0-9]+', case.id), case.id
        assert case.outcome in OUTCOMES, case.id
        if case.outcome in ('failed', 'refused'):
            assert case.problem, f'{case.id}: an error must say what is wrong'
            assert case.fix, f'{case.id}: an error must say what to do'
