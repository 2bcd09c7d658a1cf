"""Static HTML for the subject report: inline CSS, relative links, no server, no network.

Every function returns an HTML fragment as a string and escapes the text it is given. The only
interaction is the lesion-outline switch: a checkbox and CSS (hover also hides the outline), so
the page works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bids_app.reports.style import BASE_CSS

CSS = (
    BASE_CSS
    + """
main { max-width: 1200px; margin: 0 auto; padding: 8px 20px 40px; }
h3 { color: #20303c; } h4 { margin: 14px 0 4px; }
img { max-width: 100%; background: #000; display: block; }
.flicker input { margin: 0 4px 6px 0; } .flicker label { font-size: 13px; }
.flicker .plain { display: none; }
.flicker input:not(:checked) ~ .stack .overlay { display: none; }
.flicker input:not(:checked) ~ .stack .plain { display: block; }
.flicker input:checked ~ .stack:hover .overlay { display: none; }
.flicker input:checked ~ .stack:hover .plain { display: block; }
.error { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px;
         white-space: pre-wrap; font-family: monospace; font-size: 12px; }
pre { background: #f0f0f0; padding: 8px; white-space: pre-wrap; font-size: 12px; }
code { font-size: 12px; }
"""
)


def page(title: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    """A whole HTML document: navigation bar of ``(anchor id, label)`` then the body."""
    links = ''.join(f'<a href="#{escape(a)}">{escape(label)}</a>' for a, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n'
        f'<nav>{links}</nav>\n<main>\n<h1>{escape(title)}</h1>\n{body}\n</main>\n'
        '</body>\n</html>\n'
    )


def section(anchor: str, title: str, content: str) -> str:
    """A top-level report section with an anchor for the navigation bar."""
    return f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n{content}\n</section>\n'


def subsection(title: str, content: str, level: int = 3) -> str:
    """A titled block (a session inside a section, or a slot inside a session)."""
    return f'<h{level}>{escape(title)}</h{level}>\n{content}\n'


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table; numbers are right-aligned, floats shown with 4 significant digits.

    >>> table(['a', 'b'], [['x', 1.23456]])
    '<table><tr><th>a</th><th>b</th></tr><tr><td>x</td><td class="num">1.235</td></tr></table>'
    """
    head = ''.join(f'<th>{escape(str(h))}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(_cell(v) for v in row) + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return f'<td>{"n/a" if value is None else ("yes" if value else "no")}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f'<td>{escape(str(value))}</td>'


def key_values(items: Sequence[tuple[str, object]]) -> str:
    """A two-column table of labelled values."""
    return table(['', ''], [[k, v] for k, v in items]).replace(
        '<tr><th></th><th></th></tr>', '', 1
    )


def figure(src: str, caption: str, alt: str) -> str:
    """A PNG with its caption; ``src`` is relative to the report."""
    return (
        f'<figure><img src="{escape(src)}" alt="{escape(alt)}" loading="eager">'
        f'<figcaption>{escape(caption)}</figcaption></figure>\n'
    )


def flicker(overlay_src: str, plain_src: str, caption: str, uid: str) -> str:
    """Two same-size PNGs with an outline switch (checkbox; hovering hides the outline too)."""
    return (
        f'<figure class="flicker"><input type="checkbox" id="{escape(uid)}" checked>'
        f'<label for="{escape(uid)}">lesion outline (hover the image to hide it)</label>'
        f'<div class="stack"><img class="overlay" src="{escape(overlay_src)}" '
        f'alt="with lesion outline" loading="eager">'
        f'<img class="plain" src="{escape(plain_src)}" alt="without outline" loading="eager">'
        f'</div><figcaption>{escape(caption)}</figcaption></figure>\n'
    )


def note(text: str) -> str:
    """A highlighted remark (missing inputs, no lesion found)."""
    return f'<p class="note">{escape(text)}</p>\n'


def error_block(text: str) -> str:
    """One crash reason, kept verbatim."""
    return f'<div class="error">{escape(text)}</div>\n'


def preformatted(text: str) -> str:
    """Text kept as written (citation boilerplate, command lines)."""
    return f'<pre>{escape(text)}</pre>\n'
