"""Aggregation helpers with hand-computed answers: regions, summaries, comparisons, ratings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bids_app.errors import DatasetError
from bids_app.group.compare import compare_models, model_labels
from bids_app.group.qc import excluded_units, read_ratings
from bids_app.group.summary import summarise
from bids_app.group.tables import region_counts, region_edges


def test_regions_along_the_cord():
    edges = region_edges(149.9)
    assert edges.tolist() == [0.0, 50.0, 100.0, 150.0]
    assert region_counts([0.0, 50.0, 99.9, 100.0, 149.9, -1.0], edges).tolist() == [1, 2, 2]


def test_summary_groups_and_missing_values():
    rows = [
        {'sensitivity': 1.0, 'site': 'A'},
        {'sensitivity': None, 'site': 'A'},  # no reference lesion: undefined
        {'sensitivity': 0.5, 'site': None},
    ]
    out = {(r['group_by'], r['group']): r for r in summarise(rows, ['sensitivity'], ['site'])}
    assert (out['all', 'all']['n'], out['all', 'all']['n_missing']) == (2, 1)
    assert out['all', 'all']['mean'] == 0.75
    assert (out['site', 'A']['n'], out['site', 'A']['mean']) == (1, 1.0)
    assert math.isnan(out['site', 'A']['std'])
    assert out['site', 'n/a']['mean'] == 0.5
    assert list(out) == [('all', 'all'), ('site', 'A'), ('site', 'n/a')]


def test_compare_pairs_by_unit_and_leaves_unpaired_out():
    base = [{'participant_id': f'sub-{k}', 'dice': v} for k, v in enumerate([0.1, 0.2, 0.3])]
    other = [{'participant_id': f'sub-{k}', 'dice': v} for k, v in [(1, 0.4), (2, 0.6)]]
    rows = compare_models({'base': base, 'other': other}, ['dice'])
    assert rows[1]['n'] == 2
    assert rows[1]['mean'] == pytest.approx(0.5)
    assert rows[1]['n_pairs'] == 2
    assert rows[1]['note'] == 'left out 1 pair(s) with a missing value'


def test_model_labels_are_unique():
    assert model_labels([Path('/r/a/out'), Path('/r/b/out')]) == ['a/out', 'b/out']
    assert model_labels([Path('/r/out'), Path('/r/variant')]) == ['out', 'variant']


def test_ratings_read_back_and_errors(tmp_path: Path):
    path = tmp_path / 'ratings.tsv'
    path.write_text(
        'participant_id\tsession_id\trating\tnote\n01\tM0\tFAIL\tn/a\n'
        'sub-02\tn/a\tartefact\tghosting\nsub-09\tn/a\tfail\tn/a\n'
    )
    ratings = read_ratings(path)
    assert {k: r.rating for k, r in ratings.items()} == {
        'sub-01_ses-M0': 'fail',
        'sub-02': 'artefact',
        'sub-09': 'fail',
    }
    assert excluded_units(ratings, ['sub-01_ses-M0', 'sub-02']) == {'sub-01_ses-M0'}
    path.write_text('participant_id\trating\nsub-01\tmaybe\n')
    with pytest.raises(DatasetError, match="line 2: rating 'maybe'"):
        read_ratings(path)
    path.write_text('participant_id\trating\nsub-01\tpass\nsub-01\tfail\n')
    with pytest.raises(DatasetError, match='rated twice'):
        read_ratings(path)
    path.write_text('subject\tscore\nsub-01\tpass\n')
    with pytest.raises(DatasetError, match='missing column'):
        read_ratings(path)
