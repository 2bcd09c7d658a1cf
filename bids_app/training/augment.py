"""Data augmentation as nnU-Net users expect it, batched in torch on the training device.

Batches are in the network layout: ``images`` (B, S, z, x, y) z-scored crops (zero outside each
field of view), ``coverage`` (B, S, z, x, y) bool, ``presence`` (B, S) bool, ``labels``
(B, z, x, y) int. Probabilities and ranges are nnU-Net v2's defaults
(``nnUNetTrainer.get_training_transforms``) except where :class:`AugmentParams` says otherwise.

Spatial transforms are in-plane only: the cord frame already aligns every sequence on its own
centreline, so z is anatomy, not pose. The elastic deformation (not in nnU-Net v2's defaults)
varies smoothly along z too, so that one person's cord and lesions take other shapes slice by
slice: with few people to learn from, it measured better on people held out from training.
Mirroring is left-right only: the cord and the spread of MS lesions are left-right symmetric, so
a mirrored crop is a plausible one (and inference's test-time augmentation averages over this
mirror); anterior-posterior and superior-inferior flips make anatomy no scanner shows, so they are
not used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bids_app.config import CordFrameConfig
from bids_app.slots import Slot
from bids_app.training.intensity import blur_axis, chance, masked_range, masked_stats, uniform
from bids_app.training.synth import SynthParams, randomise_contrast

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class AugmentParams:
    """Probabilities (per sample, or per image where named ``_image``) and ranges.

    Parameters
    ----------
    p_rotation, rotation_deg : float
        In-plane rotation about the centreline, uniform in ``+-rotation_deg`` (nnU-Net: 0.2,
        30 degrees about each axis; ours is smaller and in-plane only).
    p_scale, scale : float, (float, float)
        In-plane zoom (nnU-Net: 0.2, (0.7, 1.4); ours is narrower: cord size varies less).
    p_noise, noise_variance : float, (float, float)
        Additive Gaussian noise.
    p_blur, p_blur_image, blur_sigma : float, float, (float, float)
        Gaussian blur, sigma in voxels.
    p_brightness, brightness : float, (float, float)
        Multiplicative brightness.
    p_contrast, contrast : float, (float, float)
        Contrast about the mean, clipped to the image's former range.
    p_lowres, p_lowres_image, lowres_zoom : float, float, (float, float)
        Nearest-neighbour downsampling then linear upsampling.
    p_gamma_inverted, p_gamma, gamma : float, float, (float, float)
        Gamma on the image rescaled to [0, 1] (inverted: on its negative), mean and standard
        deviation restored.
    p_mirror : float
        Left-right mirror.
    p_elastic, elastic_mm, elastic_spacing_mm : float, float, (float, float)
        Smooth random in-plane displacements (nnU-Net v2: off): Gaussian values of standard
        deviation uniform in ``[0, elastic_mm]`` on knots ``elastic_spacing_mm`` apart (in-plane,
        along z), interpolated trilinearly. ``p_elastic`` 0 draws nothing, so a run without it
        draws the same numbers as before it existed.
    p_view_cut, view_kept : float, (float, float)
        End every sequence's field of view at one slice of the patch, above or below, as a scan
        or slab ends there; a fraction in ``view_kept`` of the patch stays seen
        (:func:`cut_field_of_view`). 0 (the default) draws nothing.
    """

    p_rotation: float = 0.2
    rotation_deg: float = 15.0
    p_scale: float = 0.2
    scale: tuple[float, float] = (0.85, 1.25)
    p_noise: float = 0.1
    noise_variance: tuple[float, float] = (0.0, 0.1)
    p_blur: float = 0.2
    p_blur_image: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 1.0)
    p_brightness: float = 0.15
    brightness: tuple[float, float] = (0.75, 1.25)
    p_contrast: float = 0.15
    contrast: tuple[float, float] = (0.75, 1.25)
    p_lowres: float = 0.25
    p_lowres_image: float = 0.5
    lowres_zoom: tuple[float, float] = (0.5, 1.0)
    p_gamma_inverted: float = 0.1
    p_gamma: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.5)
    p_mirror: float = 0.5
    p_elastic: float = 0.3
    elastic_mm: float = 0.75
    elastic_spacing_mm: tuple[float, float] = (6.0, 16.0)
    p_view_cut: float = 0.0
    view_kept: tuple[float, float] = (0.25, 0.75)


def inplane_theta(
    generator: torch.Generator, n: int, params: AugmentParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw in-plane rotations and zooms.

    Returns
    -------
    theta : Tensor, shape (n, 2, 3)
        ``affine_grid`` matrices (output to input, normalised coordinates, about the centre).
    selected : Tensor of bool, shape (n,)
        Samples that rotate or zoom.
    """
    rotate = chance(generator, (n,), params.p_rotation)
    zoom = chance(generator, (n,), params.p_scale)
    angle = torch.where(
        rotate, uniform(generator, (n,), -params.rotation_deg, params.rotation_deg), 0.0
    )
    scale = torch.where(zoom, uniform(generator, (n,), *params.scale), 1.0)
    radians = angle * math.pi / 180
    cos, sin = torch.cos(radians) / scale, torch.sin(radians) / scale
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return theta, rotate | zoom


