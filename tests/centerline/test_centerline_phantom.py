"""Built-in centreline on synthetic subjects whose true centreline is known (bids_app.phantoms)."""

from __future__ import annotations

import numpy as np
import pytest

from bids_app.centerline import detect_centerline, resample_centerline
from bids_app.phantoms import PhantomImage, make_subject
from bids_app.slots import SLOTS


def _median_error(image: PhantomImage) -> float:
    contrast = 'T1' if image.slot in ('T1w', 'MP2RAGE') else 'T2'
    cl = detect_centerline(image.data, image.affine, contrast)
    ijk = np.argwhere(image.cord_mask > 0)
    z_cord = ijk @ image.affine[2, :3] + image.affine[2, 3]
    z = np.arange(z_cord.min(), z_cord.max(), 2.0)
    fit = resample_centerline(cl, z)
    return float(np.median(np.linalg.norm(fit[:, :2] - image.centerline_at(z), axis=1)))


def test_phantom_sagittal_and_axial():
    subject = make_subject(1, small=True, slots=['T2starAx'])
    for image in subject.images.values():
        # Target of issue 4: median in-plane error <= 1 mm against the true centreline.
        assert _median_error(image) <= 1.0, image.stem


@pytest.mark.slow
@pytest.mark.parametrize('seed', [1, 2])
def test_phantom_every_sequence(seed):
    subject = make_subject(seed, small=True, slots=SLOTS)
    for image in subject.images.values():
        assert _median_error(image) <= 1.0, image.stem
