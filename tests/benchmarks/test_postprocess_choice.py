"""Which units `benchmarks/postprocess.py` chooses the card's post-processing on."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope='module')
def bench(load_benchmark):
    return load_benchmark('postprocess')


def _model_with_split(root: Path) -> Path:
    model = root / 'model'
    model.mkdir()
    (model / 'split.tsv').write_text(
        'unit\tsubset\nsub-a\ttrain\nsub-b\tvalidation\nsub-c\tvalidation\n'
    )
    return model


def test_validation_units_then_every_unit_of_also(bench, tmp_path):
    model = _model_with_split(tmp_path)
    fresh = tmp_path / 'fresh'
    fresh.mkdir()
    for name in ('sub-z', 'sub-y'):
        (fresh / f'{name}.npz').touch()
    (fresh / 'sub-y.key').touch()  # a frame's reuse key is not a unit
    files = bench.validation_frames(model, tmp_path / 'frames', [fresh])
    assert [f.name for f in files] == ['sub-b.npz', 'sub-c.npz', 'sub-y.npz', 'sub-z.npz']
    assert files[0].parent == tmp_path / 'frames'


def test_also_without_frames_is_refused_naming_it(bench, tmp_path):
    model = _model_with_split(tmp_path)
    with pytest.raises(SystemExit, match=r'empty.*holds no cord frames'):
        bench.validation_frames(model, tmp_path / 'frames', [tmp_path / 'empty'])


def test_fresh_only_scores_the_also_units_alone(bench, tmp_path):
    model = _model_with_split(tmp_path)
    fresh = tmp_path / 'fresh'
    fresh.mkdir()
    (fresh / 'sub-z.npz').touch()
    files = bench.validation_frames(model, tmp_path / 'frames', [fresh], fresh_only=True)
    assert files == [fresh / 'sub-z.npz']
    with pytest.raises(SystemExit, match='give --also'):
        bench.validation_frames(model, tmp_path / 'frames', [], fresh_only=True)
