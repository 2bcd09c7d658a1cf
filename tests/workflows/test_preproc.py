"""The pre-processing workflow: built over options, run on real data, SCT wrapped with a fake."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.cli.run import main
from bids_app.frame import CordFrame
from bids_app.slots import Slot
from bids_app.workflows.preproc import PROVIDERS, init_preproc_wf


@pytest.mark.parametrize('provider', PROVIDERS)
@pytest.mark.parametrize(
    'slots',
    [[Slot.T2Sag], [Slot.T2Sag, Slot.STIR, Slot.T2starAx, Slot.T2Ax, Slot.T1w, Slot.MP2RAGE]],
)
@pytest.mark.parametrize('with_labels', [False, True])
def test_workflow_builds_for_every_option(provider, slots, with_labels):
    workflow = init_preproc_wf(
        slots=slots, providers=dict.fromkeys(slots, provider), with_labels=with_labels
    )
    nodes = set(workflow.list_node_names())
    for slot in slots:
        assert {f'fuse_{slot}', f'centerline_{slot}'} <= nodes
        assert (f'sct_seg_{slot}' in nodes) == provider.startswith('sct')
    frame_inputs = {
        dest
        for _, node, data in workflow._graph.in_edges(data=True)
        if node.name == 'cordframe'
        for _, dest in data['connect']
    }
    assert ('labels_file' in frame_inputs) == with_labels
    assert ('cord_mask' in frame_inputs) == (provider != 'builtin')
    priors = {
        (source.name, node.name)
        for source, node, data in workflow._graph.in_edges(data=True)
        if ('out_file', 'prior_file') in data['connect']
    }
    expected = {('centerline_T2Sag', f'centerline_{s}') for s in slots if s != Slot.T2Sag}
    assert priors == (expected if provider == 'builtin' else set())


FAKE_SCT = """#!/usr/bin/env python3
import sys, nibabel as nib, numpy as np
args = sys.argv[1:]
with open({log!r}, 'a') as log:
    log.write(' '.join([sys.argv[0].rsplit('/', 1)[-1]] + args) + '\\n')
