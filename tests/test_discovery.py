"""Discovery: slot queries, acq and header classification, chunks, runs, sessions, filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bids_app.dataset_checks import index_dataset
from bids_app.discovery import assign_slots, discover, format_table
from bids_app.errors import DatasetError
from bids_app.headers import Plane, classify_plane
from bids_app.slots import Slot


def _names(unit, slot):
    return [p.name for p in unit.slots.get(slot, [])]


def _one(root: Path, subject='01', session=None, **kwargs):
    return assign_slots(index_dataset(root), subject, session, **kwargs)


@pytest.mark.parametrize(
    ('zooms', 'axis_world', 'expected'),
    [
        ((3.0, 0.7, 0.7), 0, Plane.sagittal),
        ((0.7, 3.0, 0.7), 1, Plane.coronal),
        ((0.5, 0.5, 7.5), 2, Plane.axial),
        ((1.0, 1.0, 1.09), 2, Plane.isotropic),
    ],
)
def test_classify_plane_thickest_axis_in_world(zooms, axis_world, expected):
    # Store the thick voxel axis first so that voxel order and world order differ.
    thick = int(np.argmax(zooms))
    affine = np.zeros((4, 4))
    affine[3, 3] = 1
    others = [a for a in range(3) if a != axis_world]
    order = {thick: axis_world}
    thin = [a for a in range(3) if a != thick]
    order.update(dict(zip(thin, others, strict=True)))
    for voxel_axis, world_axis in order.items():
        affine[world_axis, voxel_axis] = -zooms[voxel_axis]
    assert classify_plane(affine, zooms) is expected


def test_classify_plane_oblique_sagittal():
    angle = np.deg2rad(12)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([3.0, 0.7, 0.7])
    assert classify_plane(affine, (3.0, 0.7, 0.7)) is Plane.sagittal


def test_sct_example_slots_from_headers(sct_example):
    units = discover(index_dataset(sct_example))
    by_subject = {u.subject: u for u in units}
    errsm30 = by_subject['errsm30']
    assert _names(errsm30, Slot.T2Sag) == ['sub-errsm30_T2w.nii.gz']  # isotropic, no acq-
    assert _names(errsm30, Slot.T2starAx) == ['sub-errsm30_acq-ax_T2starw.nii.gz']
    assert _names(errsm30, Slot.T1w) == ['sub-errsm30_T1w.nii.gz']
    assert set(errsm30.slots) == {Slot.T2Sag, Slot.T2starAx, Slot.T1w}
    assert errsm30.runnable
    ms01 = by_subject['ms01']
    assert _names(ms01, Slot.T2Ax) == ['sub-ms01_acq-ax_T2w.nii.gz']
    assert not ms01.runnable
    assert 'sagittal T2w' in ms01.skip_reason
    assert ms01.error is None


def test_gm_challenge_axial_t2star_without_acq(gm_challenge):
    units = discover(index_dataset(gm_challenge))
    assert len(units) == 4
    for unit in units:
        assert list(unit.slots) == [Slot.T2starAx]
        assert unit.skip_reason


def test_every_slot_chunks_and_real_world_names(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sag_chunk-1_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-sag_chunk-2_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-sagstir_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-ax_chunk-2_T2starw.nii.gz': 'axial',
            'sub-01/anat/sub-01_acq-ax_chunk-1_T2starw.nii.gz': 'axial',
            'sub-01/anat/sub-01_acq-axCerv_T2w.nii.gz': 'axial',
            'sub-01/anat/sub-01_T1w.nii.gz': 'isotropic',
            'sub-01/anat/sub-01_ce-gadolinium_T1w.nii.gz': 'isotropic',
            'sub-01/anat/sub-01_acq-upper_UNIT1.nii.gz': 'isotropic',
            'sub-01/anat/sub-01_acq-lower_UNIT1.nii.gz': 'isotropic',
            'sub-01/anat/sub-01_inv-1_MP2RAGE.nii.gz': 'isotropic',
            'sub-01/anat/sub-01_acq-cor_T2w.nii.gz': 'coronal',
        }
    )
    unit = _one(root)
    assert _names(unit, Slot.T2Sag) == [
        'sub-01_acq-sag_chunk-1_T2w.nii.gz',
        'sub-01_acq-sag_chunk-2_T2w.nii.gz',
    ]
    assert _names(unit, Slot.STIR) == ['sub-01_acq-sagstir_T2w.nii.gz']
    assert _names(unit, Slot.T2starAx) == [
        'sub-01_acq-ax_chunk-1_T2starw.nii.gz',
        'sub-01_acq-ax_chunk-2_T2starw.nii.gz',
    ]
    assert _names(unit, Slot.T2Ax) == ['sub-01_acq-axCerv_T2w.nii.gz']
    assert _names(unit, Slot.T1w) == ['sub-01_T1w.nii.gz']
    assert sorted(_names(unit, Slot.MP2RAGE)) == [
        'sub-01_acq-lower_UNIT1.nii.gz',
        'sub-01_acq-upper_UNIT1.nii.gz',
    ]
    unused = next(n for n in unit.notes if n.startswith('not used'))
    for name in ('ce-gadolinium_T1w', 'inv-1_MP2RAGE', 'acq-cor_T2w'):
        assert name in unused


def test_stir_suffix_and_stir_in_acq_any_case(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_STIR.nii.gz': 'sagittal',
            'sub-02/anat/sub-02_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-02/anat/sub-02_acq-STIRsag_T2w.nii.gz': 'sagittal',
        }
    )
    layout = index_dataset(root)
    one, two = (assign_slots(layout, s, None) for s in ('01', '02'))
    assert _names(one, Slot.STIR) == ['sub-01_STIR.nii.gz']
    assert _names(two, Slot.STIR) == ['sub-02_acq-STIRsag_T2w.nii.gz']
    assert _names(two, Slot.T2Sag) == ['sub-02_acq-sag_T2w.nii.gz']


def test_header_decides_when_acq_is_silent(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_T2w.nii.gz': 'sagittal-psr',
            'sub-01/anat/sub-01_acq-cspine_T2w.nii.gz': 'axial',
            'sub-01/anat/sub-01_T2star.nii.gz': 'axial',
        }
    )
    unit = _one(root)
    assert _names(unit, Slot.T2Sag) == ['sub-01_T2w.nii.gz']
    assert _names(unit, Slot.T2Ax) == ['sub-01_acq-cspine_T2w.nii.gz']
    assert _names(unit, Slot.T2starAx) == ['sub-01_T2star.nii.gz']  # deprecated suffix


def test_runs_take_the_last_and_say_so(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sag_run-1_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-sag_run-2_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-ax_run-2_T2starw.nii.gz': 'axial',
            'sub-01/anat/sub-01_acq-ax_run-10_T2starw.nii.gz': 'axial',
        }
    )
    unit = _one(root)
    assert _names(unit, Slot.T2Sag) == ['sub-01_acq-sag_run-2_T2w.nii.gz']
    assert _names(unit, Slot.T2starAx) == ['sub-01_acq-ax_run-10_T2starw.nii.gz']  # numeric
    note = next(n for n in unit.notes if n.startswith('T2Sag'))
    assert 'run-1' in note
    assert '--bids-filter-file' in note


def test_sessions_are_units_with_their_own_slots(bids_tree):
    root = bids_tree(
        {
            'sub-01/ses-M0/anat/sub-01_ses-M0_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-01/ses-M0/anat/sub-01_ses-M0_acq-ax_T2starw.nii.gz': 'axial',
            'sub-01/ses-M12/anat/sub-01_ses-M12_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-02/ses-M0/anat/sub-02_ses-M0_acq-ax_T2w.nii.gz': 'axial',
        }
    )
    units = discover(index_dataset(root))
    assert [(u.subject, u.session) for u in units] == [('01', 'M0'), ('01', 'M12'), ('02', 'M0')]
    assert set(units[0].slots) == {Slot.T2Sag, Slot.T2starAx}
    assert set(units[1].slots) == {Slot.T2Sag}
    assert units[2].skip_reason
    only_m12 = discover(
        index_dataset(root), participant_labels=['sub-01'], session_labels=['ses-M12']
    )
    assert [(u.subject, u.session) for u in only_m12] == [('01', 'M12')]


def test_filter_overrides_the_default_query(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sagcerv_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-sagthor_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-sag_run-1_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_acq-ax_run-1_T2starw.nii.gz': 'axial',
            'sub-01/anat/sub-01_acq-ax_run-2_T2starw.nii.gz': 'axial',
        }
    )
    unit = _one(
        root,
        bids_filters={
            'T2Sag': {'acquisition': ['sagcerv', 'sagthor']},
            'T2starAx': {'run': 1},
        },
    )
    assert _names(unit, Slot.T2Sag) == [
        'sub-01_acq-sagcerv_T2w.nii.gz',
        'sub-01_acq-sagthor_T2w.nii.gz',
    ]
    assert _names(unit, Slot.T2starAx) == ['sub-01_acq-ax_run-1_T2starw.nii.gz']


def test_filter_claiming_a_file_for_two_slots_is_an_error(bids_tree):
    root = bids_tree({'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal'})
    with pytest.raises(DatasetError, match='matches both slots T2Sag and T2Ax'):
        _one(root, bids_filters={'T2Ax': {'acquisition': 'sag'}})


def test_ignore_leaves_slots_out(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-01/anat/sub-01_T1w.nii.gz': 'isotropic',
        }
    )
    assert set(_one(root, ignore=[Slot.T1w]).slots) == {Slot.T2Sag}


def test_unreadable_header_fails_the_unit_with_the_file_named(bids_tree):
    root = bids_tree({'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal'})
    broken = root / 'sub-01/anat/sub-01_T2w.nii.gz'
    broken.write_bytes(b'')  # zero bytes, no acq- entity: its header must be read
    unit = _one(root)
    assert unit.error is not None
    assert str(broken) in unit.error
    assert not unit.runnable


def test_participant_labels(bids_tree):
    root = bids_tree(
        {
            'sub-01/anat/sub-01_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-02/anat/sub-02_acq-sag_T2w.nii.gz': 'sagittal',
        }
    )
    layout = index_dataset(root)
    assert [u.subject for u in discover(layout, participant_labels=['sub-02', '03'])] == ['02']
    with pytest.raises(DatasetError, match='none of the participants 03, 04 exist'):
        discover(layout, participant_labels=['03', 'sub-04'])


def test_dry_run_table_lists_every_slot_and_skip(sct_example):
    units = discover(index_dataset(sct_example))
    table = format_table(units, sct_example)
    lines = table.splitlines()
    assert lines[0].split() == ['subject', 'session', 'slot', 'files']
    assert any('T2starAx' in line and 'acq-ax_T2starw' in line for line in lines)
    assert any(line.startswith('ms01') and 'SKIPPED' in line for line in lines)


def test_labels_bids_does_not_allow_fail_their_unit_never_merged(bids_tree):
    """``sub-a b`` was read as ``sub-a`` (its T2w merged into a real sub-a), ``sub-ü1`` lost."""
    root = bids_tree(
        {
            'sub-a/anat/sub-a_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-a b/anat/sub-a b_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-ü1/anat/sub-ü1_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-c/ses-x y/anat/sub-c_ses-x y_acq-sag_T2w.nii.gz': 'sagittal',
            'sub-c/ses-1/anat/sub-c_ses-1_acq-sag_T2w.nii.gz': 'sagittal',
        }
    )
    units = {u.name: u for u in discover(index_dataset(root))}
    assert sorted(units) == ['sub-a', 'sub-a b', 'sub-c_ses-1', 'sub-c_ses-x y', 'sub-ü1']
    assert _names(units['sub-a'], Slot.T2Sag) == ['sub-a_acq-sag_T2w.nii.gz']
    assert units['sub-a'].runnable
    assert units['sub-c_ses-1'].runnable
    assert units['sub-a b'].error == (
        f"{root / 'sub-a b'}: the label 'a b' is not a BIDS label (letters and digits only), so "
        'its images were left out; rename the folder and its files (e.g. sub-ab)'
    )
    assert units['sub-ü1'].error.endswith('(e.g. sub-u1)')
    assert units['sub-c_ses-x y'].error.startswith(
        f"{root / 'sub-c' / 'ses-x y'}: the label 'x y'"
    )
    only = discover(index_dataset(root), participant_labels=['a b', 'c'], session_labels=['1'])
    assert sorted(u.name for u in only) == ['sub-a b', 'sub-c_ses-1']


def test_no_t2w_and_an_unreadable_other_image_is_skipped_not_failed(bids_tree):
    root = bids_tree({'sub-01/anat/sub-01_T1w.nii.gz': 'isotropic'})
    (root / 'sub-01' / 'anat' / 'sub-01_T1w.nii.gz').write_bytes(b'not an image')
    unit = _one(root)
    assert unit.error is None
    assert unit.skip_reason.startswith('no sagittal T2w (T2Sag) among sub-01_T1w.nii.gz;')
    assert unit.skip_reason.endswith('; sub-01_T1w.nii.gz cannot be read either')


def test_an_unreadable_image_that_may_be_the_t2sag_fails_its_unit(bids_tree):
    root = bids_tree({'sub-01/anat/sub-01_T2w.nii.gz': 'sagittal'})
    (root / 'sub-01' / 'anat' / 'sub-01_T2w.nii.gz').write_bytes(b'not an image')
    unit = _one(root)
    assert unit.skip_reason is None
    assert unit.error.startswith(f'cannot read the header of {root}/sub-01/anat/sub-01_T2w')
