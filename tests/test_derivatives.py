"""The output dataset's own files: dataset_description.json and .bidsignore."""

from __future__ import annotations

import json
from pathlib import Path

from bids_app.derivatives import (
    BIDSIGNORE,
    container_info,
    ensure_dataset_description,
    source_dataset,
)


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


def test_the_container_is_recorded_only_inside_our_image(monkeypatch, tmp_path: Path) -> None:
    """/.dockerenv exists in any Docker container: only our image's variable says it is ours."""
    for name in ('SCLESION_IMAGE', 'APPTAINER_CONTAINER', 'SINGULARITY_CONTAINER'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('APPTAINER_CONTAINER', '/images/someone-else.sif')
    assert container_info() is None
    ensure_dataset_description(tmp_path / 'out', tmp_path)
    description = json.loads((tmp_path / 'out' / 'dataset_description.json').read_text())
    assert 'Container' not in description['GeneratedBy'][0]
    monkeypatch.setenv('SCLESION_IMAGE', 'sclesion/sclesion:0.1.0')
    assert container_info() == {
        'Type': 'apptainer',
        'Tag': 'sclesion/sclesion:0.1.0',
        'URI': 'file:///images/someone-else.sif',
    }
    monkeypatch.delenv('APPTAINER_CONTAINER')
    assert container_info() == {'Type': 'docker', 'Tag': 'sclesion/sclesion:0.1.0'}
