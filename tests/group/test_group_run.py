"""``run_group`` on a fake output with hand-computed answers (see conftest.py)."""

from __future__ import annotations

import json
import math
import re

import pytest

from bids_app.errors import DatasetError, UsageError
from bids_app.group import run_group
from bids_app.group.collect import Status, collect_outputs, read_tsv
from bids_app.stats import wilcoxon_paired


def _rows(path, **match):
    return [r for r in read_tsv(path) if all(r.get(k) == v for k, v in match.items())]


def test_collect_status_and_reasons(study):
    records = {r.unit.name: r for r in collect_outputs(study.out, study.units)}
    assert {n: r.status for n, r in records.items()} == {
        'sub-01': Status.done,
        'sub-02': Status.done,
        'sub-03': Status.failed,
        'sub-04': Status.skipped,
        'sub-05': Status.not_run,
    }
    assert records['sub-03'].reason == 'InputImageError: header unreadable'
    assert records['sub-04'].reason == 'no sagittal T2w (T2Sag) found'
    assert 'run the participant level' in records['sub-05'].reason
    assert records['sub-01'].mask.name == 'sub-01_acq-sag_label-lesion_mask.nii.gz'


def test_group_table_every_unit_regions_and_participants(study):
    result = run_group(study.bids_dir, study.out, study.units)
    rows = read_tsv(study.out / 'group_lesions.tsv')
    assert [r['participant_id'] for r in rows] == [f'sub-0{k}' for k in range(1, 6)]
    assert [r['status'] for r in rows] == ['done', 'done', 'failed', 'skipped', 'not_run']
    assert rows[2]['reason'] == 'InputImageError: header unreadable'
    # Lesions at 10 and 60 mm (sub-01) and 30 mm (sub-02): bands of 50 mm up to 100 mm.
    assert (rows[0]['n_lesions_0_50mm'], rows[0]['n_lesions_50_100mm']) == ('1', '1')
    assert (rows[1]['n_lesions_0_50mm'], rows[1]['n_lesions_50_100mm']) == ('1', '0')
    assert rows[2]['n_lesions_0_50mm'] is None
    # Per vertebra: sub-01's discs named (C2 and C3), sub-02's not (n/a), the others not done.
    assert [(r['n_lesions_C2'], r['volume_mm3_C3']) for r in rows[:3]] == [
        ('1', '4'),
        (None, None),
        (None, None),
    ]
    assert 'n_lesions_C4' not in rows[0]  # no unit has lesions there
    page = (study.out / 'group_lesions.html').read_text()
    assert 'Per vertebra, over the 1 subject/session(s) whose intervertebral discs' in page
    cells = re.findall(r'<td[^>]*>([^<]*)</td>', page.split('Per vertebra')[1])
    assert cells[:8] == ['C2', '1', '1', '4.000', 'C3', '1', '1', '4.000']
    assert [r['site'] for r in rows] == ['A', 'B', 'A', None, None]
    assert rows[0]['slots_found'] == 'T2Sag'
    assert rows[3]['slots_found'] is None
    sidecar = json.loads((study.out / 'group_lesions.json').read_text())
    assert list(sidecar)[: len(rows[0])] == list(rows[0])
    assert result.counts == {'done': 2, 'failed': 1, 'skipped': 1, 'not_run': 1}
    assert result.n_evaluated == 0
    # Lesion load, done units only: n_lesions 2 and 1 -> mean 1.5.
    summary = _rows(study.out / 'group_summary.tsv', group_by='all', metric='n_lesions')
    assert float(summary[0]['mean']) == 1.5


def test_evaluation_means_by_sequence_set_and_site(study):
    result = run_group(study.bids_dir, study.out, study.units, labels_dir=study.labels,
                       group_by=['site'])  # fmt: skip
    rows = read_tsv(study.out / 'group_eval.tsv')
    assert [(r['participant_id'], float(r['dice'])) for r in rows] == [
        ('sub-01', 0.5),
        ('sub-02', 1.0),
    ]
    assert [float(r['f1']) for r in rows] == [1.0, 1.0]
    assert [r['site'] for r in rows] == ['A', 'B']
    assert rows[0]['reference'] == 'sub-01/anat/sub-01_acq-sag_T2w_label-lesion_seg.nii.gz'
    assert float(rows[0]['ref_volume_mm3']) == 8.0
    summary = study.out / 'group_summary.tsv'
    (overall,) = _rows(summary, group_by='all', metric='dice')
    assert float(overall['mean']) == 0.75
    assert float(overall['median']) == 0.75
    assert float(overall['std']) == pytest.approx(math.sqrt(2 * 0.25**2), rel=1e-5)
    (by_set,) = _rows(summary, group_by='slots_used', group='T2Sag', metric='dice')
    assert (by_set['n'], float(by_set['mean'])) == ('2', 0.75)
    site = {r['group']: float(r['mean']) for r in _rows(summary, group_by='site', metric='dice')}
    assert site == {'A': 0.5, 'B': 1.0}
    assert result.n_evaluated == 2


def test_qc_fail_leaves_the_statistics(study, tmp_path):
    ratings = tmp_path / 'ratings.tsv'
    ratings.write_text(
        'participant_id\tsession_id\trating\tnote\nsub-01\tn/a\tpass\tn/a\n'
        'sub-02\tn/a\tfail\tmotion\nsub-03\tn/a\tn/a\tn/a\n'
    )
    result = run_group(study.bids_dir, study.out, study.units, labels_dir=study.labels,
                       qc_ratings=ratings)  # fmt: skip
    assert result.excluded == ('sub-02',)
    (overall,) = _rows(study.out / 'group_summary.tsv', group_by='all', metric='dice')
    assert (overall['n'], float(overall['mean'])) == ('1', 0.5)
    table = read_tsv(study.out / 'group_lesions.tsv')
    assert [r['qc_rating'] for r in table[:3]] == ['pass', 'fail', None]
    assert len(read_tsv(study.out / 'group_eval.tsv')) == 2  # listed, but not summarised
    page = (study.out / 'group_lesions.html').read_text()
    assert '1 rated fail and left out of the statistics: sub-02' in page
    assert 'value="fail" checked' in page