def elastic_displacement(
    generator: torch.Generator,
    n: int,
    shape: tuple[int, int, int],
    params: AugmentParams,
    voxel_mm: float = CordFrameConfig.voxel_mm,
) -> torch.Tensor:
    """Draw smooth in-plane displacement fields for volumes of ``shape`` ``(z, x, y)``.

    Returns
    -------
    Tensor, shape (n, z, x, y, 2)
        In ``grid_sample``'s normalised units, its order: the last axis moves along y, then x.
    """
    _, x, y = shape
    inplane, along = params.elastic_spacing_mm
    knots = [max(2, round(size * voxel_mm / step) + 1) for size, step in zip(
        shape, (along, inplane, inplane), strict=True)]  # fmt: skip
    std_voxels = uniform(generator, (n,), 0.0, params.elastic_mm) / voxel_mm
    coarse = torch.randn((n, 2, *knots), generator=generator, device=generator.device)
    field = F.interpolate(
        coarse * std_voxels[:, None, None, None, None], size=shape, mode='trilinear',
        align_corners=True,
    )  # fmt: skip
    # One voxel is 2 / size in normalised units (align_corners=False).
    return torch.stack([field[:, 0] * 2 / y, field[:, 1] * 2 / x], dim=-1)


def warp_inplane(
    batch: Batch,
    theta: torch.Tensor,
    selected: torch.Tensor,
    displacement: torch.Tensor | None = None,
) -> Batch:
    """Apply in-plane affine maps (and displacements) to the selected samples: images linear,
    masks nearest.

    A zoom of ``s`` shows the crop ``s`` times larger (``theta`` holds ``1 / s``).
    ``displacement`` (n, z, x, y, 2), from :func:`elastic_displacement`, is added to the affine
    sampling grid of every z slice.
    """
    rows = selected.nonzero().squeeze(1)
    if rows.numel() == 0:
        return batch
    images, coverage, labels = batch['images'], batch['coverage'], batch['labels']
    s, z, x, y = images.shape[1:]
    grid = F.affine_grid(theta[rows].to(images.dtype), [len(rows), 1, x, y], align_corners=False)
    if displacement is not None:
        grid = (grid[:, None] + displacement[rows].to(images.dtype)).reshape(-1, x, y, 2)

    def warp(volume: torch.Tensor, mode: str) -> torch.Tensor:
        volume = volume.to(images.dtype)
        if displacement is None:
            flat = volume.reshape(len(rows), -1, x, y)
            return F.grid_sample(flat, grid, mode=mode, padding_mode='zeros', align_corners=False)
        slices = volume.reshape(len(rows), -1, z, x, y).transpose(1, 2)  # (r, z, C, x, y)
        out = F.grid_sample(
            slices.reshape(-1, slices.shape[2], x, y), grid, mode=mode, padding_mode='zeros',
            align_corners=False,
        )  # fmt: skip
        return out.reshape(slices.shape).transpose(1, 2)

    images, coverage, labels = images.clone(), coverage.clone(), labels.clone()
    cover = warp(coverage[rows], 'nearest').reshape(len(rows), s, z, x, y) > 0.5
    images[rows] = warp(images[rows], 'bilinear').reshape(len(rows), s, z, x, y) * cover
    coverage[rows] = cover
    labels[rows] = warp(labels[rows], 'nearest').reshape(len(rows), z, x, y).round().long()
    return {**batch, 'images': images, 'coverage': coverage, 'labels': labels}


