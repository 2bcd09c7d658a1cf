"""The slot registry: a seventh sequence is one entry, and discovery and pre-processing take it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bids_app.dataset_checks import index_dataset
from bids_app.discovery import discover
from bids_app.frame import CordFrame
from bids_app.headers import Plane
from bids_app.phantoms import make_subject, subject_seed, write_subject
from bids_app.phantoms.contrasts import Contrast
from bids_app.phantoms.sequences import SEQUENCES, Grid, PhantomSequence
from bids_app.phantoms.tissues import Tissue
from bids_app.slots import BUILT_IN, SLOTS, Slot, SlotSpec, register, registered
from bids_app.workflows.preproc import init_preproc_wf

#: The toy seventh slot: an axial proton-density image (``acq-ax_PDw``).
TOY = SlotSpec(
    'PDAx', 'axial proton density (toy)', {'suffix': 'PDw'}, 'axial', frozenset({Plane.axial}),
    't2', 'T2', (1.2, 1.8),
)  # fmt: skip

_T = Tissue
#: How the phantoms draw it: CSF a little brighter than the cord, lesions bright.
TOY_PHANTOM = PhantomSequence(
    Contrast(
        {_T.FAT: 0.9, _T.MUSCLE: 0.4, _T.VISCERA: 0.45, _T.LUNG: 0.03, _T.CORTEX: 0.05,
         _T.MARROW: 0.6, _T.DISC: 0.6, _T.CSF: 0.8, _T.WM: 0.45, _T.GM: 0.5, _T.BRAIN: 0.55,
         _T.BRAINSTEM: 0.5},
        0.85, (0.4, 0.6), 1000.0, 24.0, 0.2,
    ),
    Grid('ax', 'PDw', 'LPS', (0.5, 0.5, 4.0), (140.0, 56.0), None, 12.0),
    'axial', 0.2, {'MRAcquisitionType': '2D', 'RepetitionTime': 3.0, 'EchoTime': 0.012},
)  # fmt: skip


@pytest.fixture
def toy_slot(monkeypatch):
    """The toy slot registered, with its phantom sequence, for one test."""
    with registered(TOY) as slot:
        monkeypatch.setitem(SEQUENCES, slot, TOY_PHANTOM)
        yield slot


def test_slot_behaves_like_the_enumeration_it_replaced():
    assert [s.name for s in Slot] == [spec.name for spec in BUILT_IN]
    assert Slot('STIR') is Slot.STIR
    assert Slot.STIR == 'STIR'
    assert f'{Slot.STIR}' == 'STIR'
    assert SLOTS == tuple(Slot)
    assert SLOTS.index(Slot.T2Ax) == 3
    with pytest.raises(ValueError, match="'FLAIR' is not a valid Slot"):
        Slot('FLAIR')
    with pytest.raises(ValueError, match='taken'):
        register(BUILT_IN[0])


def test_a_registered_slot_comes_last_and_leaves_again():
    with registered(TOY) as toy:
        assert Slot('PDAx') is toy is Slot.PDAx
        assert SLOTS[-1] is toy
        assert len(SLOTS) == len(BUILT_IN) + 1
        assert toy.spec is TOY
    assert 'PDAx' not in Slot
    assert len(SLOTS) == len(BUILT_IN)


def test_a_seventh_slot_is_discovered_and_preprocessed(toy_slot, tmp_path):
    root = tmp_path / 'bids'
    subject = make_subject(subject_seed(21, 0), small=True, slots=[Slot.T2Sag, toy_slot])
    assert subject.protocol.slots == (Slot.T2Sag, toy_slot)
    write_subject(subject, root)
    (root / 'dataset_description.json').write_text(
        json.dumps({'Name': 'toy', 'BIDSVersion': '1.10.0'})
    )

    (unit,) = discover(index_dataset(root))
    assert [p.name for p in unit.slots[toy_slot]] == ['sub-001_acq-ax_PDw.nii.gz']
    assert set(unit.slots) == {Slot.T2Sag, toy_slot}

    slots = list(unit.slots)
    preproc = init_preproc_wf(slots=slots, providers=dict.fromkeys(slots, 'builtin'))
    for slot in slots:
        setattr(preproc.inputs.inputnode, f'{slot}_files', [str(p) for p in unit.slots[slot]])
    preproc.base_dir = str(tmp_path / 'work')
    preproc.config['execution'] = {'crashdump_dir': str(tmp_path / 'crash')}
    preproc.run(plugin='Linear')

    (found,) = Path(preproc.base_dir).rglob('cordframe.npz')
    frame = CordFrame.load(found)
    assert frame.slots == [Slot.T2Sag, toy_slot]
    assert frame.providers[toy_slot] == 'builtin'
    assert toy_slot not in frame.dropped, frame.dropped
    crop, covered = frame.crops[toy_slot], frame.coverage[toy_slot]
    assert crop.shape == frame.crops[Slot.T2Sag].shape
    assert covered.any(axis=(0, 1)).sum() > 20  # tens of 0.5 mm slices of the cervical cord
    # Both centrelines follow the same cord: within a few mm of each other where both see it.
    both = covered.any(axis=(0, 1)) & frame.coverage[Slot.T2Sag].any(axis=(0, 1))
    gap = frame.centerlines[toy_slot][both, :2] - frame.centerlines[Slot.T2Sag][both, :2]
    assert np.median(np.linalg.norm(gap, axis=1)) < 5.0
