"""Reference labels found by the names spine datasets use (CONVENTIONS section 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bids_app.errors import DatasetError
from bids_app.labels import find_cord_mask, find_lesion_label, source_stem

SOURCE = 'sub-01/anat/sub-01_acq-sag_T2w.nii.gz'


def _touch(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'x')
    return path


@pytest.fixture
def dirs(tmp_path):
    bids, labels = tmp_path / 'bids', tmp_path / 'bids' / 'derivatives' / 'labels'
    return bids, labels, _touch(bids, SOURCE)


def test_source_stem():
    assert source_stem(Path('a/sub-01_T2w.nii.gz')) == 'sub-01_T2w'
    assert source_stem(Path('sub-01_T2w.nii')) == 'sub-01_T2w'


@pytest.mark.parametrize(
    'name',
    [
        'sub-01_acq-sag_T2w_label-lesion_seg.nii.gz',
        'sub-01_acq-sag_T2w_desc-rater3_label-lesion_seg.nii.gz',
        'sub-01_acq-sag_T2w_lesion-manual.nii.gz',
        'sub-01_acq-sag_T2w_label-lesion_softseg.nii',
        'sub-01_acq-sag_label-lesion_mask.nii.gz',
    ],
)
def test_each_lesion_naming_is_found(dirs, name):
    bids, labels, source = dirs
    expected = _touch(labels, f'sub-01/anat/{name}')
    assert find_lesion_label(source, bids, labels) == expected


def test_rule_one_wins_over_raters(dirs):
    bids, labels, source = dirs
    _touch(labels, 'sub-01/anat/sub-01_acq-sag_T2w_desc-rater1_label-lesion_seg.nii.gz')
    _touch(labels, 'sub-01/anat/sub-01_acq-sag_T2w_desc-rater2_label-lesion_seg.nii.gz')
    with pytest.raises(DatasetError, match=r'rater1.*rater2.*--lesion-label-suffix'):
        find_lesion_label(source, bids, labels)
    chosen = find_lesion_label(source, bids, labels, '_desc-rater2_label-lesion_seg')
    assert chosen.name == 'sub-01_acq-sag_T2w_desc-rater2_label-lesion_seg.nii.gz'
    main = _touch(labels, 'sub-01/anat/sub-01_acq-sag_T2w_label-lesion_seg.nii.gz')
    assert find_lesion_label(source, bids, labels) == main


def test_no_label_is_none(dirs):
    bids, labels, source = dirs
    labels.mkdir(parents=True)
    assert find_lesion_label(source, bids, labels) is None
    assert find_cord_mask(source, bids, labels) is None


def test_cord_masks_of_the_real_datasets(sct_example, gm_challenge):
    labels = sct_example / 'derivatives' / 'labels'
    for source in (sct_example / 'sub-errsm30' / 'anat').glob('*.nii.gz'):
        mask = find_cord_mask(source, sct_example, labels)
        assert mask is not None
        assert mask.name.startswith(source_stem(source) + '_label-SC_seg')
    for source in gm_challenge.glob('sub-*/anat/*_T2starw.nii.gz'):
        mask = find_cord_mask(source, gm_challenge, gm_challenge / 'derivatives' / 'labels')
        assert mask.name.endswith('_seg-manual.nii.gz')


@pytest.mark.parametrize('suffix', ['_label-disc_dlabel', '_labels-disc', '_labels-disc-manual'])
def test_disc_labels_in_either_folder(dirs, tmp_path, suffix):
    from bids_app.labels import find_disc_labels

    bids, labels, source = dirs
    other = tmp_path / 'masks'
    assert find_disc_labels(source, bids, [None, labels]) is None
    found = _touch(labels, f'sub-01/anat/sub-01_acq-sag_T2w{suffix}.nii.gz')
    assert find_disc_labels(source, bids, [other, labels]) == found
