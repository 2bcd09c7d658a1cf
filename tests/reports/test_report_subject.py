"""The subject report on synthetic units: names, sections, sessions, missing inputs, errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from bids_app.derivatives import SUMMARY_COLUMNS, write_tsv
from bids_app.errors import DatasetError
from bids_app.reports import write_subject_report

SECTION_TITLES = [
    'Summary',
    'Sequences and centrelines',
    'Cord-frame crops',
    'Lesions',
    'Lesion table',
    'Reference comparison',
    'About',
    'Errors',
]


def _images(report: Path) -> list[str]:
    return re.findall(r'<img[^>]* src="([^"]+)"', report.read_text())


def test_report_layout_names_and_figures(synthetic_unit, tmp_path: Path):
    out = tmp_path / 'out'
    report = write_subject_report(out, 'sub-01', [synthetic_unit()])
    assert report == out / 'sub-01.html'
    text = report.read_text()
    positions = [text.index(f'<h2>{title}</h2>') for title in SECTION_TITLES]
    assert positions == sorted(positions)
    figures = out / 'sub-01' / 'figures'
    for name in (
        'sub-01_ses-M0_acq-sag_desc-lesions_T2w.png',
        'sub-01_ses-M0_acq-sag_desc-centerline_T2w.png',
        'sub-01_ses-M0_acq-ax_desc-centerline_T2starw.png',
        'sub-01_ses-M0_acq-ax_desc-crop_T2starw.png',
        'sub-01_ses-M0_acq-sag_desc-lesionslots_T2w.png',
    ):
        assert (figures / name).is_file(), name
    sources = _images(report)
    assert len(sources) == 8  # 2 centrelines, 2 crops, 2 x 2 lesion views (with/without outline)
    for src in sources:
        assert not src.startswith('/')
        assert (out / src).is_file()
        assert (out / src).stat().st_size < 200_000
    assert 'walsh2024-mean (sha256 0123456789ab)' in text
    assert re.search(r'<td>lesions found</td><td class="num">2</td>', text)
    assert 'Session M0' in text
    assert '<script' not in text
    assert 'http' not in text
    assert 'wall time (s)</td><td class="num">90' in text
    assert 'No errors to report.' in text
    assert not [p for p in out.iterdir() if p.name.startswith('.')]


def test_sessions_are_subsections(synthetic_unit, tmp_path: Path):
    units = [synthetic_unit(session='M12'), synthetic_unit(session='M0')]
    text = write_subject_report(tmp_path / 'out', '01', units).read_text()
    summary = text[text.index('<h2>Summary</h2>') : text.index('<h2>Sequences')]
    assert summary.index('Session M0') < summary.index('Session M12')
    sources = _images(tmp_path / 'out' / 'sub-01.html')
    assert len(sources) == len(set(sources)) == 16


def test_summary_shows_the_post_processing_the_summary_tsv_records(synthetic_unit, tmp_path):
    unit = synthetic_unit(session=None)
    summary = tmp_path / 'sub-01_desc-lesions_summary.tsv'
    row = {'threshold': 0.3, 'min_lesion_mm3': 0.0, 'tta': 'true'}
    write_tsv(summary, [row], list(SUMMARY_COLUMNS))
    # no --threshold given: the run's settings hold none, the card's value was used
    unasked = replace(unit, summary=summary, provenance={**unit.provenance, 'threshold': None})
    text = write_subject_report(tmp_path / 'out', '01', [unasked]).read_text()
    assert re.search(r'<td>threshold</td><td class="num">0.3</td>', text)
    assert re.search(r'<td>smallest lesion kept \(mm³\)</td><td class="num">0(\.0)?</td>', text)
    assert '<td>mirroring test-time augmentation</td><td>true</td>' in text


def test_zero_lesions(synthetic_unit, tmp_path: Path):
    text = write_subject_report(
        tmp_path / 'out', '01', [synthetic_unit(lesions=False)]
    ).read_text()
    assert 'No lesion found.' in text
    assert 'lesionslots' not in text
    assert re.search(r'<td>lesions found</td><td class="num">0</td>', text)


def test_lesions_near_an_end_of_the_field_of_view_are_named(synthetic_unit, tmp_path: Path):
    unit = synthetic_unit()
    lines = unit.lesion_table.read_text().splitlines()
    column = lines[0].split('\t').index('distance_to_view_end_mm')
    for number, distance in ((1, '12.0'), (2, '7.5')):
        cells = lines[number].split('\t')
        cells[column] = distance
        lines[number] = '\t'.join(cells)
    unit.lesion_table.write_text('\n'.join(lines) + '\n')
    text = write_subject_report(tmp_path / 'out', '01', [unit]).read_text()
    assert 'Lesion 2 lies within 8 mm of an end of the field of view' in text
    assert 'Lesion 1 lies' not in text
    assert 'Lesions 1, 2 lie' not in text


def test_missing_optional_inputs(synthetic_unit, tmp_path: Path):
    unit = synthetic_unit(session=None)
    bare = replace(unit, centerlines={}, cordframe=None, frame_probability=None, dseg=None,
                   lesion_table=None, provenance={})  # fmt: skip
    text = write_subject_report(tmp_path / 'out', '01', [bare]).read_text()
    assert 'No cord frame' in text
    assert 'No centreline for this slot.' in text
    assert 'No per-lesion table.' in text
    assert 'Session' not in text
    assert (tmp_path / 'out/sub-01/figures/sub-01_acq-sag_desc-lesions_T2w.png').is_file()


def test_unreadable_image_goes_to_errors(synthetic_unit, tmp_path: Path):
    unit = synthetic_unit()
    broken = tmp_path / 'broken_T2w.nii.gz'
    broken.write_bytes(b'not a nifti')
    unit = replace(unit, t2sag=broken, errors=('preproc crashed: centreline not found',))
    text = write_subject_report(tmp_path / 'out', '01', [unit]).read_text()
    errors = text[text.index('<h2>Errors</h2>') :]
    assert 'preproc crashed: centreline not found' in errors
    assert 'the T2Sag lesions figure could not be drawn' in errors


def test_reference_metrics_shown(synthetic_unit, tmp_path: Path):
    unit = replace(synthetic_unit(), reference={'dice': 0.75, 'f1': 0.5})
    text = write_subject_report(tmp_path / 'out', '01', [unit]).read_text()
    section = text[text.index('<h2>Reference comparison') : text.index('<h2>About')]
    assert '<td>dice</td><td class="num">0.75</td>' in section


def test_units_of_another_subject_are_refused(synthetic_unit, tmp_path: Path):
    with pytest.raises(DatasetError, match='other subjects'):
        write_subject_report(tmp_path / 'out', '02', [synthetic_unit()])
    with pytest.raises(DatasetError, match='no subject/session'):
        write_subject_report(tmp_path / 'out', '02', [])
