"""HTML fragments of the group report: one self-contained page, inline CSS and PNG data URIs.

The only script is the QC rater (SCT QC index style): a pass / fail / artefact choice and a note
per subject/session, and a button that saves them as a TSV through a Blob download. Nothing is
fetched from the network and nothing is sent anywhere.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from html import escape

from bids_app.group.plots import Plot
from bids_app.group.qc import RATINGS, Rating
from bids_app.reports.style import BASE_CSS

CSS = (
    BASE_CSS
    + """
main { max-width: 1300px; margin: 0 auto; padding: 8px 20px 40px; }
tr.failed td, tr.not_run td { background: #fdecea; } tr.skipped td { background: #f3f3f3; }
td.qc label { margin-right: 6px; white-space: nowrap; } td.qc input[type=text] { width: 14em; }
button { font-size: 14px; padding: 4px 12px; }
"""
)

QC_SCRIPT = """
function ratingsTsv() {
  const clean = s => s.replace(/[\\t\\r\\n]+/g, ' ').trim();
  const lines = ['participant_id\\tsession_id\\trating\\tnote'];
  document.querySelectorAll('tr[data-participant]').forEach(row => {
    const checked = row.querySelector('input[type=radio]:checked');
    const note = clean(row.querySelector('input[type=text]').value);
    lines.push([row.dataset.participant, row.dataset.session || 'n/a',
                checked ? checked.value : 'n/a', note || 'n/a'].join('\\t'));
  });
  return lines.join('\\n') + '\\n';
}
function saveRatings() {
  const blob = new Blob([ratingsTsv()], {type: 'text/tab-separated-values'});
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = 'group_qc_ratings.tsv';
  document.body.appendChild(link);
  link.click();
  link.remove();
}
"""


def cell(value: object, column: str = '') -> str:
    """A table cell: numbers right-aligned (3 decimals, or 3 significant digits for p-values).

    >>> cell(0.12345), cell(1234.56), cell(None)
    ('<td class="num">0.123</td>', '<td class="num">1235</td>', '<td>n/a</td>')
    >>> cell(3e-05, 'p_value')
    '<td class="num">3e-05</td>'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td>n/a</td>'
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f'<td>{escape(str(value))}</td>'
    if isinstance(value, int):
        text = str(value)
    elif column == 'p_value':
        text = f'{value:.3g}'
    else:
        text = f'{value:.0f}' if abs(value) >= 100 else f'{value:.3f}'
    return f'<td class="num">{text}</td>'


def table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A plain table of ``rows`` restricted to ``columns``."""
    head = ''.join(f'<th>{escape(c)}</th>' for c in columns)
    body = ''.join('<tr>' + ''.join(cell(r.get(c), c) for c in columns) + '</tr>\n' for r in rows)
    return f'<table>\n<tr>{head}</tr>\n{body}</table>\n'


def figure(plot: Plot, name: str, caption: str) -> str:
    """An embedded PNG with an image map linking each point to its subject's report."""
    data = base64.b64encode(plot.png).decode('ascii')
    areas = ''.join(
        f'<area shape="circle" coords="{s.x},{s.y},6" href="{escape(s.href)}" '
        f'title="{escape(s.title)}" alt="{escape(s.title)}">'
        for s in plot.hotspots
    )
    return (
        f'<figure><img src="data:image/png;base64,{data}" width="{plot.width}" '
        f'height="{plot.height}" alt="{escape(caption)}" usemap="#map-{name}">'
        f'<map name="map-{name}">{areas}</map>'
        f'<figcaption>{escape(caption)}</figcaption></figure>\n'
    )


def unit_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    reports: Mapping[str, str | None],
    ratings: Mapping[str, Rating],
) -> str:
    """Every unit with its report link and the QC rater controls, prefilled from ``ratings``.

    Parameters
    ----------
    rows : sequence of mapping
        Rows of the group table (``participant_id``, ``session_id``, ``status``...).
    columns : sequence of str
        Columns shown after the unit's name.
    reports : mapping
        Unit name -> relative link to its report, or None.
    ratings : mapping
        Unit name -> the rating read back with ``--qc-ratings``.
    """
    head = ''.join(f'<th>{escape(c)}</th>' for c in ('unit', 'QC rating', 'note', *columns))
    lines = [f'<table id="units">\n<tr>{head}</tr>\n']
    for index, row in enumerate(rows):
        participant, session = str(row['participant_id']), row.get('session_id')
        name = participant + (f'_{session}' if session else '')
        href = reports.get(name)
        label = f'<a href="{escape(href)}">{escape(name)}</a>' if href else escape(name)
        given = ratings.get(name)
        choices = ''.join(
            f'<label><input type="radio" name="qc-{index}" value="{r}"'
            f'{" checked" if given and given.rating == r else ""}>{r}</label>'
            for r in RATINGS
        )
        note = escape(given.note) if given else ''
        lines.append(
            f'<tr class="{escape(str(row.get("status")))}" '
            f'data-participant="{escape(participant)}" '
            f'data-session="{escape(str(session or ""))}"><td>{label}</td>'
            f'<td class="qc">{choices}</td>'
            f'<td class="qc"><input type="text" value="{note}" aria-label="note"></td>'
            + ''.join(cell(row.get(c), c) for c in columns)
            + '</tr>\n'
        )
    lines.append('</table>\n')
    return ''.join(lines)


def qc_controls() -> str:
    """The save button and how to use the saved file."""
    return (
        '<p><button type="button" onclick="saveRatings()">Save ratings (TSV)</button> '
        'Saves <code>group_qc_ratings.tsv</code> to your downloads; give it back with '
        '<code>sclesion BIDS_DIR OUTPUT_DIR group --qc-ratings FILE</code> to leave the '
        'subject/sessions rated <em>fail</em> out of the statistics.</p>\n'
    )


def section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n{content}</section>\n'


def paragraph(text: str, css_class: str = '') -> str:
    attribute = f' class="{css_class}"' if css_class else ''
    return f'<p{attribute}>{escape(text)}</p>\n'


def links(files: Sequence[str]) -> str:
    """Links to the group TSVs, relative to the report."""
    items = ''.join(f'<li><a href="{escape(f)}">{escape(f)}</a></li>' for f in files)
    return f'<ul>{items}</ul>\n'


def page(title: str, sections: Sequence[tuple[str, str, str]], *, script: str = QC_SCRIPT) -> str:
    """The whole page: ``sections`` are (anchor, title, HTML content); ``script`` goes in the head
    (the QC-rating script by default; pages without ratings pass ``''``)."""
    nav = ''.join(f'<a href="#{escape(a)}">{escape(t)}</a>' for a, t, _ in sections)
    body = ''.join(section(a, t, c) for a, t, c in sections)
    head_script = f'<script>{script}</script>\n' if script else ''
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<title>{escape(title)}</title>\n<style>{CSS}</style>\n'
        f'{head_script}</head>\n<body>\n<nav>{nav}</nav>\n<main>\n'
        f'<h1>{escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n'
    )
