"""The real-anatomy benchmark builds the held-out set that the model's card names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def bench(load_benchmark):
    return load_benchmark('real_anatomy')


def _card_copy(tmp_path: Path, held_out) -> Path:
    model = tmp_path / 'model'
    model.mkdir()
    card = json.loads((REPO / 'models' / 'sclesion-mi-cpu' / 'card.json').read_text())
    card['training_data'] = {} if held_out is None else {'held_out': held_out}
    (model / 'card.json').write_text(json.dumps(card))
    return model


def test_recipe_is_the_cards_held_out_commands(bench, tmp_path):
    model = _card_copy(
        tmp_path,
        [
            'sclesion-insert-lesions ../shared/data/gm-challenge-t2s HELDOUT --pseudo-sagittal '
            '--copies 10 --seed 12 --participant-label 9418',
            'sclesion-insert-lesions /data/mine OUT --bids-filter-file \'{"T2Sag": {}}\'',
        ],
    )
    shared = REPO.parent / 'shared' / 'data' / 'gm-challenge-t2s'
    assert bench.heldout_recipe(str(model)) == [
        (shared.resolve(),
         ['--pseudo-sagittal', '--copies', '10', '--seed', '12', '--participant-label', '9418']),
        (Path('/data/mine'), ['--bids-filter-file', '{"T2Sag": {}}']),
    ]  # fmt: skip


def test_shipped_card_names_its_held_out_anatomy(bench):
    recipe = bench.heldout_recipe(None)
    assert recipe
    assert all(options for _, options in recipe)


def test_card_without_held_out_asks_for_a_dataset(bench, tmp_path):
    with pytest.raises(SystemExit, match='give --heldout DIR'):
        bench.heldout_recipe(str(_card_copy(tmp_path, None)))


@pytest.mark.parametrize('command', ['sct_deepseg -i x.nii.gz', 'sclesion-insert-lesions only'])
def test_other_commands_are_refused(bench, command):
    with pytest.raises(ValueError, match='not an sclesion-insert-lesions command'):
        bench.parse_insert_command(command)


def test_absent_sources_measure_nothing(bench, tmp_path, capsys):
    model = _card_copy(tmp_path, ['sclesion-insert-lesions /nonexistent/controls OUT --seed 1'])
    assert bench.main(['--model', str(model)]) == 0
    assert '/nonexistent/controls absent: give --heldout DIR' in capsys.readouterr().out


def test_lesions_found_per_band_of_volume(bench, tmp_path):
    lesions = tmp_path / 'lesions.tsv'
    lesions.write_text(
        'unit\tlesion\tvolume_mm3\tclass\tdetected_T2Sag\tdetected_T2Sag+T1w\n'
        'sub-a\t1\t6.5\tfaint\t0\tn/a\n'
        'sub-a\t2\t9.99\tconspicuous\t1\tn/a\n'
        'sub-b\t1\t10.0\tfaint\t1\t1\n'
        'sub-b\t2\t19.9\tfaint\t0\t1\n'
        'sub-b\t3\t20.0\tconspicuous\t1\t1\n'
        'sub-b\t4\t250\tconspicuous\t1\t0\n'
    )
    assert bench.found_by_size(lesions, 'T2Sag') == [
        {'band_mm3': 'under 10', 'lesions': 2, 'found': 1, 'faint': 1, 'faint_found': 0},
        {'band_mm3': '10-20', 'lesions': 2, 'found': 1, 'faint': 2, 'faint_found': 1},
        {'band_mm3': '20+', 'lesions': 2, 'found': 2, 'faint': 0, 'faint_found': 0},
    ]
    # Units without the row's sequences (n/a) are not counted.
    assert bench.found_by_size(lesions, 'T2Sag+T1w') == [
        {'band_mm3': 'under 10', 'lesions': 0, 'found': 0, 'faint': 0, 'faint_found': 0},
        {'band_mm3': '10-20', 'lesions': 2, 'found': 2, 'faint': 2, 'faint_found': 2},
        {'band_mm3': '20+', 'lesions': 2, 'found': 1, 'faint': 0, 'faint_found': 0},
    ]
