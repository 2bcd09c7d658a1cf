"""Robustness cases about OUTPUT_DIR itself: what a group run reads there, where a run writes.

Each is a context manager ``make(tmp, good, model)`` yielding a
:class:`robustness_scenarios.Scenario`, as in ``robustness_scenarios``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from robustness_inputs import GOOD, Good
from robustness_scenarios import Scenario, copy_dataset, participant_argv

from bids_app.derivatives import SUMMARY_COLUMNS, ensure_dataset_description, write_tsv
from bids_app.lesions import COLUMNS

_UNIT = f'sub-{GOOD}'


def _summary(out: Path) -> Path:
    return out / _UNIT / 'anat' / f'{_UNIT}_desc-lesions_summary.tsv'


def _lesion_table(out: Path) -> Path:
    return out / _UNIT / 'anat' / f'{_UNIT}_acq-sag_desc-lesions_dseg.tsv'


def write_finished_unit(out: Path, bids: Path, n_lesions: int) -> None:
    """What a participant run leaves for the good subject: its summary and lesion table."""
    ensure_dataset_description(out, bids)
    lesions = [
        {'index': k, 'name': f'lesion {k}', 'volume_mm3': 10.0, 'distance_along_cord_mm': 5.0}
        for k in range(1, n_lesions + 1)
    ]
    write_tsv(_lesion_table(out), lesions, list(COLUMNS))
    summary = {
        'participant_id': _UNIT,
        'slots_used': 'T2Sag',
        'n_lesions': n_lesions,
        'total_volume_mm3': 10.0 * n_lesions,
        'centerline_provider': 'T2Sag:builtin',
        'model': 'tiny@0123456789ab',
        'threshold': 0.5,
        'grow_threshold': 0.5,
        'min_lesion_mm3': 1.0,
    }
    write_tsv(_summary(out), [summary], list(SUMMARY_COLUMNS))


def _group_over(damage: Callable[[Path], Path], label: str):
    """A group run over a finished unit whose table ``damage(out)`` broke (returns the file)."""

    @contextmanager
    def scenario(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
        bids, out = copy_dataset(good, tmp), tmp / 'out'
        write_finished_unit(out, bids, n_lesions=3)
        broken = damage(out)
        argv = [str(bids), str(out), 'group', '-w', str(tmp / 'work'), '--skip-bids-validation']
        yield Scenario(bids, argv, str(broken))

    scenario.__name__ = label
    return scenario


def _latin1_summary(out: Path) -> Path:
    """The summary saved by a spreadsheet in Latin-1 (a note with an accent)."""
    path = _summary(out)
    path.write_bytes(path.read_bytes().replace(b'T2Sag:builtin', b'T2Sag:built\xefn'))
    return path


def _volume_in_words(out: Path) -> Path:
    path = _summary(out)
    header, row = path.read_text().splitlines()
    cells = dict(zip(header.split('\t'), row.split('\t'), strict=True))
    cells['total_volume_mm3'] = 'lots'
    path.write_text(f'{header}\n' + '\t'.join(cells.values()) + '\n')
    return path


def _lesion_columns_renamed(out: Path) -> Path:
    """The per-lesion table of another tool: three lesions, other column names."""
    path = _lesion_table(out)
    rows = [f'{k}\tlesion {k}\t10.0\t5.0' for k in (1, 2, 3)]
    path.write_text('\n'.join(['label\tname\tvolume [mm3]\tdistance', *rows]) + '\n')
    return path


group_not_utf8 = _group_over(_latin1_summary, 'group_not_utf8')
group_volume_words = _group_over(_volume_in_words, 'group_volume_words')
group_lesion_columns = _group_over(_lesion_columns_renamed, 'group_lesion_columns')


@contextmanager
def unit_folder_links_into_input(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """``OUT/sub-good`` is a symbolic link to the input's ``sub-good`` folder."""
    bids, out = copy_dataset(good, tmp), tmp / 'out'
    out.mkdir()
    (out / _UNIT).symlink_to(bids / _UNIT, target_is_directory=True)
    yield Scenario(bids, participant_argv(bids, tmp, model), str(out / _UNIT))


@contextmanager
def output_is_other_pipeline(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """OUTPUT_DIR is ``BIDS_DIR/derivatives/labels``, where the reference lesion masks are."""
    bids = copy_dataset(good, tmp)
    labels = bids / 'derivatives' / 'labels'
    description = {
        'Name': 'manual labels',
        'BIDSVersion': '1.10.0',
        'DatasetType': 'derivative',
        'GeneratedBy': [{'Name': 'Manual', 'Description': 'drawn in FSLeyes'}],
    }
    (labels / 'dataset_description.json').write_text(json.dumps(description))
    mask = labels / _UNIT / 'anat' / f'{_UNIT}_acq-sag_label-lesion_mask.nii.gz'
    shutil.copyfile(good.cord_mask, mask)
    argv = participant_argv(bids, tmp, model)
    argv[1] = str(labels)
    yield Scenario(bids, argv, str(labels))


@contextmanager
def outputs_of_other_options(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """OUTPUT_DIR holds a finished default run; the rerun asks for another threshold."""
    from checksums import checksums

    from bids_app.cli.run import main

    bids = copy_dataset(good, tmp)
    before = checksums(bids)
    if main(participant_argv(bids, tmp, model)) != 0:
        raise RuntimeError('the first run failed')
    argv = participant_argv(bids, tmp, model, '--threshold', '0.9')
    yield Scenario(bids, argv, _UNIT, processed=[_summary(tmp / 'out')], before=before)
