"""Augmentation: known geometric answers, masks respected, reproducible from the generator."""

from __future__ import annotations

import math

import pytest
import torch

from bids_app.slots import SLOTS, Slot
from bids_app.training.augment import (
    AugmentParams,
    augment_batch,
    cut_field_of_view,
    elastic_displacement,
    inplane_theta,
    intensity_transforms,
    mirror_left_right,
    warp_inplane,
)
from bids_app.training.intensity import masked_stats, renormalise
from bids_app.training.synth import SynthParams, apply_curves, randomise_contrast, thick_slices


def _batch(n=2, s=2, z=8, xy=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    coverage = torch.ones(n, s, z, xy, xy, dtype=torch.bool)
    coverage[:, -1, z // 2 :] = False  # the last slot covers half the slices
    images = renormalise(torch.randn(n, s, z, xy, xy, generator=gen), coverage)
    labels = (torch.rand(n, z, xy, xy, generator=gen) > 0.9).long()
    presence = torch.ones(n, s, dtype=torch.bool)
    return {'images': images, 'coverage': coverage, 'presence': presence, 'labels': labels}


def test_a_quarter_turn_is_rot90_for_images_and_labels():
    batch = _batch(n=1)
    theta = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])  # cos 0, sin 1, scale 1
    out = warp_inplane(batch, theta, torch.tensor([True]))
    expected = torch.rot90(batch['images'], 1, dims=(-2, -1))
    torch.testing.assert_close(out['images'], expected, atol=1e-5, rtol=0)
    assert torch.equal(out['labels'], torch.rot90(batch['labels'], 1, dims=(-2, -1)))
    assert torch.equal(out['coverage'], batch['coverage'])  # symmetric under rotation


def test_theta_holds_rotation_and_inverse_zoom():
    gen = torch.Generator().manual_seed(1)
    params = AugmentParams(p_rotation=1.0, p_scale=1.0, rotation_deg=10, scale=(2.0, 2.0))
    theta, selected = inplane_theta(gen, 50, params)
    assert selected.all()
    det = torch.linalg.det(theta[:, :, :2])
    torch.testing.assert_close(det, torch.full((50,), 0.25))  # zoom 2 samples 1/2 the field
    angles = torch.atan2(theta[:, 1, 0], theta[:, 0, 0]) * 180 / math.pi
    assert angles.abs().max() <= 10


def test_unselected_samples_are_untouched():
    batch = _batch()
    theta = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]]).repeat(2, 1, 1)
    out = warp_inplane(batch, theta, torch.tensor([False, True]))
    assert torch.equal(out['images'][0], batch['images'][0])
    assert not torch.equal(out['images'][1], batch['images'][1])


def test_mirror_flips_left_right_together():
    batch = _batch()
    out = mirror_left_right(batch, torch.tensor([True, False]))
    assert torch.equal(out['images'][0], batch['images'][0].flip(2))  # (S, z, x, y): x
    assert torch.equal(out['labels'][0], batch['labels'][0].flip(1))  # (z, x, y): x
    assert torch.equal(out['labels'][1], batch['labels'][1])


def test_intensity_transforms_stay_in_the_field_of_view():
    batch = _batch(n=4, s=3)
    always = AugmentParams(
        p_noise=1, p_blur=1, p_blur_image=1, p_brightness=1, p_contrast=1, p_lowres=1,
        p_lowres_image=1, p_gamma=1, p_gamma_inverted=1,
    )  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    out = intensity_transforms(batch['images'], batch['coverage'], gen, always)
    assert (out[~batch['coverage']] == 0).all()
    assert torch.isfinite(out).all()
    assert not torch.equal(out, batch['images'])


