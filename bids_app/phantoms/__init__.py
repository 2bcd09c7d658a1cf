"""Synthetic spinal-cord MRI phantoms: BIDS datasets with known cord, centreline and lesions.

Modules, in data-flow order: :mod:`.anatomy` (the body's shapes as pure functions of body-frame
mm), :mod:`.tissues` (tissue class at any point), :mod:`.lesions`, :mod:`.contrasts`
(intensities, bias, noise), :mod:`.sequences` (one entry per slot: its contrast, protocol and
sidecar), :mod:`.acquisition` (grids, voxel orders, obliquity, motion), :mod:`.render`
(partial-volume synthesis of one image), :mod:`.subject` (one subject in memory),
:mod:`.dataset` (BIDS writing) and :mod:`.cli`.
"""

from bids_app.phantoms.dataset import WrittenDataset, write_dataset, write_subject
from bids_app.phantoms.subject import (
    PhantomImage,
    PhantomSubject,
    Protocol,
    draw_protocol,
    make_subject,
    subject_seed,
)

__all__ = [
    'PhantomImage',
    'PhantomSubject',
    'Protocol',
    'WrittenDataset',
    'draw_protocol',
    'make_subject',
    'subject_seed',
    'write_dataset',
    'write_subject',
]