assert args[0] == '-i' and args[4] == '-o', args
img = nib.load(args[1])
data = np.zeros(img.shape[:3], dtype=np.uint8)
centre = [s // 2 for s in img.shape[:3]]
vox = img.header.get_zooms()[:3]
r = [max(1, int(round(3.0 / v))) for v in vox]
grid = np.ogrid[tuple(slice(0, s) for s in img.shape[:3])]
sup = int(np.argmax(np.abs(img.affine[2, :3])))
dist = sum(((g - c) / rr) ** 2 for i, (g, c, rr) in enumerate(zip(grid, centre, r)) if i != sup)
data[np.broadcast_to(dist <= 1, data.shape)] = 1
nib.Nifti1Image(data, img.affine).to_filename(args[5])
"""


@pytest.fixture
def fake_sct(tmp_path, monkeypatch):
    """A fake ``sct_deepseg_sc`` on PATH that logs its arguments and writes a cylinder mask."""
    bin_dir, log = tmp_path / 'bin', tmp_path / 'sct.log'
    bin_dir.mkdir()
    script = bin_dir / 'sct_deepseg_sc'
    script.write_text(
        FAKE_SCT.format(log=str(log)).replace('#!/usr/bin/env python3', f'#!{os.sys.executable}')
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    return log


def _frame(out_dir: Path, work: Path) -> CordFrame:
    found = sorted(work.rglob('cordframe.npz'))
    assert len(found) == 1
    return CordFrame.load(found[0])


def test_sct_provider_with_a_fake_sct(sct_example, tmp_path, fake_sct, fake_label_vertebrae):
    out, work = tmp_path / 'out', tmp_path / 'work'
    argv = [
        str(sct_example),
        str(out),
        'participant',
        '-w',
        str(work),
        '--nprocs',
        '1',
        '--centerline',
        'sct',
        '--participant-label',
        'errsm30',
        '--skip-bids-validation',
    ]
    assert main(argv) == 0
    calls = fake_sct.read_text().splitlines()
    contrasts = sorted(line.split()[4] for line in calls)
    assert contrasts == ['t1', 't2', 't2s']  # T1w, T2Sag, T2starAx each with its contrast
    assert all(line.split()[0] == 'sct_deepseg_sc' for line in calls)
    frame = _frame(out, work)
    assert set(frame.providers.values()) == {'sct'}
    assert frame.cord is not None
    tsv = out / 'sub-errsm30/anat/sub-errsm30_T1w_desc-centerline.tsv'
    assert '"CenterlineProvider": "sct"' in tsv.with_suffix('.json').read_text()
    discs = out / 'sub-errsm30/anat/sub-errsm30_T2w_desc-discs.json'
    assert json.loads(discs.read_text())['Provider'] == 'sct'  # SCT's cord mask, SCT's discs
    assert ' -s ' in fake_label_vertebrae.read_text()


def test_sct_missing_is_exit_127(sct_example, tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    argv = [
        str(sct_example),
        str(tmp_path / 'o'),
        'participant',
        '--centerline',
        'sct',
        '--skip-bids-validation',
        '-w',
        str(tmp_path / 'w'),
    ]
    assert main(argv) == 127


def test_masks_provider_centres_the_cord_in_every_crop(sct_example, tmp_path):
    out, work = tmp_path / 'out', tmp_path / 'work'
    masks = sct_example / 'derivatives' / 'labels'
    argv = [
        str(sct_example),
        str(out),
        'participant',
        '-w',
        str(work),
        '--nprocs',
        '2',
        '--cord-masks',
        str(masks),
        '--skip-bids-validation',
        '--no-tta',  # the pre-processing is under test: one network pass is enough
    ]
    assert main(argv) == 0
    frame = _frame(out, work)
    assert frame.slots == [Slot.T2Sag, Slot.T2starAx, Slot.T1w]
    assert set(frame.providers.values()) == {'masks'}
    assert np.allclose(np.diff(frame.z_mm), 0.5)
    # The T2Sag cord mask, sampled in the frame, is centred on the crop: (23.5, 23.5) +- 1 voxel.
    cord = frame.cord.astype(float)
    slices = np.flatnonzero(cord.sum(axis=(0, 1)) > 20)
    assert len(slices) > 100
    i, j = np.mgrid[:48, :48]
    for k in slices[5:-5]:
        weights = cord[:, :, k]
        ci, cj = (i * weights).sum() / weights.sum(), (j * weights).sum() / weights.sum()
        assert abs(ci - 23.5) <= 1.0
        assert abs(cj - 23.5) <= 1.0
    folder = out / 'sub-errsm30' / 'anat'
    for name in (
        'sub-errsm30_T2w_desc-centerline.tsv',
        'sub-errsm30_space-cord_desc-crop_T2w.nii.gz',
        'sub-errsm30_acq-ax_space-cord_desc-crop_T2starw.nii.gz',
    ):
        assert (folder / name).is_file()
    rows = np.loadtxt(folder / 'sub-errsm30_T2w_desc-centerline.tsv', skiprows=1)
    assert rows.shape == (len(frame.z_mm), 3)
    assert np.allclose(rows[:, 2], frame.z_mm, atol=1e-3)
    crop = nib.load(folder / 'sub-errsm30_space-cord_desc-crop_T1w.nii.gz')
    assert crop.shape == (48, 48, len(frame.z_mm))
    assert nib.aff2axcodes(crop.affine) == ('L', 'A', 'S')
    # A rerun reuses the cache: same run, no recomputation, same result.
    assert main(argv) == 0
    assert np.array_equal(_frame(out, work).crops[Slot.T1w], frame.crops[Slot.T1w])