def mirror_left_right(batch: Batch, selected: torch.Tensor) -> Batch:
    """Flip the selected samples along x (nibabel ``L``; axis 3 of images, 2 of labels)."""
    if not bool(selected.any()):
        return batch
    pick = selected[:, None, None, None, None]
    return {
        **batch,
        'images': torch.where(pick, batch['images'].flip(3), batch['images']),
        'coverage': torch.where(pick, batch['coverage'].flip(3), batch['coverage']),
        'labels': torch.where(pick[:, 0], batch['labels'].flip(2), batch['labels']),
    }


def cut_field_of_view(
    batch: Batch, selected: torch.Tensor, kept: torch.Tensor, keep_top: torch.Tensor
) -> Batch:
    """End the field of view of the selected samples at one slice, as a scan or slab ends there.

    Where no sequence has an image the participant level reports nothing
    (:func:`bids_app.postprocess.field_of_view`), so the label is background there too; the
    network learns the edge itself, with lesions and healthy cord beside it, instead of meeting
    it only at the few real scans' ends.

    Parameters
    ----------
    batch : dict of str to Tensor
    selected : (B,) bool
        The samples to cut.
    kept : (B,) float
        Fraction of the patch's slices that stays seen (at least one slice).
    keep_top : (B,) bool
        Keep the upper slices (the field of view ends below them) or the lower ones. The
        network layout's z runs up the cord (nibabel ``S``).
    """
    if not bool(selected.any()):
        return batch
    z = batch['images'].shape[2]
    n_kept = (kept * z).round().long().clamp(1, z)
    index = torch.arange(z, device=n_kept.device)
    seen = torch.where(
        keep_top[:, None], index[None, :] >= z - n_kept[:, None], index[None, :] < n_kept[:, None]
    )
    seen |= ~selected[:, None]
    return {
        **batch,
        'images': batch['images'] * seen[:, None, :, None, None],
        'coverage': batch['coverage'] & seen[:, None, :, None, None],
        'labels': batch['labels'] * seen[:, :, None, None],
    }


def _rows(pick: torch.Tensor) -> torch.Tensor:
    return pick.nonzero().squeeze(1)


def intensity_transforms(
    images: torch.Tensor, mask: torch.Tensor, generator: torch.Generator, params: AugmentParams
) -> torch.Tensor:
    """Noise, blur, brightness, contrast, low resolution and gamma, each drawn per image.

    Parameters
    ----------
    images : Tensor, shape (B, S, z, x, y)
    mask : Tensor of bool, shape (B, S, z, x, y)
        Field of view; the output is zero outside it. Images without one are left alone.

    Returns
    -------
    Tensor, shape (B, S, z, x, y)
        Only the drawn images are computed on (most transforms touch few images).
    """
    n_batch, n_slots = images.shape[:2]
    x = images.reshape(-1, *images.shape[2:]).clone()
    m = mask.reshape(x.shape)
    n = x.shape[0]
    present = m.flatten(1).any(1)

    def per_sample(p: float) -> torch.Tensor:
        return chance(generator, (n_batch, 1), p).expand(n_batch, n_slots).reshape(-1)

    noisy = _rows(chance(generator, (n,), params.p_noise) & present)
    std = uniform(generator, (n,), *params.noise_variance).sqrt()
    if len(noisy):
        noise = torch.randn(
            (len(noisy), *x.shape[1:]), generator=generator, device=x.device, dtype=x.dtype
        )
        x[noisy] = x[noisy] + noise * std[noisy, None, None, None]

    blurred = per_sample(params.p_blur) & chance(generator, (n,), params.p_blur_image) & present
    sigma = uniform(generator, (n,), *params.blur_sigma)
    rows = _rows(blurred)
    if len(rows):
        sub = x[rows]
        for axis in (1, 2, 3):
            sub = blur_axis(sub, sigma[rows], axis)
        x[rows] = sub

    bright = _rows(chance(generator, (n,), params.p_brightness) & present)
    factor = uniform(generator, (n,), *params.brightness)
    x[bright] = x[bright] * factor[bright, None, None, None]

    contrasted = _rows(chance(generator, (n,), params.p_contrast) & present)
    factor = uniform(generator, (n,), *params.contrast)
    if len(contrasted):
        sub, sub_mask = x[contrasted], m[contrasted]
        mean, _ = masked_stats(sub, sub_mask)
        low, high = masked_range(sub, sub_mask)
        scaled = (sub - mean) * factor[contrasted, None, None, None] + mean
        x[contrasted] = torch.minimum(torch.maximum(scaled, low), high)

    lowres = per_sample(params.p_lowres) & chance(generator, (n,), params.p_lowres_image)
    zoom = uniform(generator, (n,), *params.lowres_zoom)
    for row in _rows(lowres & present).tolist():
        volume = x[row][None, None]
        size = [max(1, round(k * float(zoom[row]))) for k in volume.shape[2:]]
        small = F.interpolate(volume, size=size, mode='nearest')
        x[row] = F.interpolate(small, size=volume.shape[2:], mode='trilinear')[0, 0]

    for p, invert in ((params.p_gamma_inverted, True), (params.p_gamma, False)):
        rows = _rows(chance(generator, (n,), p) & present)
        gamma = uniform(generator, (n,), *params.gamma)
        if len(rows):
            x[rows] = _gamma(x[rows], m[rows], gamma[rows], invert=invert)
    x = torch.where(m, x, torch.zeros_like(x))
    return x.reshape(images.shape)


