"""Vertebral levels: discs found and named on phantoms (their positions are known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.phantoms import make_subject
from bids_app.phantoms.subject import subject_seed
from bids_app.slots import Slot
from bids_app.vertebrae import Discs, detect_discs, levels_of, name_discs, vertebra_at


@pytest.mark.parametrize('index', [0, 1, 2])
def test_discs_of_cervical_phantoms(index):
    """Within 3 mm of the truth (median) and every one named right."""
    subject = make_subject(subject_seed(500, index), small=True, slots=[Slot.T2Sag])
    (image,) = subject.images.values()
    xyz = image.centerline_samples()
    discs = detect_discs(image.data, image.affine, xyz, np.ones(len(xyz), bool))
    truth = subject.disc_heights_world_mm(image.stem)
    assert discs.named
    assert len(discs.names) >= 6
    errors = [abs(z - truth[name]) for z, name in zip(discs.z_mm, discs.names, strict=True)]
    assert np.median(errors) < 3.0
    assert max(errors) < 5.0


def test_an_image_that_starts_below_c2_gets_no_names():
    assert name_discs(np.array([-150.0, -170.0, -191.0]), top_mm=-140.0) == ()


def test_a_missed_disc_is_skipped_in_the_names():
    z = np.array([-30.0, -46.0, -62.0, -94.0, -110.0])  # C5/C6 at -78 not found
    assert name_discs(z, top_mm=20.0)[-2:] == ('C6/C7', 'C7/T1')


def test_levels_of_lesions():
    discs = Discs(np.array([-30.0, -46.0, -62.0]), ('C2/C3', 'C3/C4', 'C4/C5'), 'x', 20.0)
    assert levels_of(-40.0, -35.0, discs) == 'C3'
    assert levels_of(-70.0, -20.0, discs) == 'C2-C5'
    assert vertebra_at(25.0, discs) is None  # above the image
    assert vertebra_at(-200.0, discs) is None  # far below the last disc
    unnamed = Discs(discs.z_mm, (), 'x', 20.0)
    assert levels_of(-40.0, -35.0, unnamed) is None
