"""``sclesion-insert-lesions``: a labelled BIDS dataset the app reads back; the source intact."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bids_app.cli.insert import main
from bids_app.dataset_checks import index_dataset


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


def _save(data: np.ndarray, zooms, path: Path) -> None:
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -(np.asarray(data.shape) - 1) / 2 * np.asarray(zooms)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(data, affine).to_filename(path)


def _cylinder(shape, zooms, shift_x=0.0):
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(zooms)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    return (np.hypot(xyz[:, 0] - shift_x, xyz[:, 1]) < 4.0).reshape(shape)


def _dataset(root: Path, subjects=('01',), sagittal=True) -> Path:
    """Subjects with an axial T2*w and (``sagittal``) a sagittal T2w, cord masks for both."""
    (root / 'dataset_description.json').parent.mkdir(parents=True, exist_ok=True)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 't', 'BIDSVersion': '1.10.0'})
    )
    rng = np.random.default_rng(0)
    images = {'acq-ax_T2starw': ((24, 24, 8), (0.5, 0.5, 5.0), 1.0)}
    if sagittal:
        images['acq-sag_T2w'] = ((5, 40, 80), (3.0, 0.5, 0.5), 0.0)
    for subject in subjects:
        for name, (shape, zooms, shift) in images.items():
            cord = _cylinder(shape, zooms, shift)
            data = np.where(cord, 300.0, 100.0) + rng.normal(0, 5, shape)
            stem = f'sub-{subject}_{name}'
            _save(data.astype(np.float32), zooms, root / f'sub-{subject}/anat/{stem}.nii.gz')
            masks = root / f'derivatives/labels/sub-{subject}/anat'
            _save(cord.astype(np.uint8), zooms, masks / f'{stem}_label-SC_seg.nii.gz')
    return root


def _rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter='\t'))


def test_copies_negatives_and_labels(tmp_path):
    source = _dataset(tmp_path / 'src', ('01', '02'))
    before = _checksums(source)
    out = tmp_path / 'out'
    assert main([str(source), str(out), '--copies', '2', '--seed', '3']) == 0
    assert _checksums(source) == before
    participants = _rows(out / 'participants.tsv')
    assert [r['participant_id'] for r in participants] == [
        'sub-01', 'sub-01ins01', 'sub-01ins02', 'sub-02', 'sub-02ins01', 'sub-02ins02',
    ]  # fmt: skip
    labels = out / 'derivatives' / 'labels'
    for row in participants:
        name = row['participant_id']
        lesion = nib.load(labels / f'{name}/anat/{name}_acq-sag_T2w_label-lesion_seg.nii.gz')
        cord = nib.load(labels / f'{name}/anat/{name}_acq-sag_T2w_label-SC_seg.nii.gz')
        lesion, cord = np.asarray(lesion.dataobj) > 0, np.asarray(cord.dataobj) > 0
        assert lesion.any() == (int(row['n_lesions']) > 0) == (row['copy'] != '0')
        assert not (lesion & ~cord).any()
        assert (labels / f'{name}/anat/{name}_acq-ax_T2starw_label-SC_seg.nii.gz').is_file()
    lesions = _rows(labels / 'insertions.tsv')
    assert len(lesions) == sum(int(r['n_lesions']) for r in participants)
    assert all(float(r['ratio_T2starAx']) > 1 for r in lesions)
    units = index_dataset(out).get_subjects()
    assert sorted(units) == sorted(r['participant_id'][4:] for r in participants)
    # the same seed gives the same dataset; a second run into it is refused (no clobbering)
    again = tmp_path / 'again'
    main([str(source), str(again), '--copies', '2', '--seed', '3'])
    name = 'sub-02ins02/anat/sub-02ins02_acq-ax_T2starw.nii.gz'
    assert (out / name).read_bytes() == (again / name).read_bytes()
    assert main([str(source), str(out), '--copies', '2']) == 2


def test_pseudo_sagittal_and_regions(tmp_path):
    source = _dataset(tmp_path / 'src', sagittal=False)
    out = tmp_path / 'out'
    assert main([str(source), str(out), '--copies', '1']) == 2  # no sagittal T2w
    assert main([str(source), str(out), '--copies', '1', '--pseudo-sagittal']) == 0
    stand_in = nib.load(out / 'sub-01ins01/anat/sub-01ins01_acq-pseudosag_T2w.nii.gz')
    axial = nib.load(source / 'sub-01/anat/sub-01_acq-ax_T2starw.nii.gz')
    assert stand_in.shape == axial.shape
    assert np.allclose(stand_in.affine, axial.affine)
    # the stand-in takes the axial image's place: never the same image in two slots
    assert not (out / 'sub-01ins01/anat/sub-01ins01_acq-ax_T2starw.nii.gz').exists()
    halves = {}
    for region in ('upper', 'lower'):
        assert (
            main([str(source), str(out), '--copies', '1', '--pseudo-sagittal', '--region', region])
            == 0
        )
        image = nib.load(out / f'sub-01{region}/anat/sub-01{region}_acq-pseudosag_T2w.nii.gz')
        halves[region] = image.affine[2, 3], image.shape[2]
    assert halves['upper'][1] + halves['lower'][1] == 8
    assert halves['upper'][0] > halves['lower'][0]


def test_pseudo_sagittal_keeps_the_other_axial_images(tmp_path):
    """With an axial T2*w and an axial T2w, one stands in for the sagittal T2w, the other stays."""
    source = _dataset(tmp_path / 'src', sagittal=False)
    for folder in (source / 'sub-01/anat', source / 'derivatives/labels/sub-01/anat'):
        for path in folder.glob('*T2starw*'):
            path.with_name(path.name.replace('T2starw', 'T2w')).write_bytes(path.read_bytes())
    out = tmp_path / 'out'
    assert main([str(source), str(out), '--copies', '1', '--pseudo-sagittal']) == 0
    names = sorted(p.name for p in (out / 'sub-01ins01/anat').glob('*.nii.gz'))
    assert len(names) == 2
    assert 'sub-01ins01_acq-pseudosag_T2w.nii.gz' in names
    assert any(name.startswith('sub-01ins01_acq-ax_') for name in names)


def test_thick_sagittal_slices(tmp_path):
    """3 mm sagittal slices rebinned to 6 mm: the sagittal grid and its labels change, no other."""
    source = _dataset(tmp_path / 'src')
    out = tmp_path / 'out'
    assert main([str(source), str(out), '--copies', '1', '--sagittal-slice-mm', '6']) == 0
    rows = _rows(out / 'participants.tsv')
    assert [r['participant_id'] for r in rows] == ['sub-01sag6mm', 'sub-01sag6mmins01']
    assert {r['sagittal_slice_mm'] for r in rows} == {'6.0'}
    name = 'sub-01sag6mmins01'
    sagittal = nib.load(out / f'{name}/anat/{name}_acq-sag_T2w.nii.gz')
    assert sagittal.shape == (2, 40, 80)
    assert np.allclose(sagittal.header.get_zooms(), (6.0, 0.5, 0.5))
    labels = out / 'derivatives/labels' / name / 'anat'
    for suffix in ('label-SC_seg', 'label-lesion_seg'):
        mask = nib.load(labels / f'{name}_acq-sag_T2w_{suffix}.nii.gz')
        assert mask.shape == sagittal.shape
        assert np.allclose(mask.affine, sagittal.affine)
    axial = nib.load(out / f'{name}/anat/{name}_acq-ax_T2starw.nii.gz')
    assert axial.shape == (24, 24, 8)
    # 1 to 5 mm does not thicken 3 mm slices: the grid is kept, the label still says so
    assert main([str(source), str(out), '--copies', '1', '--sagittal-slice-mm', '2']) == 0
    kept = nib.load(out / 'sub-01sag2mm/anat/sub-01sag2mm_acq-sag_T2w.nii.gz')
    assert kept.shape == (5, 40, 80)


def test_real_scans(sct_example, tmp_path):
    """errsm30: lesions inside its T2w cord mask, in every sequence near its own cord."""
    out = tmp_path / 'out'
    assert main([str(sct_example), str(out), '--copies', '1', '--seed', '1']) == 0
    unit = out / 'sub-errsm30ins01' / 'anat'
    labels = out / 'derivatives' / 'labels' / 'sub-errsm30ins01' / 'anat'
    lesion = np.asarray(nib.load(labels / 'sub-errsm30ins01_T2w_label-lesion_seg.nii.gz').dataobj)
    cord = np.asarray(nib.load(labels / 'sub-errsm30ins01_T2w_label-SC_seg.nii.gz').dataobj)
    assert lesion.sum() > 0
    assert not (lesion.astype(bool) & ~cord.astype(bool)).any()
    for stem in ('T1w', 'acq-ax_T2starw'):
        new = nib.load(unit / f'sub-errsm30ins01_{stem}.nii.gz').get_fdata()
        old = nib.load(sct_example / f'sub-errsm30/anat/sub-errsm30_{stem}.nii.gz').get_fdata()
        mask = np.asarray(
            nib.load(labels / f'sub-errsm30ins01_{stem}_label-SC_seg.nii.gz').dataobj
        ).astype(bool)
        changed = new != old
        assert changed.any()
        from scipy import ndimage

        assert not (changed & ~ndimage.binary_dilation(mask, iterations=2)).any()


@pytest.mark.parametrize(
    'bad', ['--copies 0', '--region middle', '--sagittal-slice-mm 0', '--sagittal-slice-mm x']
)
def test_bad_options(tmp_path, bad, capsys):
    assert main([str(tmp_path), str(tmp_path / 'o'), *bad.split()]) == 2
