"""The training log: columns, and logs begun by an older version."""

from __future__ import annotations

import math

from bids_app.training.curves import LOG_COLUMNS, append_log, read_log


def test_new_log_has_every_column(tmp_path):
    log = tmp_path / 'training_log.tsv'
    append_log(log, {'iteration': 10, 'loss': 0.5, 'lesion_wise': 0.25})
    assert log.read_text().splitlines()[0].split('\t') == list(LOG_COLUMNS)
    (row,) = read_log(log)
    assert (row['iteration'], row['loss'], row['lesion_wise']) == (10, 0.5, 0.25)
    assert math.isnan(row['val_dice'])


def test_an_older_log_keeps_its_columns_when_resumed(tmp_path):
    log = tmp_path / 'training_log.tsv'
    log.write_text('iteration\tloss\tval_dice\n10\t0.5\tn/a\n')
    append_log(log, {'iteration': 20, 'loss': 0.25, 'lesion_wise': 0.1, 'val_dice': 0.7})
    assert log.read_text().splitlines()[-1] == '20\t0.25\t0.7'
    assert [r['iteration'] for r in read_log(log)] == [10, 20]
