"""Reruns reuse a unit's outputs only when what made them is unchanged (bids_app.cli.reuse).

One phantom subject, its sagittal T2w only, a tiny random model: every rerun changes one thing
and must give the new result without ``--overwrite``, saying why in one line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from bids_app.cli.reuse import RECORD_NAME, changes, make_record
from bids_app.cli.run import main
from bids_app.discovery import Unit
from bids_app.model.card import save_model_dir
from bids_app.model.config import variant_config
from bids_app.model.network import MultiSequenceUNet
from bids_app.slots import Slot
from bids_app.workflows.base import InferenceOptions, UnitPlan

OTHERS = ['STIR', 'T2starAx', 'T2Ax', 'T1w', 'MP2RAGE']


class Rerun:
    """The dataset, the command line and the outputs of subject 001."""

    def __init__(self, root: Path, bids: Path, model: Path) -> None:
        self.bids, self.model, self.out = bids, model, root / 'out'
        self.argv = [
            str(bids), str(self.out), 'participant', '-w', str(root / 'work'),
            '--nprocs', '1', '--model', str(model), '--participant-label', '001',
            '--cord-masks', str(bids / 'derivatives' / 'labels'), '--ignore', *OTHERS,
            '--skip-bids-validation',
        ]  # fmt: skip
        self.anat = self.out / 'sub-001' / 'anat'
        self.summary = self.anat / 'sub-001_desc-lesions_summary.tsv'
        self.t2sag = bids / 'sub-001' / 'anat' / 'sub-001_acq-sag_T2w.nii.gz'

    def row(self) -> dict[str, str]:
        header, row = self.summary.read_text().splitlines()
        return dict(zip(header.split('\t'), row.split('\t'), strict=True))

    def probseg(self) -> dict:
        return json.loads((self.anat / 'sub-001_acq-sag_label-lesion_probseg.json').read_text())

    def probability(self) -> np.ndarray:
        return nib.load(self.anat / 'sub-001_acq-sag_label-lesion_probseg.nii.gz').get_fdata()

    def run(self, capsys, *extra: str) -> list[str]:
        """Run; return the lines saying the unit was reused or recomputed."""
        capsys.readouterr()
        assert main([*self.argv, *extra]) == 0
        lines = [line.split('] ', 1)[-1] for line in capsys.readouterr().err.splitlines()]
        return [
            line for line in lines
            if line.startswith('sub-001: ') and ('reused' in line or 'recomputing' in line)
        ]  # fmt: skip


@pytest.fixture(scope='module')
def rerun(small_phantoms, tiny_model, tmp_path_factory) -> Rerun:
    """A copy of the phantoms and of the model (both are changed), run once."""
    root = tmp_path_factory.mktemp('reuse')
    bids = Path(shutil.copytree(small_phantoms, root / 'bids'))
    model = Path(shutil.copytree(tiny_model, root / 'model'))
    state = Rerun(root, bids, model)
    assert main(state.argv) == 0
    return state


def test_nothing_changed_reuses(rerun, capsys):
    rerun.run(capsys)  # back to the first command line, whatever the tests before changed
    before = rerun.summary.stat().st_mtime_ns
    assert rerun.run(capsys) == [
        'sub-001: outputs made from the same inputs, model and options, reused '
        '(--overwrite recomputes)'
    ]
    assert rerun.summary.stat().st_mtime_ns == before
    assert (rerun.out / 'sub-001' / 'log' / RECORD_NAME).is_file()


def test_post_processing_options_recompute(rerun, capsys):
    rerun.run(capsys)
    assert (rerun.row()['threshold'], rerun.row()['min_lesion_mm3']) == ('0.5', '1')
    assert rerun.row()['tta'] == 'false'
    assert rerun.row()['grow_threshold'] == '0.5'  # no growing: the threshold itself
    flags = ('--threshold', '0.95', '--grow-threshold', '0.4', '--min-lesion-mm3', '100', '--tta')
    assert rerun.run(capsys, *flags) == [
        'sub-001: --threshold changed (0.5 -> 0.95); --grow-threshold changed (none -> 0.4); '
        '--min-lesion-mm3 changed (1 -> 100); --tta changed (off -> on), recomputing'
    ]
    assert (rerun.row()['threshold'], rerun.row()['min_lesion_mm3']) == ('0.95', '100')
    assert rerun.row()['grow_threshold'] == '0.4'
    assert rerun.row()['tta'] == 'true'
    assert rerun.probseg()['TestTimeAugmentation'] is True
    assert rerun.run(capsys, *flags)[0].endswith('reused (--overwrite recomputes)')


def test_other_weights_in_the_same_model_folder_recompute(rerun, capsys):
    """The folder keeps its path: only the weights' sha256 tells (and Nipype must rerun)."""
    rerun.run(capsys)
    before = rerun.probability()
    torch.manual_seed(7)
    config = variant_config('mean-imputation', widths=(4, 8, 8, 8, 8), patch_size=(48, 48, 64))
    card = save_model_dir(rerun.model, MultiSequenceUNet(config), config, {})
    said = rerun.run(capsys)
    assert len(said) == 1
    assert said[0].startswith(f'sub-001: --model changed ({rerun.model} (sha256 ')
    assert said[0].endswith(
        f'-> {rerun.model} (sha256 {card["weights"]["sha256"][:12]})), recomputing'
    )
    assert rerun.probseg()['Model']['SHA256'] == card['weights']['sha256']
    assert not np.allclose(rerun.probability(), before)