def test_compare_wilcoxon_against_the_first(study, other_output):
    perfect = other_output()
    run_group(study.bids_dir, study.out, study.units, labels_dir=study.labels,
              compare=[perfect])  # fmt: skip
    rows = _rows(study.out / 'group_compare.tsv', metric='dice')
    assert [(r['model'], float(r['mean'])) for r in rows] == [('out', 0.75), ('perfect', 1.0)]
    assert rows[0]['p_value'] is None
    expected = wilcoxon_paired([1.0, 1.0], [0.5, 1.0])
    assert (rows[1]['n_pairs'], float(rows[1]['p_value'])) == ('2', expected.p_value)


def test_compare_without_labels_uses_lesion_load(study, other_output):
    run_group(study.bids_dir, study.out, study.units, compare=[other_output()])
    rows = _rows(study.out / 'group_compare.tsv', metric='total_volume_mm3')
    # Predicted volumes: 8 and 6 mm^3 here; the reference volumes 8 and 6 there.
    assert [float(r['mean']) for r in rows] == [7.0, 7.0]


def test_usage_and_dataset_errors(study, tmp_path):
    with pytest.raises(UsageError, match='--group-by scanner'):
        run_group(study.bids_dir, study.out, study.units, group_by=['scanner'])
    stranger = tmp_path / 'not-sclesion'
    stranger.mkdir()
    (stranger / 'dataset_description.json').write_text('{"GeneratedBy": [{"Name": "fMRIPrep"}]}')
    with pytest.raises(DatasetError, match='not sclesion'):
        run_group(study.bids_dir, study.out, study.units, compare=[stranger])
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'dataset_description.json').write_text(
        (study.out / 'dataset_description.json').read_text()
    )
    with pytest.raises(DatasetError, match='no finished participant output'):
        run_group(study.bids_dir, empty, study.units)


def test_sessions_are_units_of_their_own(study, session_units):
    run_group(study.bids_dir, study.out, session_units, labels_dir=study.labels)
    rows = read_tsv(study.out / 'group_eval.tsv')
    assert [(r['session_id'], float(r['dice'])) for r in rows] == [
        ('ses-M0', 0.5),
        ('ses-M12', 1.0),
    ]
    table = read_tsv(study.out / 'group_lesions.tsv')
    assert [r['session_id'] for r in table] == ['ses-M0', 'ses-M12']


def _summary(study):
    return study.out / 'sub-01' / 'anat' / 'sub-01_desc-lesions_summary.tsv'


def _lesions(study):
    return study.out / 'sub-01' / 'anat' / 'sub-01_acq-sag_desc-lesions_dseg.tsv'


def _replace(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ('damage', 'message'),
    [
        (
            lambda s: _summary(s).write_bytes(
                _summary(s).read_bytes().replace(b'T2Sag', b'T2\xe9')
            ),
            r'_summary\.tsv is not UTF-8 text \(byte 0xe9 at offset \d+\)',
        ),
        (
            lambda s: _replace(_summary(s), '\t2\t8\t', '\t2\tlots\t'),
            r"_summary\.tsv line 2: total_volume_mm3 is 'lots', not a number",
        ),
        (
            lambda s: _replace(_lesions(s), 'distance_along_cord_mm', 'distance'),
            r'_dseg\.tsv lacks the column\(s\) distance_along_cord_mm \(edited',
        ),
        (
            lambda s: _replace(_lesions(s), '\n2\t', '\n2\tx\t'),
            r'_dseg\.tsv line 3 has another number of cells than its header',
        ),
        (
            lambda s: _lesions(s).write_text(_lesions(s).read_text().rsplit('\n', 2)[0] + '\n'),
            r'_dseg\.tsv holds 1 lesion\(s\) but sub-01_desc-lesions_summary\.tsv says 2',
        ),
        (lambda s: _lesions(s).unlink(), r'_dseg\.tsv is missing'),
    ],
)
def test_a_broken_participant_table_is_one_line_naming_it(study, damage, message):
    """Never n/a values or a traceback: exit 2 (DatasetError), the file and the fix."""
    damage(study)
    with pytest.raises(DatasetError, match=message) as caught:
        run_group(study.bids_dir, study.out, study.units)
    assert str(caught.value).endswith('rerun the participant level on sub-01 with --overwrite')
    assert '\n' not in str(caught.value)
    assert not (study.out / 'group_lesions.tsv').exists()


def test_a_lesion_table_without_the_newer_columns_still_reads(study):
    """Outputs written before ``distance_to_view_end_mm`` existed stay readable."""
    lines = [line.split('\t') for line in _lesions(study).read_text().splitlines()]
    drop = lines[0].index('distance_to_view_end_mm')
    _lesions(study).write_text(
        ''.join('\t'.join(c for k, c in enumerate(line) if k != drop) + '\n' for line in lines)
    )
    run_group(study.bids_dir, study.out, study.units)
    assert (study.out / 'group_lesions.tsv').is_file()


def test_skipped_and_failed_units_are_said_once(study, caplog):
    run_group(study.bids_dir, study.out, study.units)
    said = [r.getMessage() for r in caplog.records]
    assert [m for m in said if 'sub-04' in m] == []  # discovery says it, once
    assert [m for m in said if m.startswith('sub-03 failed:')] == [
        'sub-03 failed: InputImageError: header unreadable'
    ]
