"""Tests of the synthetic spine phantoms: geometry, contrasts, truth and the BIDS dataset."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from bids import BIDSLayout
from scipy import ndimage

from bids_app.cli.phantoms import main
from bids_app.discovery import discover
from bids_app.labels import find_cord_mask, find_lesion_label
from bids_app.phantoms import (
    PhantomImage,
    PhantomSubject,
    draw_protocol,
    make_subject,
    subject_seed,
    write_dataset,
    write_subject,
)
from bids_app.phantoms.anatomy import draw_anatomy
from bids_app.phantoms.lesions import draw_lesions
from bids_app.phantoms.render import voxel_centres
from bids_app.phantoms.sequences import SEQUENCES
from bids_app.phantoms.tissues import Tissue, tissue_at
from bids_app.slots import SLOTS, Slot

VALIDATOR = Path(sys.executable).parent / 'bids-validator-deno'


@pytest.fixture(scope='module')
def small_subject() -> PhantomSubject:
    """A small subject with all six sequences."""
    return make_subject(subject_seed(11, 0), small=True, slots=SLOTS)


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small subjects, two sessions each, written to disk."""
    root = tmp_path_factory.mktemp('phantoms') / 'bids'
    write_dataset(root, 2, seed=3, small=True, sessions=2)
    return root


def _tissue_of_voxels(subject: PhantomSubject, image: PhantomImage) -> np.ndarray:
    vox2body = np.linalg.inv(image.body_to_world) @ image.affine
    xyz = voxel_centres(image.data.shape, vox2body)
    return tissue_at(subject.anatomy, xyz).reshape(image.data.shape)


def _world_z_range(image: PhantomImage) -> tuple[float, float]:
    """Lowest and highest world z (mm) of the image's field of view."""
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in image.data.shape])).reshape(3, -1)
    z = (image.affine[:3, :3] @ corners + image.affine[:3, 3:])[2]
    return float(z.min()), float(z.max())


def test_same_seed_same_bytes_and_seeds_are_independent() -> None:
    first = make_subject(subject_seed(5, 2), small=True, slots=[Slot.T2Sag])
    again = make_subject(subject_seed(5, 2), small=True, slots=[Slot.T2Sag])
    other = make_subject(subject_seed(5, 3), small=True, slots=[Slot.T2Sag])
    (stem,) = first.images
    assert first.images[stem].data.tobytes() == again.images[stem].data.tobytes()
    assert first.images[stem].lesion_mask.tobytes() == again.images[stem].lesion_mask.tobytes()
    assert first.images[stem].data.tobytes() != other.images[stem].data.tobytes()
    # Subject k's seed does not depend on how many subjects the dataset has.
    assert subject_seed(5, 2).generate_state(4).tolist() == (
        np.random.SeedSequence(5).spawn(4)[2].generate_state(4).tolist()
    )


def test_availability_frequencies_match_the_paper() -> None:
    n = 3000
    protocols = [draw_protocol(subject_seed(0, k)) for k in range(n)]
    for slot, p in ((s, seq.availability) for s, seq in SEQUENCES.items()):
        freq = np.mean([slot in proto.slots for proto in protocols])
        # Binomial sd is at most 0.009 for n = 3000: a tolerance of 0.035 is about 4 sd.
        assert abs(freq - p) < 0.035, (slot, freq, p)
    repeated = np.mean([proto.repeated is not None for proto in protocols])
    # P(at least one slot besides T2Sag) = 1 - 0.45*0.52*0.79*0.74*0.85 = 0.884, times 0.1.
    assert abs(repeated - 0.0884) < 0.02
    assert all(proto.repeated != Slot.T2Sag for proto in protocols)
    forced = draw_protocol(subject_seed(0, 0), slots=[Slot.T1w])
    assert forced.slots == (Slot.T2Sag, Slot.T1w)


def test_lesion_sizes_within_ranges() -> None:
    anatomy = draw_anatomy(np.random.default_rng(0))
    counts = []
    for k in range(200):
        lesions = draw_lesions(np.random.default_rng(k), anatomy, (-100.0, 0.0))
        counts.append(len(lesions))
        for lesion in lesions:
            assert 3.0 <= lesion.length_mm <= 30.0
            assert 2.0 <= lesion.diameter_mm <= 7.0
    assert min(counts) == 0
    assert max(counts) == 8


