"""Synthesise one acquisition: sample the body at each voxel, with partial volume near the cord.

Every voxel takes the tissue at its centre. Voxels that reach into the cord (centre within the
cord's cross-section grown by the voxel's half-diagonal) are instead averaged over a regular
sub-grid of points inside the voxel (3 per in-plane axis, more along thick slices), which gives
partial volume for the cord, its grey matter, the CSF next to it and the lesions. The cord and
lesion masks threshold those fractions at 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.phantoms.acquisition import Acquisition
from bids_app.phantoms.anatomy import PROFILE_ROWS, Anatomy, sample_profiles
from bids_app.phantoms.contrasts import (
    TEXTURE_MM,
    add_rician_noise,
    bias_field,
    flow_voids,
    texture_amplitude,
    vary_contrast,
)
from bids_app.phantoms.lesions import Lesion, lesion_at
from bids_app.phantoms.sequences import SEQUENCES
from bids_app.phantoms.tissues import Tissue, is_spinal_cord, tissue_at

#: Largest spacing (mm) between sub-samples along a voxel axis; every axis gets at least 3.
SUBSAMPLE_STEP_MM = 1.0
#: Steepest slope of the cord (mm of A-P or L-R shift per mm of z) that the near-cord test allows.
MAX_CORD_SLOPE = 0.4
_BATCH_POINTS = 1_500_000


@dataclass(frozen=True)
class Rendered:
    """A synthesised image and its reference masks, all on the acquisition's grid.

    Attributes
    ----------
    data : (I, J, K) int16 array
        The image, scanner-like integers.
    cord_mask : (I, J, K) uint8 array
        1 where at least half of the voxel is spinal cord.
    lesion_mask : (I, J, K) uint8 array
        1 where at least half of the voxel is lesion.
    """

    data: NDArray[np.int16]
    cord_mask: NDArray[np.uint8]
    lesion_mask: NDArray[np.uint8]


def subsample_offsets(voxel_mm: NDArray[np.floating]) -> NDArray[np.float32]:
    """Sub-sample positions inside a voxel, in voxel units relative to its centre.

    Parameters
    ----------
    voxel_mm : (3,) float array
        Voxel size along each voxel axis (mm).

    Returns
    -------
    (S, 3) float32 array
        Offsets in ``(-0.5, 0.5)``: cell centres of an ``n0 x n1 x n2`` sub-grid, with
        ``n = max(3, ceil(size / SUBSAMPLE_STEP_MM))``.

    Examples
    --------
    >>> subsample_offsets(np.array([0.5, 0.5, 5.0])).shape
    (45, 3)
    """
    counts = [max(3, math.ceil(float(v) / SUBSAMPLE_STEP_MM - 1e-9)) for v in voxel_mm]
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
    grid = np.meshgrid(*axes, indexing='ij')
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.float32)


def voxel_centres(shape: tuple[int, int, int], vox2body: NDArray[np.floating]) -> NDArray:
    """Body coordinates (mm) of every voxel centre, shape ``(I*J*K, 3)`` float32, C order."""
    i, j, k = (np.arange(n, dtype=np.float32) for n in shape)
    a = np.asarray(vox2body, dtype=np.float32)
    out = (
        a[:3, 3]
        + i[:, None, None, None] * a[:3, 0]
        + j[None, :, None, None] * a[:3, 1]
        + k[None, None, :, None] * a[:3, 2]
    )
    return out.reshape(-1, 3)


def _near_cord(anatomy: Anatomy, xyz: NDArray, margin_mm: NDArray) -> NDArray[np.intp]:
    """Indices of the points within ``margin_mm`` (x, y, z) of the spinal cord (not brainstem)."""
    p = sample_profiles(anatomy, xyz[:, 2])
    row = {name: k for k, name in enumerate(PROFILE_ROWS)}
    a, b = p[:, row['cord_a']], p[:, row['cord_b']]
    dx = xyz[:, 0] - p[:, row['cx']]
    dy = xyz[:, 1] - p[:, row['cy']]
    near = (dx / (a + margin_mm[0])) ** 2 + (dy / (b + margin_mm[1])) ** 2 < 1.0
    return np.flatnonzero(near & (a > 0) & (xyz[:, 2] < anatomy.cord_top_mm + margin_mm[2]))


def render(
    acq: Acquisition,
    anatomy: Anatomy,
    lesions: tuple[Lesion, ...],
    rng: np.random.Generator,
) -> Rendered:
    """Synthesise the image of one acquisition, with its cord and lesion masks.

    Parameters
    ----------
    acq : Acquisition
        Grid (shape, affine), slot and the patient's pose during the scan.
    anatomy : Anatomy
        The body.
    lesions : tuple of Lesion
        The lesions present at this session.
    rng : numpy.random.Generator
        Source of the bias field and the noise.

    Returns
    -------
    Rendered
        Image and masks on the grid ``acq.shape``.
    """
    sequence = SEQUENCES[acq.slot]
    contrast = vary_contrast(sequence.contrast, rng)
    table = contrast.table()
    lesion_values = contrast.lesion_values(np.array([les.strength for les in lesions]))
    vox2body = np.linalg.inv(acq.body_to_world) @ acq.affine
    xyz = voxel_centres(acq.shape, vox2body)
    tissue = tissue_at(anatomy, xyz)
    ids = lesion_at(anatomy, lesions, xyz, tissue)
    signal = table[tissue]
    signal[ids > 0] = lesion_values[ids[ids > 0] - 1]
    cord = is_spinal_cord(tissue).astype(np.float32)
    lesion = (ids > 0).astype(np.float32)

    voxel_mm = np.linalg.norm(acq.affine[:3, :3], axis=0)
    # A voxel reaches into the cord if its centre is within its own half-extent of the cord, in
    # the axial plane, plus the cord's shift over the voxel's half-height.
    half_extent = 0.5 * np.abs(vox2body[:3, :3]).sum(axis=1)
    margin = half_extent + 0.2
    margin[:2] += MAX_CORD_SLOPE * half_extent[2]
    tube = _near_cord(anatomy, xyz, margin)
    offsets = subsample_offsets(voxel_mm) @ vox2body[:3, :3].T.astype(np.float32)
    n_sub = len(offsets)
    batch = max(1, _BATCH_POINTS // n_sub)
    for start in range(0, tube.size, batch):
        idx = tube[start : start + batch]
        pts = (xyz[idx, None, :] + offsets[None]).reshape(-1, 3)
        t = tissue_at(anatomy, pts)
        lid = lesion_at(anatomy, lesions, pts, t)
        s = table[t]
        s[lid > 0] = lesion_values[lid[lid > 0] - 1]
        signal[idx] = s.reshape(-1, n_sub).mean(axis=1)
        cord[idx] = is_spinal_cord(t).reshape(-1, n_sub).mean(axis=1)
        lesion[idx] = (lid > 0).reshape(-1, n_sub).mean(axis=1)

    if sequence.flow_voids:
        signal *= flow_voids(tissue == Tissue.CSF, acq.shape, voxel_mm, rng)
    # Tissue texture, then the point-spread function (in-plane blur of about half a voxel).
    texture = ndimage.gaussian_filter(
        rng.standard_normal(acq.shape, dtype=np.float32), TEXTURE_MM / voxel_mm
    ).ravel()
    texture /= max(float(texture.std()), 1e-6)
    signal *= 1.0 + texture_amplitude()[tissue] * texture
    in_plane = voxel_mm < 1.5 * voxel_mm.min()
    signal = ndimage.gaussian_filter(signal.reshape(acq.shape), 0.5 * in_plane).ravel()

    y_back = float(np.percentile(xyz[tissue != Tissue.AIR, 1], 1)) if (tissue > 0).any() else 0.0
    signal = signal * bias_field(xyz, y_back, contrast.bias, rng) * contrast.scale
    noisy = add_rician_noise(signal, contrast.scale / contrast.snr, rng)
    if sequence.noisy_background:
        # The uniform image turns background noise into salt and pepper across the full range.
        air = (tissue == Tissue.AIR) | (tissue == Tissue.LUNG)
        noisy[air] = rng.uniform(0.0, contrast.scale, int(air.sum()))
    data = np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16)
    return Rendered(
        data=data.reshape(acq.shape),
        cord_mask=(cord >= 0.5).astype(np.uint8).reshape(acq.shape),
        lesion_mask=(lesion >= 0.5).astype(np.uint8).reshape(acq.shape),
    )
