"""The participant level end to end on phantoms, with a tiny random model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
from bids import BIDSLayout

from bids_app.cli.run import main
from bids_app.dataset_checks import find_validator


@pytest.fixture(scope='module')
def run(small_phantoms, tiny_model, tmp_path_factory):
    """Run once; tests read the outputs."""
    out = tmp_path_factory.mktemp('participant') / 'out'
    work = out.parent / 'work'
    labels = small_phantoms / 'derivatives' / 'labels'
    argv = [
        str(small_phantoms),
        str(out),
        'participant',
        '-w',
        str(work),
        '--nprocs',
        '2',
        '--model',
        str(tiny_model),
        '--cord-masks',
        str(labels),
        '--skip-bids-validation',
    ]
    code = main(argv)
    return code, out, argv


def test_exit_code_and_every_output(run):
    code, out, _ = run
    assert code == 0
    for subject in ('001', '002'):
        folder = out / f'sub-{subject}' / 'anat'
        stem = f'sub-{subject}_acq-sag'
        for name in (
            f'{stem}_label-lesion_mask.nii.gz',
            f'{stem}_label-lesion_probseg.nii.gz',
            f'{stem}_desc-lesions_dseg.nii.gz',
            f'{stem}_desc-lesions_dseg.tsv',
            f'sub-{subject}_desc-lesions_summary.tsv',
            f'sub-{subject}_acq-ax_T2starw_desc-centerline.tsv',
        ):
            assert (folder / name).is_file(), name
    description = json.loads((out / 'dataset_description.json').read_text())
    assert description['DatasetType'] == 'derivative'
    assert description['GeneratedBy'][0]['Name'] == 'sclesion'


def test_pybids_finds_the_mask_by_entities_on_the_t2sag_grid(run, small_phantoms):
    _, out, _ = run
    layout = BIDSLayout(str(small_phantoms), derivatives=str(out), validate=False)
    masks = layout.get(
        scope='derivatives', subject='001', label='lesion', suffix='mask', extension='.nii.gz'
    )
    assert len(masks) == 1
    t2sag = small_phantoms / 'sub-001' / 'anat' / 'sub-001_acq-sag_T2w.nii.gz'
    mask, source = nib.load(masks[0].path), nib.load(t2sag)
    assert mask.shape == source.shape
    assert np.allclose(mask.affine, source.affine, atol=1e-4)
    probseg = nib.load(str(masks[0].path).replace('_mask', '_probseg'))
    probability = np.asarray(probseg.dataobj)
    assert probability.min() >= 0
    assert probability.max() <= 1


def test_sidecars_point_at_real_files(run, small_phantoms):
    _, out, _ = run
    for sidecar in out.rglob('sub-*/anat/*.json'):
        content = json.loads(sidecar.read_text())
        for uri in content.get('Sources', []):
            dataset, relative = uri.split(':', 2)[1:]
            root = small_phantoms if dataset == 'raw' else out
            assert (root / relative).is_file(), (sidecar.name, uri)
        if sidecar.name.endswith('_probseg.json'):
            assert content['Precision'] == 'float32'  # the default; --bf16 records bfloat16
        if sidecar.name.endswith('_mask.json'):
            # no flags and a card without "postprocess": the built-in values, as used
            assert (content['Threshold'], content['MinLesionVolume']) == (0.5, 1.0)
    for summary in out.rglob('sub-*/anat/*_desc-lesions_summary.tsv'):
        header, row = (line.split('\t') for line in summary.read_text().splitlines())
        assert dict(zip(header, row, strict=True))['min_lesion_mm3'] == '1'


def test_lesion_table_matches_the_dseg(run):
    _, out, _ = run
    for dseg_path in out.rglob('*_desc-lesions_dseg.nii.gz'):
        dseg = np.asarray(nib.load(dseg_path).dataobj)
        rows = dseg_path.with_name(dseg_path.name.replace('.nii.gz', '.tsv')).read_text()
        n_rows = len(rows.strip().splitlines()) - 1
        assert n_rows == int(dseg.max())
        mask = np.asarray(
            nib.load(str(dseg_path).replace('desc-lesions_dseg', 'label-lesion_mask')).dataobj
        )
        assert np.array_equal(dseg > 0, mask > 0)
        table = [line.split('\t') for line in rows.strip().splitlines()]
        ends = table[0].index('distance_to_view_end_mm')
        assert all(float(line[ends]) >= 0 for line in table[1:])  # a number, never n/a


def test_the_bids_validator_finds_no_error_in_the_outputs(run, tmp_path):
    """The schema validator (bids-validator-deno, a dependency) on a participant output."""
    _, out, _ = run
    validator = find_validator()
    env = {**os.environ, 'DENO_DIR': str(tmp_path / 'deno')}
    version = validator and subprocess.run(
        [validator, '--version'], capture_output=True, env=env, check=False
    )
    if not version or version.returncode:
        pytest.skip(f'the BIDS validator cannot run here ({validator})')
    result = subprocess.run(
        [validator, str(out), '--format', 'json'],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    issues = json.loads(result.stdout)['issues']['issues']
    errors = [(i['code'], i.get('subCode'), i.get('location')) for i in issues
              if i['severity'] == 'error']  # fmt: skip
    assert errors == []
    assert not [i for i in issues if i['code'] == 'TSV_COLUMN_TYPE_REDEFINED']
    description = json.loads((out / 'dataset_description.json').read_text())
    assert description['DatasetLinks']['raw'].startswith('file:///')
    assert description['SourceDatasets'][0]['URL'].startswith('file:///')


def test_rerun_reuses_and_overwrite_recomputes(run, caplog):
    _, out, argv = run
    summary = out / 'sub-001' / 'anat' / 'sub-001_desc-lesions_summary.tsv'
    before = summary.stat().st_mtime_ns
    assert main(argv) == 0
    assert summary.stat().st_mtime_ns == before
    mask = out / 'sub-002' / 'anat' / 'sub-002_acq-sag_label-lesion_mask.nii.gz'
    mask.unlink()
    assert main([*argv, '--overwrite', '--participant-label', '002']) == 0
    assert mask.is_file()


# The robustness battery's shared run checks the same in the default suite (its `naninf` case: a
# NaN T2Sag beside a good subject, exit 1, the good subject's outputs written); this whole second
# pipeline run, with the crash file, is kept for `-m slow` to hold the suite under 10 minutes.
@pytest.mark.slow
def test_one_bad_subject_fails_alone(small_phantoms, tiny_model, tmp_path, caplog):
    bids = tmp_path / 'bids'
    shutil.copytree(small_phantoms, bids)
    bad = bids / 'sub-002' / 'anat' / 'sub-002_acq-sag_T2w.nii.gz'
    img = nib.load(bad)
    data = np.asarray(img.dataobj).astype(np.float32)
    data[0, 0, 0] = np.nan
    nib.Nifti1Image(data, img.affine).to_filename(bad)
    out = tmp_path / 'out'
    argv = [
        str(bids),
        str(out),
        'participant',
        '-w',
        str(tmp_path / 'work'),
        '--nprocs',
        '2',
        '--model',
        str(tiny_model),
        '--skip-bids-validation',
        '--cord-masks',
        str(bids / 'derivatives' / 'labels'),
    ]
    assert main(argv) == 1
    assert (out / 'sub-001' / 'anat' / 'sub-001_desc-lesions_summary.tsv').is_file()
    assert not (out / 'sub-002' / 'anat' / 'sub-002_desc-lesions_summary.tsv').exists()
    crash = list((out / 'sub-002' / 'log').rglob('crash-*.txt'))
    assert crash


def test_vertebral_levels(run):
    """Discs found on each phantom T2Sag (cervical, so named from C2/C3), every lesion's
    levels in the lesion table, lesions and volume per level in their own summary."""
    import csv

    _, out, _ = run
    for subject in ('001', '002'):
        folder = out / f'sub-{subject}' / 'anat'
        with (folder / f'sub-{subject}_acq-sag_T2w_desc-discs.tsv').open() as handle:
            discs = list(csv.DictReader(handle, delimiter='\t'))
        assert discs[0]['name'] == 'C2/C3'
        assert [float(d['z_mm']) for d in discs] == sorted(
            (float(d['z_mm']) for d in discs), reverse=True
        )
        with (folder / f'sub-{subject}_acq-sag_desc-lesions_dseg.tsv').open() as handle:
            lesions = list(csv.DictReader(handle, delimiter='\t'))
        assert all(row['vertebral_levels'] for row in lesions)
        levels = folder / f'sub-{subject}_desc-levels_summary.tsv'
        with levels.open() as handle:
            per_level = list(csv.DictReader(handle, delimiter='\t'))
        total = sum(float(row['volume_mm3']) for row in per_level)
        expected = sum(float(row['volume_mm3']) for row in lesions)
        assert total == pytest.approx(expected, rel=0.05, abs=1.0)


def test_a_model_trained_on_another_frame_gets_that_frame(small_phantoms, tmp_path):
    """The card's cord frame (32 voxels of 0.5 mm here) is the one pre-processing builds."""
    import torch

    from bids_app.model.card import save_model_dir
    from bids_app.model.config import variant_config
    from bids_app.model.network import MultiSequenceUNet

    torch.manual_seed(0)
    config = variant_config('mean-imputation', widths=(4, 8, 8, 8, 8), patch_size=(32, 32, 64))
    model = tmp_path / 'crop32'
    save_model_dir(model, MultiSequenceUNet(config), config, {'training': {'note': 'random'}})
    out = tmp_path / 'out'
    argv = [str(small_phantoms), str(out), 'participant', '-w', str(tmp_path / 'work'),
            '--nprocs', '1', '--model', str(model), '--participant-label', '001',
            '--cord-masks', str(small_phantoms / 'derivatives' / 'labels'),
            '--skip-bids-validation']  # fmt: skip
    assert main(argv) == 0
    crop = out / 'sub-001' / 'anat' / 'sub-001_acq-sag_space-cord_desc-crop_T2w.nii.gz'
    assert nib.load(crop).shape[:2] == (32, 32)
    sidecar = json.loads(crop.with_name(crop.name.replace('.nii.gz', '.json')).read_text())
    assert sidecar['CordFrame']['CropSize'] == [32, 32]