def test_lesions_inside_cord_and_short_along_z(small_subject: PhantomSubject) -> None:
    assert small_subject.lesions, 'seed 11 should give this subject lesions'
    for image in small_subject.images.values():
        assert not np.any(image.lesion_mask & (1 - image.cord_mask)), image.stem
    # On the 1 mm isotropic T1w, each lesion's world z extent is at most 30 mm (+1 voxel).
    (t1,) = (im for im in small_subject.images.values() if im.slot == Slot.T1w)
    labelled, n = ndimage.label(t1.lesion_mask)
    assert n >= 1
    zs = (t1.affine @ np.vstack([np.argwhere(labelled > 0).T, np.ones((labelled > 0).sum())]))[2]
    ids = labelled[labelled > 0]
    for k in range(1, n + 1):
        assert np.ptp(zs[ids == k]) <= 31.0


def test_cord_mask_centroid_follows_true_centreline(small_subject: PhantomSubject) -> None:
    axial = [im for im in small_subject.images.values() if im.slot in (Slot.T2starAx, Slot.T2Ax)]
    assert len(axial) == 3
    for image in axial:
        errors = []
        areas = image.cord_mask.sum(axis=(0, 1))
        for k in range(image.data.shape[2]):
            ij = np.argwhere(image.cord_mask[:, :, k] > 0)
            if areas[k] < 0.85 * np.median(areas[areas > 0]):
                continue  # the cord partly out of view (field-of-view edge, its top)
            world = image.affine @ np.array([*ij.mean(axis=0), k, 1.0])
            truth = image.centerline_at(np.array([world[2]]))[0]
            errors.append(np.hypot(*(world[:2] - truth)))
        assert len(errors) >= 3
        # Within one in-plane voxel (its size varies per image, 0.3 to 1.5 mm).
        in_plane = min(np.linalg.norm(image.affine[:3, :3], axis=0))
        assert max(errors) < in_plane, (image.stem, max(errors))


def test_orientations_differ_and_some_affines_are_oblique(small_subject: PhantomSubject) -> None:
    codes = {im.slot: ''.join(nib.aff2axcodes(im.affine)) for im in small_subject.images.values()}
    assert len(set(codes.values())) == 6
    assert codes[Slot.T2Sag] == 'PIR'
    assert codes[Slot.T1w] == 'RAS'
    obliquity = {
        im.stem: np.degrees(nib.affines.obliquity(im.affine)).max()
        for im in small_subject.images.values()
    }
    star = [v for stem, v in obliquity.items() if 'T2starw' in stem]
    assert all(1.5 < v < 8.0 for v in star)
    assert max(obliquity.values()) < 8.0
    # Scanner-like world: the cord runs downwards from a few cm below the origin.
    (sag,) = (im for im in small_subject.images.values() if im.slot == Slot.T2Sag)
    bottom, top = _world_z_range(sag)
    assert -10 < top < 80
    assert bottom < -150


def test_contrasts_are_ordered(small_subject: PhantomSubject) -> None:
    for image in small_subject.images.values():
        tissue = _tissue_of_voxels(small_subject, image)
        data = image.data.astype(float)
        mean = {t: data[tissue == t].mean() for t in (Tissue.CSF, Tissue.WM, Tissue.FAT)
                if (tissue == t).any()}  # fmt: skip
        if image.slot in (Slot.T1w, Slot.MP2RAGE):
            assert mean[Tissue.WM] > 1.5 * mean[Tissue.CSF], image.stem
        else:  # contrasts vary per image (vary_contrast); the order stays
            assert mean[Tissue.CSF] > 1.5 * mean[Tissue.WM], image.stem
        if image.slot == Slot.STIR:
            assert mean[Tissue.FAT] < 0.5 * mean[Tissue.WM]
        elif image.slot in (Slot.T2Sag, Slot.T1w):
            assert mean[Tissue.FAT] > mean[Tissue.WM]
        grey = data[tissue == Tissue.GM].mean()
        assert 0.6 * mean[Tissue.WM] < grey < 2.5 * mean[Tissue.WM], image.stem
        lesion = image.lesion_mask > 0
        if lesion.sum() > 10:
            normal = (image.cord_mask > 0) & ~ndimage.binary_dilation(lesion, iterations=2)
            if image.slot in (Slot.T1w, Slot.MP2RAGE):
                assert data[lesion].mean() <= data[normal].mean() * 1.05, image.stem
            else:
                assert data[lesion].mean() > data[normal].mean() * 1.1, image.stem


def test_grey_matter_and_noise_vary_between_images() -> None:
    """Grey matter from darker than white matter to nearly a lesion; SNR over a 4x range."""
    from bids_app.phantoms.contrasts import vary_contrast

    base = SEQUENCES[Slot.T2Sag].contrast
    draws = [vary_contrast(base, np.random.default_rng(k)) for k in range(200)]
    position = [
        (c.tissue[Tissue.GM] - c.tissue[Tissue.WM]) / (c.lesion - c.tissue[Tissue.WM])
        for c in draws
    ]
    assert min(position) < -0.2
    assert max(position) > 0.6
    snr = [c.snr for c in draws]
    assert max(snr) / min(snr) > 3