def _gamma(
    x: torch.Tensor, mask: torch.Tensor, gamma: torch.Tensor, *, invert: bool
) -> torch.Tensor:
    """nnU-Net's gamma with retained statistics on images (N, z, x, y), gamma (N,)."""
    y = -x if invert else x
    mean, std = masked_stats(y, mask)
    low, high = masked_range(y, mask)
    span = (high - low).clamp(min=1e-7)
    curved = ((y - low) / span).clamp(0, 1) ** gamma[:, None, None, None] * span + low
    new_mean, new_std = masked_stats(torch.where(mask, curved, torch.zeros_like(y)), mask)
    curved = (curved - new_mean) / new_std.clamp(min=1e-7) * std + mean
    return -curved if invert else curved


def augment_batch(
    batch: Batch,
    mode: str,
    slots: Sequence[Slot],
    generator: torch.Generator,
    params: AugmentParams | None = None,
    synth: SynthParams | None = None,
) -> Batch:
    """Augment one batch: in-plane warp, (``synth``: contrast randomisation), intensity, mirror.

    Parameters
    ----------
    batch : dict of str to Tensor
        ``images``, ``coverage``, ``presence``, ``labels`` as in the module docstring.
    mode : {'none', 'standard', 'synth'}
    slots : sequence of Slot
        The model's slots (``synth`` blurs each along its own slice direction).
    generator : torch.Generator
        On the batch's device; the only source of randomness.
    params, synth : AugmentParams, SynthParams, optional
        Probabilities and ranges; default the dataclasses' defaults.

    Returns
    -------
    dict of str to Tensor
        A new batch; the input tensors are not modified.
    """
    if mode == 'none':
        return batch
    params = params or AugmentParams()
    n = batch['images'].shape[0]
    theta, warped = inplane_theta(generator, n, params)
    displacement = None
    if params.p_elastic > 0:  # drawn only when on, so that runs without it draw as before
        deform = chance(generator, (n,), params.p_elastic)
        field = elastic_displacement(generator, n, tuple(batch['images'].shape[2:]), params)
        displacement = field * deform[:, None, None, None, None]
        warped = warped | deform
    batch = warp_inplane(batch, theta, warped, displacement)
    if params.p_view_cut > 0:  # drawn only when on, so that runs without it draw as before
        batch = cut_field_of_view(
            batch,
            chance(generator, (n,), params.p_view_cut),
            uniform(generator, (n,), *params.view_kept),
            chance(generator, (n,), 0.5),
        )
    images = batch['images']
    mask = batch['coverage']
    if mode == 'synth':
        images = randomise_contrast(images, mask, slots, generator, synth or SynthParams())
    images = intensity_transforms(images, mask, generator, params)
    batch = {**batch, 'images': images}
    return mirror_left_right(batch, chance(generator, (n,), params.p_mirror))
