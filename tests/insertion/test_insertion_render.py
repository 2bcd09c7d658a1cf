"""Lesion shapes and their partial-volume rendering, against volumes computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from bids_app.insertion.insert import NativeImage, insert_lesions
from bids_app.insertion.render import CordTrack, lesion_fractions
from bids_app.insertion.shapes import InsertedLesion, Lobe
from bids_app.slots import Slot


def _everywhere(u, v, z):
    return np.ones(np.shape(u), bool)


def _sphere(radius: float, z: float = 0.0, u: float = 0.0) -> InsertedLesion:
    return InsertedLesion((Lobe(u, 0.0, z, radius, radius, radius),), 0.0, 'small')


def _grid(zooms: tuple[float, float, float], shape: tuple[int, int, int]) -> np.ndarray:
    """An RAS grid centred on the world origin."""
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(zooms)
    return affine


STRAIGHT = CordTrack(np.array([-100.0, 100.0]), np.zeros((2, 2)))


@pytest.mark.parametrize(
    ('zooms', 'shape'),
    [
        ((1.0, 1.0, 1.0), (15, 15, 15)),
        ((0.5, 0.5, 5.0), (30, 30, 5)),
        ((3.0, 0.6, 0.6), (5, 25, 25)),
    ],
)
def test_partial_volume_keeps_the_volume(zooms, shape):
    """A sphere of radius 2.5 mm (65.4 mm^3) on isotropic, axial and sagittal grids: the summed
    voxel fractions times the voxel volume give its volume within 3 %."""
    affine = _grid(zooms, shape)
    _box, soft, hard = lesion_fractions(shape, affine, _sphere(2.5), STRAIGHT, _everywhere)
    volume = hard.sum() * np.prod(zooms)
    assert volume == pytest.approx(4 / 3 * np.pi * 2.5**3, rel=0.03)
    assert np.allclose(soft, hard)  # a sharp edge: soft occupancy is the hard fraction


def test_thick_slice_dilutes_a_short_lesion():
    """A 2 mm sphere centred in a 5 mm slice fills at most 2/5 of the voxel along z."""
    affine = _grid((0.5, 0.5, 5.0), (30, 30, 5))
    _, _, hard = lesion_fractions((30, 30, 5), affine, _sphere(1.0), STRAIGHT, _everywhere)
    assert hard.max() == pytest.approx(0.4, abs=0.05)


def test_lesion_follows_each_image_cord():
    """The same lesion in two images whose cords are 3 mm apart in x moves 3 mm with the cord."""
    affine = _grid((0.5, 0.5, 1.0), (60, 40, 20))
    lesion = _sphere(2.0, u=1.5)
    shifted = CordTrack(STRAIGHT.z_mm, STRAIGHT.xy_mm + np.array([3.0, 0.0]))
    centroids = []
    for track in (STRAIGHT, shifted):
        box, _, hard = lesion_fractions((60, 40, 20), affine, lesion, track, _everywhere)
        i = np.arange(box[0].start, box[0].stop)
        x = affine[0, 0] * i + affine[0, 3]
        centroids.append((hard.sum((1, 2)) * x).sum() / hard.sum())
    assert centroids[0] == pytest.approx(1.5, abs=0.05)
    assert centroids[1] - centroids[0] == pytest.approx(3.0, abs=0.05)


def _cord_image(slot: Slot, shape, zooms, cord_value, shift_x=0.0, seed=0) -> NativeImage:
    """A straight cylindrical cord (radius 4 mm, x = shift_x) in a noisy background."""
    affine = _grid(zooms, shape)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    cord = (np.hypot(xyz[:, 0] - shift_x, xyz[:, 1]) < 4.0).reshape(shape)
    rng = np.random.default_rng(seed)
    data = np.where(cord, cord_value, 100.0) + rng.normal(0, 5, shape)
    return NativeImage(slot, data.astype(np.float32), affine, cord)


def test_insert_lesions_into_every_sequence_inside_the_cord():
    """Bright on T2w, dark on T1w, nothing changed beyond the cord's edge voxels (partial volume),
    the label inside the cord."""
    t2 = _cord_image(Slot.T2Sag, (7, 40, 60), (3.0, 0.5, 0.5), 300.0)
    t1 = _cord_image(Slot.T1w, (24, 24, 30), (1.0, 1.0, 1.0), 500.0, shift_x=2.0, seed=1)
    new, labels, placed = insert_lesions([t2, t1], [t2], 3, np.random.default_rng(4))
    assert len(placed) >= 1
    label = labels[0]
    assert label.any()
    assert not (label & ~t2.cord).any()
    for image, data, sign in ((t2, new[0], 1), (t1, new[1], -1)):
        change = data - image.data
        assert np.all(change[~ndimage.binary_dilation(image.cord)] == 0)
        assert sign * change.sum() > 0
    assert not placed[0].contrast.ratios[Slot.T1w] > 1.0
    labelled_volume = label.sum() * 3.0 * 0.5 * 0.5
    assert labelled_volume == pytest.approx(sum(p.volume_mm3 for p in placed), rel=0.05)


def test_faint_on_t2sag_only_where_another_sequence_shows_the_lesion():
    """A lesion faint on the sagittal T2w needs another image that holds its core and shows it
    clearly: never on a T2Sag-only unit, nor where the other image does not reach the lesion."""
    t2 = _cord_image(Slot.T2Sag, (7, 40, 80), (3.0, 0.5, 0.5), 300.0)
    t1 = _cord_image(Slot.T1w, (24, 24, 44), (1.0, 1.0, 1.0), 500.0, seed=1)
    # An axial T2*w of a few slices far above the cord's middle: most lesions miss it.
    slab = _cord_image(Slot.T2starAx, (24, 24, 2), (1.0, 1.0, 1.0), 400.0, seed=2)
    above = slab.affine.copy()
    above[2, 3] = 100.0
    t2s = NativeImage(Slot.T2starAx, slab.data, above, slab.cord)  # its own cord track up there

    def placed_in(images, seed):
        return insert_lesions(images, [t2], 4, np.random.default_rng(seed))[2]

    alone = [p for seed in range(3) for p in placed_in([t2], seed)]
    assert len(alone) >= 6
    assert not any(p.contrast.faint_on_t2sag for p in alone)
    assert min(p.contrast.ratios[Slot.T2Sag] for p in alone) >= 1.2
    far = [p for seed in range(3) for p in placed_in([t2, t2s], seed)]
    assert not any(p.contrast.faint_on_t2sag for p in far)
    with_t1 = [p for seed in range(3) for p in placed_in([t2, t1], seed)]
    faint = [p for p in with_t1 if p.contrast.faint_on_t2sag]
    assert faint, 'about a quarter of lesions should be faint where the T1w shows them'
    assert all(p.contrast.ratios[Slot.T1w] <= 0.85 for p in faint)
    assert all(p.contrast.ratios[Slot.T2Sag] <= 1.15 for p in faint)