def test_flow_voids_darken_part_of_the_csf_only() -> None:
    from bids_app.phantoms.contrasts import flow_voids

    shape = (20, 20, 20)
    csf = np.zeros(shape, bool)
    csf[5:15] = True
    fields = [
        flow_voids(csf.ravel(), shape, np.ones(3), np.random.default_rng(k)) for k in range(20)
    ]
    voided = [f for f in fields if (f < 1).any()]
    assert 0 < len(voided) < 20
    for field in voided:
        assert np.all(field[~csf.ravel()] == 1)
        assert 0.02 < (field < 1).mean() / csf.mean() < 0.35


def test_chunks_overlap_as_specified(small_subject: PhantomSubject) -> None:
    star = sorted(
        (im for im in small_subject.images.values() if im.slot == Slot.T2starAx),
        key=lambda im: im.stem,
    )
    (upper_bottom, _), (_, lower_top) = _world_z_range(star[0]), _world_z_range(star[1])
    assert -8.0 < lower_top - upper_bottom < 8.0  # a small gap or a small overlap
    full = make_subject(subject_seed(11, 0), slots=[Slot.T2Sag])
    upper, lower = (full.images[s] for s in sorted(full.images))
    assert upper.stem.endswith('_acq-sag_chunk-1_T2w')
    (upper_bottom, _), (lower_bottom, lower_top) = _world_z_range(upper), _world_z_range(lower)
    assert 30.0 <= lower_top - upper_bottom <= 60.0
    # The lower slab reaches below the conus; the cord is about 450 mm long.
    conus = full.images[lower.stem].centerline_world_mm[0, 2]
    assert lower_bottom < conus
    cord = full.images[upper.stem].centerline_world_mm
    assert 400 < np.ptp(cord[:, 2]) < 520


def test_written_dataset_is_valid_bids(small_dataset: Path) -> None:
    layout = BIDSLayout(small_dataset, validate=True)
    assert layout.get_subjects() == ['001', '002']
    assert layout.get_sessions() == ['01', '02']
    sag = layout.get(
        subject='001', session='01', acquisition='sag', suffix='T2w', extension='.nii.gz'
    )
    assert len(sag) == 1
    assert 'chunk' not in sag[0].entities  # small subjects have a single slab
    assert sag[0].get_metadata()['MagneticFieldStrength'] in (1.5, 3.0)
    participants = (small_dataset / 'participants.tsv').read_text().splitlines()
    assert participants[0].split('\t') == ['participant_id', 'age', 'sex', 'site']
    assert len(participants) == 3
    labels = small_dataset / 'derivatives' / 'labels'
    description = json.loads((labels / 'dataset_description.json').read_text())
    assert description['DatasetType'] == 'derivative'
    for image in layout.get(extension='.nii.gz', suffix=['T2w', 'T2starw', 'T1w', 'UNIT1']):
        source = nib.load(image.path)
        stem = image.filename.removesuffix('.nii.gz')
        rel = Path(image.path).parent.relative_to(small_dataset)
        wanted = ['SC', 'lesion'] if image.entities.get('acquisition') == 'sag' else ['SC']
        for name in wanted:
            label = nib.load(labels / rel / f'{stem}_label-{name}_seg.nii.gz')
            assert label.shape == source.shape
            assert np.allclose(label.affine, source.affine)
            assert label.get_data_dtype() == np.uint8
            assert set(np.unique(np.asarray(label.dataobj))) <= {0, 1}