def test_gamma_retains_mean_and_std():
    batch = _batch(n=3, s=1)
    only_gamma = AugmentParams(
        p_noise=0, p_blur=0, p_brightness=0, p_contrast=0, p_lowres=0, p_gamma_inverted=0,
        p_gamma=1,
    )  # fmt: skip
    out = intensity_transforms(batch['images'], batch['coverage'], torch.Generator(), only_gamma)
    flat = out.flatten(0, 1)
    mask = batch['coverage'].flatten(0, 1)
    mean, std = masked_stats(flat, mask)
    torch.testing.assert_close(mean.flatten(), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(std.flatten(), torch.ones(3), atol=1e-4, rtol=0)


@pytest.mark.parametrize('mode', ['standard', 'synth'])
def test_augment_batch_is_reproducible_and_keeps_labels_binary(mode):
    batch = _batch(n=3, s=2)
    before = {k: v.clone() for k, v in batch.items()}
    slots = (Slot.T2Sag, Slot.T2starAx)
    one = augment_batch(batch, mode, slots, torch.Generator().manual_seed(5))
    two = augment_batch(batch, mode, slots, torch.Generator().manual_seed(5))
    for key in one:
        assert torch.equal(one[key], two[key])
        assert torch.equal(batch[key], before[key])  # inputs not modified
    assert set(one['labels'].unique().tolist()) <= {0, 1}
    assert (one['images'][~one['coverage']] == 0).all()
    assert augment_batch(batch, 'none', slots, torch.Generator()) is batch


def test_apply_curves_interpolates_between_knots():
    u = torch.tensor([0.0, 0.1, 0.5, 0.75, 1.0]).reshape(1, 5, 1, 1)
    curve = torch.tensor([[0.0, 1.0, 0.5]])  # knots at 0, 0.5, 1
    assert apply_curves(u, curve).flatten().tolist() == pytest.approx([0, 0.2, 1, 0.75, 0.5])


def test_thick_slices_only_act_along_their_axis():
    z_only = torch.arange(16.0).reshape(16, 1, 1).expand(16, 8, 8).clone()
    assert torch.allclose(thick_slices(z_only, (1,), 4.0), z_only)  # x-thick: z pattern kept
    stripes = (torch.arange(8.0) % 2).reshape(1, 8, 1).expand(16, 8, 8).clone()
    thick = thick_slices(stripes, (1,), 4.0)
    assert thick.std() < 0.5 * stripes.std()  # 2-voxel stripes vanish in 2 mm slices


def test_randomise_contrast_z_scores_the_field_of_view():
    batch = _batch(n=4, s=6, z=16)
    gen = torch.Generator().manual_seed(2)
    always = SynthParams(p_remap=1, p_bias=1, p_resolution=1, p_noise=1, p_gibbs=1, p_clusters=1)
    out = randomise_contrast(batch['images'], batch['coverage'], SLOTS, gen, always)
    mean, std = masked_stats(out.flatten(0, 1), batch['coverage'].flatten(0, 1))
    torch.testing.assert_close(mean.flatten(), torch.zeros(24), atol=1e-4, rtol=0)
    torch.testing.assert_close(std.flatten(), torch.ones(24), atol=1e-3, rtol=0)
    assert (out[~batch['coverage']] == 0).all()
    never = SynthParams(p_remap=0, p_bias=0, p_resolution=0, p_noise=0, p_gibbs=0, p_clusters=0)
    same = randomise_contrast(batch['images'], batch['coverage'], SLOTS, gen, never)
    assert torch.equal(same, batch['images'])


def test_a_one_voxel_displacement_shifts_images_and_labels_along_x():
    batch = _batch(n=1)
    z, x, y = batch['labels'].shape[1:]
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    shift = torch.zeros(1, z, x, y, 2)
    shift[..., 1] = 2 / x  # grid_sample's second coordinate moves along x, one voxel is 2 / x
    out = warp_inplane(batch, identity, torch.tensor([True]), shift)
    torch.testing.assert_close(
        out['images'][..., :-1, :], batch['images'][..., 1:, :], atol=1e-5, rtol=0
    )
    assert torch.equal(out['labels'][..., :-1, :], batch['labels'][..., 1:, :])
    assert not out['coverage'][..., -1, :].any()  # beyond the crop: outside every field of view
    assert (out['images'][..., -1, :] == 0).all()


def test_a_zero_displacement_is_the_affine_warp_alone():
    batch = _batch()
    theta = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]]).repeat(2, 1, 1)
    selected = torch.tensor([True, True])
    zero = torch.zeros(2, *batch['labels'].shape[1:], 2)
    with_zero = warp_inplane(batch, theta, selected, zero)
    alone = warp_inplane(batch, theta, selected)
    for key in ('images', 'coverage', 'labels'):
        torch.testing.assert_close(with_zero[key], alone[key], atol=1e-6, rtol=0)


