"""The report's tables stay inside the page, however many columns or long names they hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import chromium, needs_chromium

from bids_app.group import html as group_html
from bids_app.reports import html


def _rules(css: str) -> dict[str, str]:
    """Selector -> every declaration a flat style sheet (no media queries) gives it."""
    rules: dict[str, str] = {}
    for selectors, body in re.findall(r'([^{}]+)\{([^}]*)\}', css):
        for selector in selectors.split(','):
            rules[selector.strip()] = rules.get(selector.strip(), '') + body
    return rules


@pytest.mark.parametrize('css', [html.CSS, group_html.CSS], ids=['subject', 'group'])
def test_tables_scroll_inside_the_page_and_cells_wrap(css: str) -> None:
    rules = _rules(css)
    table = re.sub(r'\s+', ' ', rules['table'])
    for declaration in ('display: block;', 'max-width: 100%;', 'overflow-x: auto;'):
        assert declaration in table
    assert 'overflow-wrap: anywhere' in rules['td']


@needs_chromium
def test_a_wide_table_does_not_widen_the_page_at_1400px(tmp_path: Path) -> None:
    columns = [f'max_equivalent_diameter_mm_{k}' for k in range(16)]
    rows = [['sub-01_ses-M0_acq-sag_T2w@' + 'ab' * 32, *range(15)]]
    probe = (
        '<script>window.addEventListener("load", () => document.body.setAttribute('
        '"data-width", document.documentElement.scrollWidth));</script>'
    )
    page = html.page('wide', [], html.table(columns, rows)).replace('</body>', probe + '</body>')
    path = tmp_path / 'wide.html'
    path.write_text(page)
    dom = chromium(tmp_path, '--dump-dom', path.as_uri(), window='1400,900')
    width = re.search(r'data-width="(\d+)"', dom)
    assert width is not None
    assert int(width.group(1)) <= 1400
