"""--mem: a unit whose largest image needs more memory than allowed is refused before any work."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np

from bids_app.cli import memory
from bids_app.cli.run import main


def _dataset(root, shape):
    (root / 'sub-big' / 'anat').mkdir(parents=True)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 't', 'BIDSVersion': '1.10.0'})
    )
    image = nib.Nifti1Image(np.zeros(shape, np.uint8), np.eye(4))
    image.to_filename(root / 'sub-big' / 'anat' / 'sub-big_acq-sag_T2w.nii')  # uncompressed: fast
    return root


def test_estimate_grows_with_the_largest_image():
    small = memory.BASE_GB + memory.BYTES_PER_VOXEL * 100**3 / 1e9
    assert memory.BASE_GB < small < memory.BASE_GB + 0.1
    assert memory.BASE_GB + memory.BYTES_PER_VOXEL * 400**3 / 1e9 > 4.5


def test_a_400_cubed_t2w_is_refused_under_4g(tmp_path, tiny_model, capfd):
    bids = _dataset(tmp_path / 'bids', (400, 400, 400))
    out = tmp_path / 'out'
    argv = [str(bids), str(out), 'participant', '-w', str(tmp_path / 'w'), '--mem', '4G',
            '--model', str(tiny_model), '--skip-bids-validation']  # fmt: skip
    assert main(argv) == 1
    lines = [line for line in capfd.readouterr().err.splitlines() if 'raise --mem' in line]
    assert len(lines) == 1
    assert 'sub-big_acq-sag_T2w.nii has 64 M voxels' in lines[0]
    assert not list(out.glob('sub-big/anat/*_mask.nii.gz'))