@pytest.mark.skipif(not VALIDATOR.exists(), reason='bids-validator-deno is not installed')
def test_schema_validator_finds_no_error(small_dataset: Path) -> None:
    result = subprocess.run(
        [str(VALIDATOR), str(small_dataset), '--format', 'json'],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    issues = json.loads(result.stdout)['issues']['issues']
    errors = [issue for issue in issues if issue.get('severity') == 'error']
    assert errors == []


def test_cli_writes_and_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / 'ds'
    assert main([str(out), '--n-subjects', '1', '--seed', '2', '--small']) == 0
    assert (out / 'sub-001' / 'anat' / 'sub-001_acq-sag_T2w.nii.gz').is_file()
    assert main([str(out), '--small']) == 2
    assert main([str(tmp_path / 'other'), '--n-subjects', '0']) == 2  # a usage error
    shutil.rmtree(out)


def test_lesions_are_fainter_on_sagittal_t2w_than_on_stir_and_t2star() -> None:
    strengths = np.array([0.2, 1.0])
    sag = SEQUENCES[Slot.T2Sag].contrast.lesion_values(strengths)
    # Known answers: WM 0.3 + fraction * (0.8 - 0.3) with fraction = strength on T2Sag.
    assert np.allclose(sag, [0.3 + 0.2 * 0.5, 0.8])
    for slot in (Slot.STIR, Slot.T2starAx):
        contrast = SEQUENCES[slot].contrast
        wm = contrast.tissue[Tissue.WM]
        fraction = (contrast.lesion_values(strengths) - wm) / (contrast.lesion - wm)
        assert fraction[0] > 0.6  # a faint T2Sag lesion (0.2) is clear here
        assert np.all(fraction >= strengths - 1e-6)
    t1 = SEQUENCES[Slot.T1w].contrast
    assert np.all(t1.lesion_values(strengths) <= t1.tissue[Tissue.WM])


def test_sessions_share_anatomy_and_accumulate_lesions() -> None:
    seed = subject_seed(4, 0)
    first = make_subject(seed, session=1, small=True, slots=[Slot.T2Sag])
    second = make_subject(seed, session=2, small=True, slots=[Slot.T2Sag])
    assert np.array_equal(first.anatomy.profiles, second.anatomy.profiles)
    assert second.lesions[: len(first.lesions)] == first.lesions
    assert list(second.images) == ['sub-001_ses-02_acq-sag_T2w']


def test_repeated_sequence_gets_two_runs() -> None:
    k = next(k for k in range(200) if draw_protocol(subject_seed(0, k)).repeated is not None)
    protocol = draw_protocol(subject_seed(0, k))
    subject = make_subject(subject_seed(0, k), small=True, slots=protocol.slots)
    runs = [stem for stem, im in subject.images.items() if im.slot == protocol.repeated]
    assert any('_run-1_' in stem for stem in runs)
    assert any('_run-2_' in stem for stem in runs)


def test_discovery_maps_phantom_files_to_slots(small_dataset: Path) -> None:
    units = discover(BIDSLayout(small_dataset, validate=False))
    assert len(units) == 4  # two subjects x two sessions
    labels = small_dataset / 'derivatives' / 'labels'
    for unit in units:
        assert Slot.T2Sag in unit.slots
        for slot, paths in unit.slots.items():
            for path in paths:
                assert find_cord_mask(path, small_dataset, labels) is not None, (slot, path)
        (sag,) = unit.slots[Slot.T2Sag]
        assert find_lesion_label(sag, small_dataset, labels) is not None


def test_lesion_truth_in_world_lands_on_the_lesion_masks(small_subject: PhantomSubject) -> None:
    (t1,) = (im for im in small_subject.images.values() if im.slot == Slot.T1w)
    centres = small_subject.lesion_centres_world_mm(t1.stem)
    assert centres.shape == (len(small_subject.lesions), 3)
    ijk = np.linalg.solve(t1.affine, np.column_stack([centres, np.ones(len(centres))]).T)[:3]
    inside = np.all((ijk > -0.5) & (ijk < np.array(t1.data.shape)[:, None] - 0.5), axis=0)
    hits = 0
    for i, j, k in np.rint(ijk[:, inside]).astype(int).T:
        # Within 1 voxel of the centre lies lesion (a lesion can be clipped by the cord surface).
        hits += bool(t1.lesion_mask[i - 1 : i + 2, j - 1 : j + 2, k - 1 : k + 2].any())
    assert inside.sum() >= 1
    assert hits >= 0.8 * inside.sum()


FULL_NAMES = (
    'acq-sag_chunk-1_T2w',
    'acq-sag_chunk-2_T2w',
    'acq-sagstir_T2w',
    'acq-ax_chunk-1_T2starw',
    'acq-ax_chunk-2_T2starw',
    'acq-ax_T2w',
    'T1w',
    'UNIT1',
)


@pytest.mark.slow
@pytest.mark.skipif(not VALIDATOR.exists(), reason='bids-validator-deno is not installed')
def test_full_subject_with_all_sequences_is_fast_and_valid(tmp_path: Path) -> None:
    start = time.process_time()
    subject = make_subject(subject_seed(1, 0), slots=SLOTS)
    assert time.process_time() - start < 20.0  # one core
    for name in FULL_NAMES:
        assert any(stem.endswith(name) for stem in subject.images), name
    write_subject(subject, tmp_path)
    description = {'Name': 'full phantom', 'BIDSVersion': '1.10.0'}
    (tmp_path / 'dataset_description.json').write_text(json.dumps(description))
    result = subprocess.run(
        [str(VALIDATOR), str(tmp_path), '--format', 'json'],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    issues = json.loads(result.stdout)['issues']['issues']
    assert [issue for issue in issues if issue.get('severity') == 'error'] == []
