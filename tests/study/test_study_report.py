"""The tables and the page, remade from a hand-made study folder (no model, no dataset)."""

from __future__ import annotations

import csv
import json

import pytest

from bids_app.cli.study_tables import main
from bids_app.evaluation.outputs import UNIT_COLUMNS
from bids_app.study.manifest import write_manifest, write_test_units
from bids_app.study.plan import StudyRun

UNITS = {'sub-1': 'siteA', 'sub-2': 'siteA', 'sub-3': 'siteB'}
#: (model, seed) -> row -> Dice of sub-1, 2, 3 (F1 = Dice here).
SCORES = {
    ('baseline', 0): {'T2Sag': [0.2, 0.4, 0.6]},
    ('baseline', 1): {'T2Sag': [0.4, 0.4, 0.4]},
    ('mean-imputation', 0): {'T2Sag': [0.5, 0.5, 0.8], 'T2Sag+STIR': [0.6, 0.7, None]},
    ('combination-T2Sag+STIR', 0): {'T2Sag+STIR': [0.9, 0.5, None]},
}
RUNS = [
    StudyRun('baseline', 'baseline', 0),
    StudyRun('mean-imputation', 'mean-imputation', 0),
    StudyRun('combination-T2Sag+STIR', 'combination', 0, ('T2Sag', 'STIR')),
    StudyRun('baseline', 'baseline', 1),
    StudyRun('mean-imputation', 'mean-imputation', 1),  # not evaluated
]


def _write_scores(folder, rows):
    folder.mkdir(parents=True)
    lines = ['\t'.join(UNIT_COLUMNS)]
    for row, values in rows.items():
        for unit, value in zip(UNITS, values, strict=True):
            if value is not None:
                lines.append(f'{unit}\t{row}\t{row.replace("+", ",")}\t{value}\t{value}\t'
                             f'1\t1\t1\t1')  # fmt: skip
    (folder / 'units.tsv').write_text('\n'.join(lines) + '\n')
    (folder / 'evaluation.json').write_text('{}')


@pytest.fixture
def study(tmp_path):
    about = {
        'seeds': [0, 1],
        'cohort_column': 'site',
        'train_units': ['sub-7', 'sub-8'],
        'test_units': list(UNITS),
        'train_config': {'iterations': 5},
        'command_line': ['sclesion', 'bids', str(tmp_path), 'train', '--study', 'variants'],
    }
    write_manifest(tmp_path, RUNS, about)
    write_test_units(tmp_path, UNITS)
    for run in RUNS:
        if (run.model, run.seed) in SCORES:
            _write_scores(run.directory(tmp_path) / 'evaluation', SCORES[run.model, run.seed])
    return tmp_path


def _read(path):
    with path.open() as stream:
        return list(csv.DictReader(stream, delimiter='\t'))


def test_tables_and_page_come_from_the_folder(study, capsys):
    assert main([str(study)]) == 0
    table2 = {line['model']: line for line in _read(study / 'table2.tsv')}
    assert list(table2) == ['baseline', 'mean-imputation']  # the combination needs STIR
    assert float(table2['baseline']['dice']) == pytest.approx(0.4)
    assert float(table2['baseline']['dice_seed_std']) == pytest.approx(0.0)
    assert table2['baseline']['dice_p'] == 'n/a'
    assert table2['mean-imputation']['n_seeds'] == '1'
    assert table2['mean-imputation']['dice_seed_std'] == 'n/a'
    assert float(table2['mean-imputation']['dice']) == pytest.approx(0.6)
    assert table2['mean-imputation']['n_pairs'] == '3'
    # baseline seed means per unit 0.3, 0.4, 0.5 against 0.5, 0.5, 0.8: exact p = 2 / 8
    assert float(table2['mean-imputation']['dice_p']) == pytest.approx(0.25)

    table1 = {(r['model'], r['row'], r['cohort']): r for r in _read(study / 'table1.tsv')}
    combination = table1['combination-T2Sag+STIR', 'T2Sag+STIR', 'all']
    assert combination['n_units'] == '2'
    assert float(combination['dice']) == pytest.approx(0.7)
    assert float(table1['mean-imputation', 'T2Sag', 'siteB']['dice']) == pytest.approx(0.8)
    assert ('combination-T2Sag+STIR', 'T2Sag+STIR', 'siteB') not in table1

    runs = _read(study / 'runs.tsv')
    assert [r['evaluated'] for r in runs] == ['yes', 'yes', 'yes', 'yes', 'no']
    page = (study / 'study.html').read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert f'python -m bids_app.study {study}' in page
    assert 'The study is incomplete' in page
    assert 'cohort siteB' in page
    assert (study / 'figures' / 't2sag.png').read_bytes().startswith(b'\x89PNG')
    assert capsys.readouterr().out == (study / 'table2.md').read_text()
    assert (
        '| mean-imputation | 1 | 3 | 0.600 | 0.25 | 0.600 | 0.25 |'
        in (study / 'table2.md').read_text()
    )


def test_without_a_cohort_column_table1_has_only_all(study):
    document = json.loads((study / 'study.json').read_text())
    document['cohort_column'] = None
    (study / 'study.json').write_text(json.dumps(document))
    assert main([str(study)]) == 0
    assert {line['cohort'] for line in _read(study / 'table1.tsv')} == {'all'}


def test_a_folder_without_a_study_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert 'study.json does not exist' in capsys.readouterr().err
