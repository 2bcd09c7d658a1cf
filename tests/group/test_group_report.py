"""The group report renders in headless Chromium, and its QC ratings come back through the TSV."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import numpy as np
from browser import chromium, needs_chromium
from matplotlib.image import imread

from bids_app.group import run_group
from bids_app.group.qc import read_ratings

#: Appended to a copy of the report: count loaded images, rate two units, dump the ratings TSV.
PROBE = (
    '<script>window.addEventListener("load", () => {const imgs = [...document.images];'
    'document.body.setAttribute("data-loaded", imgs.filter(i => i.complete && '
    'i.naturalWidth > 0).length + "/" + imgs.length);'
    'document.querySelector(\'tr[data-participant="sub-01"] input[value="artefact"]\').click();'
    'document.querySelector(\'tr[data-participant="sub-02"] input[value="fail"]\').click();'
    'document.querySelector(\'tr[data-participant="sub-02"] input[type=text]\').value = '
    '"cord\\tmissed";'
    'const out = document.createElement("pre"); out.id = "tsv"; out.textContent = ratingsTsv();'
    'document.body.appendChild(out);});</script>'
)


def _chromium(tmp_path: Path, *args: str) -> str:
    return chromium(tmp_path, *args, window='1280,2400')


def test_links_and_image_maps(study):
    run_group(study.bids_dir, study.out, study.units, labels_dir=study.labels)
    page = (study.out / 'group_lesions.html').read_text()
    assert page.count('<img src="data:image/png;base64,') == 5
    # Every plotted point of the two evaluated units links to its report.
    assert {'sub-01.html', 'sub-02.html'} <= set(re.findall(r'<area [^>]*href="([^"]+)"', page))
    assert '<a href="sub-01.html">sub-01</a>' in page
    assert 'InputImageError: header unreadable' in page
    assert 'http' not in page.replace('http-equiv', '')  # nothing from the network


@needs_chromium
def test_report_renders_and_ratings_round_trip(study, tmp_path: Path):
    run_group(study.bids_dir, study.out, study.units, labels_dir=study.labels)
    report = study.out / 'group_lesions.html'
    probe = study.out / 'probe.html'
    probe.write_text(report.read_text().replace('</body>', PROBE + '</body>'))
    dom = _chromium(tmp_path, '--virtual-time-budget=5000', '--dump-dom', probe.as_uri())
    loaded = re.search(r'data-loaded="(\d+)/(\d+)"', dom)
    assert loaded is not None
    assert loaded.group(1) == loaded.group(2) == '5'

    tsv = re.search(r'<pre id="tsv">(.*?)</pre>', dom, re.DOTALL)
    assert tsv is not None
    saved = tmp_path / 'group_qc_ratings.tsv'
    saved.write_text(unescape(tsv.group(1)))
    ratings = read_ratings(saved)
    assert {name: (r.rating, r.note) for name, r in ratings.items()} == {
        'sub-01': ('artefact', ''),
        'sub-02': ('fail', 'cord missed'),
    }

    shot = tmp_path / 'shot.png'
    _chromium(tmp_path, f'--screenshot={shot}', report.as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100  # text, tables and plots, not a blank page
    assert (pixels.mean(axis=-1) < 0.5).mean() > 0.01  # dark text and plot lines show
