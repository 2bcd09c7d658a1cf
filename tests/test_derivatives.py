"""The output dataset's own files: dataset_description.json and .bidsignore."""

from __future__ import annotations

import json
from pathlib import Path

from bids_app.derivatives import BIDSIGNORE, ensure_dataset_description, source_dataset


def test_description_links_the_input_by_uri_and_doi(tmp_path: Path) -> None:
    bids = tmp_path / 'my data'
    bids.mkdir()
    (bids / 'dataset_description.json').write_text(json.dumps({'DatasetDOI': '10.18112/x.1'}))
    out = tmp_path / 'out'
    ensure_dataset_description(out, bids)
    description = json.loads((out / 'dataset_description.json').read_text())
    assert description['DatasetLinks'] == {'raw': f'file://{tmp_path}/my%20data'}
    assert description['SourceDatasets'] == [
        {'URL': f'file://{tmp_path}/my%20data', 'DOI': 'doi:10.18112/x.1'}
    ]
    assert source_dataset(tmp_path / 'nowhere') == {'URL': f'file://{tmp_path}/nowhere'}


def test_bidsignore_hides_every_subject_log_and_figures_folder(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    out.mkdir()
    (out / '.bidsignore').write_text('*.html\nlogs/\nfigures/\nmy_notes.txt\n')  # an older one
    ensure_dataset_description(out, tmp_path)
    lines = (out / '.bidsignore').read_text().splitlines()
    assert lines[:4] == ['*.html', 'logs/', 'figures/', 'my_notes.txt']
    assert set(BIDSIGNORE) <= set(lines)
    assert {'**/log', '**/figures'} <= set(lines)
    assert len(lines) == len(set(lines))
    ensure_dataset_description(out, tmp_path)
    assert (out / '.bidsignore').read_text().splitlines() == lines