def test_elastic_displacements_are_smooth_and_sized_by_elastic_mm():
    gen = torch.Generator().manual_seed(3)
    shape = (64, 48, 48)
    params = AugmentParams(elastic_mm=1.0, elastic_spacing_mm=(6.0, 16.0))
    field = elastic_displacement(gen, 8, shape, params, voxel_mm=0.5)
    assert field.shape == (8, *shape, 2)
    voxels = field[..., 1] * shape[1] / 2  # along x, in voxels
    assert voxels.abs().max() < 5 * 1.0 / 0.5  # knots have std <= 2 voxels
    step = (voxels[:, :, 1:] - voxels[:, :, :-1]).abs().max()
    assert step < 1.0  # knots 12 voxels apart: neighbours never cross (no folding)
    still = elastic_displacement(gen, 2, shape, AugmentParams(elastic_mm=0.0))
    assert torch.equal(still, torch.zeros_like(still))


def test_elastic_augmentation_keeps_labels_binary_and_is_reproducible():
    params = AugmentParams(p_elastic=1.0, elastic_mm=1.0)
    slots = [Slot(s) for s in SLOTS[:2]]
    runs = [
        augment_batch(_batch(), 'standard', slots, torch.Generator().manual_seed(7), params)
        for _ in range(2)
    ]
    for key in ('images', 'coverage', 'labels'):
        assert torch.equal(runs[0][key], runs[1][key])
    assert set(runs[0]['labels'].unique().tolist()) <= {0, 1}
    assert not torch.equal(runs[0]['labels'], _batch()['labels'])


def test_a_cut_field_of_view_ends_every_sequence_at_one_slice():
    """8 slices: sample 0 keeps its upper 3 (slices 5-7), sample 1 is not selected; beyond the
    cut images are 0, coverage False and labels background; inside, nothing changes."""
    batch = _batch(z=8)
    batch['labels'][:] = 1
    cut = cut_field_of_view(
        batch,
        torch.tensor([True, False]),
        torch.tensor([3 / 8, 3 / 8]),
        torch.tensor([True, True]),
    )
    assert not cut['coverage'][0, :, :5].any()
    assert not cut['images'][0, :, :5].any()
    assert not cut['labels'][0, :5].any()
    assert torch.equal(cut['images'][0, :, 5:], batch['images'][0, :, 5:])
    assert torch.equal(cut['coverage'][0, :, 5:], batch['coverage'][0, :, 5:])
    assert cut['labels'][0, 5:].all()
    for key in ('images', 'coverage', 'labels'):
        assert torch.equal(cut[key][1], batch[key][1])
    # keeping the lower slices instead: 0-2 seen
    low = cut_field_of_view(
        batch, torch.tensor([True, False]), torch.tensor([3 / 8, 0.5]), torch.tensor([False, True])
    )
    assert low['labels'][0].any(dim=(1, 2)).tolist() == [True] * 3 + [False] * 5


def test_view_cut_off_draws_as_before_and_on_cuts_every_sample():
    slots = [Slot(s) for s in SLOTS[:2]]
    plain = augment_batch(_batch(), 'standard', slots, torch.Generator().manual_seed(3))
    off = augment_batch(
        _batch(), 'standard', slots, torch.Generator().manual_seed(3), AugmentParams()
    )
    assert torch.equal(plain['images'], off['images'])
    params = AugmentParams(p_view_cut=1.0, view_kept=(0.5, 0.5))
    on = augment_batch(_batch(), 'standard', slots, torch.Generator().manual_seed(3), params)
    seen_slices = on['coverage'].any(dim=(1, 3, 4))
    assert seen_slices.sum(dim=1).tolist() == [4, 4]  # half of the 8 slices, top or bottom
    assert not on['labels'][~seen_slices].any()