def test_a_replaced_image_recomputes_a_touched_one_does_not(rerun, capsys):
    rerun.run(capsys)
    before = rerun.probability()
    stamp = rerun.summary.stat().st_mtime_ns
    rerun.t2sag.touch()  # same content, new time: compared by sha256, still the same input
    assert rerun.run(capsys)[0].endswith('reused (--overwrite recomputes)')
    assert rerun.summary.stat().st_mtime_ns == stamp
    img = nib.load(rerun.t2sag)
    data = np.asanyarray(img.dataobj).astype(np.float32)
    noisy = data + np.random.default_rng(0).normal(0, data.std(), data.shape).astype(np.float32)
    nib.Nifti1Image(noisy, img.affine, img.header).to_filename(rerun.t2sag)
    assert rerun.run(capsys) == ['sub-001: sub-001_acq-sag_T2w.nii.gz changed, recomputing']
    assert not np.allclose(rerun.probability(), before)


def test_changes_name_every_difference():
    base = {
        'software_version': '0.1.0',
        'model': {'folder': '/m', 'sha256': '0' * 64},
        'options': {'precision': 'float32', 'ignore': [], 'providers': {'T2Sag': 'masks'}},
        'files': {'T2Sag': ['/d/sub-1_acq-sag_T2w.nii.gz']},
        'identity': {},
    }
    now = {
        **base,
        'software_version': '0.2.0',
        'options': {
            'precision': 'bfloat16',
            'ignore': ['STIR'],
            'providers': {'T2Sag': 'builtin'},
        },
        'files': {
            'T2Sag': ['/d/sub-1_acq-sag_T2w.nii.gz'],
            'STIR': ['/d/sub-1_acq-stir_T2w.nii.gz'],
        },
    }
    assert changes(base, now) == [
        'sclesion changed (0.1.0 -> 0.2.0)',
        '--bf16 changed (float32 -> bfloat16)',
        '--ignore changed (none -> STIR)',
        'the centreline providers (--centerline, --cord-masks) changed (T2Sag: masks -> '
        'T2Sag: builtin)',
        'input images changed (sub-1_acq-stir_T2w.nii.gz added)',
    ]


def test_no_record_when_an_input_vanished(tmp_path):
    image = tmp_path / 'sub-01_acq-sag_T2w.nii.gz'
    image.write_bytes(b'x')
    plan = UnitPlan(Unit('01', None, {Slot.T2Sag: [image]}), {Slot.T2Sag: 'builtin'})
    inference = InferenceOptions(model_dir=tmp_path, model_sha256='0' * 64)
    record = make_record(plan, inference, ())
    assert record['identity'][str(image)]['sha256'] == (
        '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'
    )
    image.unlink()
    assert make_record(plan, inference, ()) is None
