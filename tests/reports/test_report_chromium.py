"""The report renders in headless Chromium with every image loaded (skips without chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from browser import chromium, needs_chromium
from matplotlib.image import imread

from bids_app.reports import write_subject_report

#: Appended to a copy of the report (never to the report itself, which has no script).
PROBE = (
    '<script>window.addEventListener("load", () => {const imgs = [...document.images];'
    'document.body.setAttribute("data-loaded", imgs.filter(i => i.complete && '
    'i.naturalWidth > 0).length + "/" + imgs.length);});</script>'
)


def _chromium(tmp_path: Path, *args: str) -> str:
    return chromium(tmp_path, *args, window='1280,2000')


@needs_chromium
def test_report_renders_with_every_image(synthetic_unit, tmp_path: Path):
    out = tmp_path / 'out'
    report = write_subject_report(out, '01', [synthetic_unit()])
    probe = out / 'probe.html'
    probe.write_text(report.read_text().replace('</body>', PROBE + '</body>'))
    dom = _chromium(tmp_path, '--virtual-time-budget=5000', '--dump-dom', probe.as_uri())
    loaded = re.search(r'data-loaded="(\d+)/(\d+)"', dom)
    assert loaded is not None
    assert loaded.group(1) == loaded.group(2) == '8'

    shot = tmp_path / 'shot.png'
    _chromium(tmp_path, f'--screenshot={shot}', report.as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100  # text, tables and grey-level figures, not a blank page
    assert (pixels.mean(axis=-1) < 0.2).mean() > 0.05  # the black figure backgrounds show
