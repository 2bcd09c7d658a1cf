"""Pre-processing for training: reference labels follow the T2Sag path into the cord frame."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from bids_app.cli import frames as cli_frames
from bids_app.cli.frames import preprocess_frames
from bids_app.cli.parser import build_parser
from bids_app.cli.run import build_config, discover_units
from bids_app.frame import CordFrame
from bids_app.phantoms.dataset import write_dataset
from bids_app.slots import Slot


@pytest.fixture(scope='module')
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp('phantom') / 'bids'
    write_dataset(root, 2, seed=3, small=True, all_sequences=True)
    return root


def _config(root, tmp_path, *extra):
    argv = [str(root), str(tmp_path / 'out'), 'train', '-w', str(tmp_path / 'work'),
            '--nprocs', '2', '--skip-bids-validation', *extra]  # fmt: skip
    return build_config(build_parser().parse_args(argv), argv)


def test_labels_reach_the_frame_with_their_volume(phantom, tmp_path, monkeypatch):
    labels = phantom / 'derivatives' / 'labels'
    config = _config(phantom, tmp_path, '--labels', str(labels), '--cord-masks', str(labels),
                     '--participant-label', '001')  # fmt: skip
    frames = preprocess_frames(discover_units(config), config)
    assert set(frames) == {'sub-001'}
    frame = CordFrame.load(frames['sub-001'])
    assert frame.slots == list(Slot)
    assert frame.labels is not None
    native = sorted(labels.glob('sub-001/anat/*_acq-sag_T2w_label-lesion_seg.nii.gz'))
    img = nib.load(native[0])
    native_mm3 = float(np.asarray(img.dataobj).astype(bool).sum()) * np.prod(
        img.header.get_zooms()
    )
    frame_mm3 = float(frame.labels.sum()) * 0.5**3
    if native_mm3 == 0:
        assert frame_mm3 == 0
    else:
        assert frame_mm3 == pytest.approx(native_mm3, rel=0.35)
    # A second run reuses the cached frame without building a workflow; a changed input redoes it.
    with monkeypatch.context() as patch:
        patch.setattr(cli_frames, 'run_graphs', _no_workflow)
        again = preprocess_frames(discover_units(config), config)
    assert again['sub-001'] == frames['sub-001']
    native[0].touch()
    redone = []
    with monkeypatch.context() as patch:
        patch.setattr(cli_frames, 'run_graphs', lambda plans, *a: redone.extend(plans))
        preprocess_frames(discover_units(config), config)
    assert [p.unit.name for p in redone] == ['sub-001']


def _no_workflow(*args):
    raise AssertionError('a cached frame with unchanged inputs went through Nipype again')


def test_units_without_labels_are_left_out_with_a_reason(phantom, tmp_path):
    empty = tmp_path / 'nolabels'
    empty.mkdir()
    config = _config(phantom, tmp_path, '--labels', str(empty))
    frames = preprocess_frames(discover_units(config), config)
    assert set(frames) == {'sub-001', 'sub-002'}
    assert all(isinstance(v, str) and 'no reference lesion label' in v for v in frames.values())


def test_label_on_another_grid_fails_that_unit_only(phantom, tmp_path):
    labels = tmp_path / 'labels'
    for source in sorted((phantom / 'derivatives' / 'labels').rglob('*.nii.gz')):
        target = labels / source.relative_to(phantom / 'derivatives' / 'labels')
        target.parent.mkdir(parents=True, exist_ok=True)
        img = nib.load(source)
        if 'sub-002' in source.name and 'lesion' in source.name:
            img = nib.Nifti1Image(np.asarray(img.dataobj)[:-2], img.affine)
        nib.save(img, target)
    config = _config(phantom, tmp_path, '--labels', str(labels), '--cord-masks', str(labels))
    frames = preprocess_frames(discover_units(config), config)
    assert not isinstance(frames['sub-001'], str)
    assert 'differs from its image' in frames['sub-002']
    assert 'resample the label onto the image grid' in frames['sub-002']
