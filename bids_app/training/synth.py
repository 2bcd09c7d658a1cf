"""SynthSeg-style randomisation of what a site varies: contrast, bias field, resolution, noise.

SynthSeg (Billot et al., Medical Image Analysis 2023) trains on images whose contrast, resolution,
bias field and noise are drawn at random every iteration, so the network cannot rely on any one
scanner's look. We have images, not tissue label maps, so contrast is randomised by passing each
image through a random intensity curve (monotonic, or with probability ``p_nonmonotonic`` not),
then a smooth multiplicative bias field, a thick-slice simulation along the slot's own slice
direction (sagittal slots: x, axial slots: z, 3D slots: every axis), Rician noise, and a new
z-score over the field of view, as inference normalises.

Tensors are in the network layout ``(B, S, z, x, y)``, 0.5 mm voxels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bids_app.config import CordFrameConfig
from bids_app.slots import Slot
from bids_app.training.intensity import blur_axis, chance, renormalise, uniform

#: Axes of an image ``(z, x, y)`` along which voxels are thick, per slot ``acquisition``:
#: sagittal slices are thick left-right (x), axial ones along the cord (z), 3D ones a little along
#: every axis.
SLICE_AXES: dict[str, tuple[int, ...]] = {'sagittal': (1,), 'axial': (0,), '3d': (0, 1, 2)}

#: z-scored intensities in this range map to [0, 1] before the random curve.
Z_RANGE = (-3.0, 5.0)

#: FWHM of a Gaussian = 2 sqrt(2 ln 2) sigma.
FWHM_PER_SIGMA = 2.3548


@dataclass(frozen=True)
class SynthParams:
    """Probabilities per image and ranges of the contrast randomisation.

    Parameters
    ----------
    p_remap, p_nonmonotonic, n_knots : float, float, int
        Random piecewise-linear intensity curve through ``n_knots`` evenly spaced knots, its
        values uniform on [0, 1] (sorted unless non-monotonic).
    p_bias, bias_std, bias_grid : float, float, (int, int, int)
        Log bias field: Gaussian values of std uniform in ``[0, bias_std]`` on a ``(z, x, y)``
        grid, upsampled trilinearly.
    p_resolution : float
        Thick-slice simulation.
    sagittal_mm, axial_mm, isotropic_mm : (float, float)
        Slice thickness ranges in mm of sagittal, axial and 3D slots.
    p_noise, noise_std : float, float
        Rician noise, std uniform in ``[0, noise_std]`` of the [0, 1] intensity range.
    p_clusters, n_clusters, p_cluster_order : float, (int, int), float
        Intensity-cluster re-synthesis (SynthSeg's trick on real images): the image is cut into
        ``n_clusters`` intensity classes at its quantiles and each class drawn anew (a new mean,
        its spread scaled by 0.5-1.5); the classes keep their order with ``p_cluster_order``.
    p_gibbs, gibbs_keep : float, (float, float)
        Gibbs ringing: the spectrum along one axis cut to a fraction in ``gibbs_keep`` (a ringing
        band beside the cord's edge is a classic false lesion on sagittal T2w).
    """

    p_remap: float = 0.5
    p_nonmonotonic: float = 0.25
    n_knots: int = 6
    p_bias: float = 0.5
    bias_std: float = 0.3
    bias_grid: tuple[int, int, int] = (4, 3, 3)
    p_resolution: float = 0.5
    sagittal_mm: tuple[float, float] = (1.0, 4.5)
    axial_mm: tuple[float, float] = (1.0, 6.0)
    isotropic_mm: tuple[float, float] = (0.5, 1.5)
    p_noise: float = 0.5
    noise_std: float = 0.08
    p_clusters: float = 0.4
    n_clusters: tuple[int, int] = (3, 8)
    p_cluster_order: float = 0.75
    p_gibbs: float = 0.2
    gibbs_keep: tuple[float, float] = (0.25, 0.6)

    def thickness(self, slot: Slot) -> tuple[float, float]:
        """Thickness range in mm for a slot's acquisition plane."""
        return {
            'sagittal': self.sagittal_mm,
            'axial': self.axial_mm,
            '3d': self.isotropic_mm,
        }[slot.spec.acquisition]


def random_curves(generator: torch.Generator, n: int, params: SynthParams) -> torch.Tensor:
    """Knot values of ``n`` random intensity curves on [0, 1].

    Returns
    -------
    Tensor, shape (n, n_knots)
        Sorted (monotonic) unless drawn non-monotonic.
    """
    values = uniform(generator, (n, params.n_knots), 0.0, 1.0)
    monotonic = ~chance(generator, (n,), params.p_nonmonotonic)
    return torch.where(monotonic[:, None], values.sort(dim=1).values, values)


def apply_curves(u: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of each image through its own curve.

    Parameters
    ----------
    u : Tensor, shape (N, z, x, y)
        Intensities in [0, 1].
    curves : Tensor, shape (N, K)
        Values at ``K`` evenly spaced knots on [0, 1].

    Examples
    --------
    >>> u = torch.tensor([0.0, 0.25, 1.0]).reshape(1, 3, 1, 1)
    >>> apply_curves(u, torch.tensor([[1.0, 0.0, 1.0]])).flatten().tolist()
    [1.0, 0.5, 1.0]
    """
    knots = curves.shape[1]
    flat = u.reshape(u.shape[0], -1)
    position = flat.clamp(0, 1) * (knots - 1)
    index = position.floor().long().clamp(max=knots - 2)
    weight = position - index
    table = curves.to(u.dtype)
    out = table.gather(1, index) * (1 - weight) + table.gather(1, index + 1) * weight
    return out.reshape(u.shape)


def bias_fields(
    generator: torch.Generator, std: torch.Tensor, shape: tuple[int, int, int], grid: tuple
) -> torch.Tensor:
    """Smooth multiplicative fields ``exp(g)``, ``g`` Gaussian with ``std`` on a coarse grid.

    Parameters
    ----------
    std : Tensor, shape (N,)
    shape : (int, int, int)
        ``(z, x, y)`` of the images.
    grid : (int, int, int)
        Coarse ``(z, x, y)`` grid, upsampled trilinearly.

    Returns
    -------
    Tensor, shape (N, z, x, y)
    """
    coarse = torch.randn((len(std), 1, *grid), generator=generator, device=generator.device)
    coarse = coarse * std[:, None, None, None, None]
    return torch.exp(F.interpolate(coarse, size=shape, mode='trilinear'))[:, 0]


def thick_slices(u: torch.Tensor, axes: tuple[int, ...], factor: float) -> torch.Tensor:
    """Simulate slices ``factor`` voxels thick along ``axes`` of one image (z, x, y).

    Blur with a Gaussian whose FWHM is the thickness, keep one sample per slice (nearest), then
    interpolate back linearly.

    Parameters
    ----------
    u : Tensor, shape (z, x, y)
    axes : tuple of {0, 1, 2}
    factor : float
        Slice thickness in voxels (>= 1).
    """
    volume = u[None]
    for axis in axes:
        volume = blur_axis(volume, volume.new_tensor([factor / FWHM_PER_SIGMA]), axis + 1)
    size = list(u.shape)
    for axis in axes:
        size[axis] = max(1, round(size[axis] / factor))
    small = F.interpolate(volume[None], size=size, mode='nearest')
    return F.interpolate(small, size=tuple(u.shape), mode='trilinear')[0, 0]


def resynthesise_clusters(
    u: torch.Tensor,
    mask: torch.Tensor,
    n_classes: int,
    generator: torch.Generator,
    *,
    ordered: bool,
) -> torch.Tensor:
    """Cut one image into intensity classes at its quantiles and draw every class anew.

    Parameters
    ----------
    u : Tensor, shape (z, x, y)
        Intensities in [0, 1].
    mask : Tensor of bool, shape (z, x, y)
        Field of view (the quantiles are taken there).
    n_classes : int
    generator : torch.Generator
    ordered : bool
        Keep the classes' order (a darker class stays darker).

    Returns
    -------
    Tensor, shape (z, x, y)
        ``new_mean[c] + spread[c] (u - old_mean[c])`` for each voxel's class ``c``.

    Examples
    --------
    >>> u = torch.tensor([0.1, 0.2, 0.8, 0.9]).reshape(1, 2, 2)
    >>> out = resynthesise_clusters(u, u > 0, 2, torch.Generator().manual_seed(0), ordered=True)
    >>> bool(out[0, 1].min() > out[0, 0].max())  # the bright class stays the brighter
    True
    """
    values = u[mask]
    if values.numel() < n_classes:
        return u
    levels = torch.linspace(0, 1, n_classes + 1, device=u.device)[1:-1]
    cuts = torch.quantile(values.float()[:100_000], levels).to(u.dtype)
    label = torch.bucketize(u, cuts)
    count = torch.zeros(n_classes, device=u.device).index_add_(
        0, label[mask], torch.ones_like(values)
    )
    total = torch.zeros(n_classes, device=u.device).index_add_(0, label[mask], values.float())
    old = (total / count.clamp(min=1)).to(u.dtype)
    new = uniform(generator, (n_classes,), 0.0, 1.0).to(u.dtype)
    if ordered:
        new = new.sort().values
    spread = uniform(generator, (n_classes,), 0.5, 1.5).to(u.dtype)
    return new[label] + spread[label] * (u - old[label])


def gibbs_ringing(u: torch.Tensor, axis: int, keep: float) -> torch.Tensor:
    """Truncate one image's spectrum along ``axis`` to the lowest ``keep`` of its frequencies.

    Parameters
    ----------
    u : Tensor, shape (z, x, y)
    axis : {0, 1, 2}
    keep : float
        Fraction of the frequencies kept (0 < keep <= 1).

    Examples
    --------
    >>> step = torch.zeros(1, 32, 1); step[:, 16:] = 1
    >>> ringing = gibbs_ringing(step, 1, 0.4)[0, :, 0]
    >>> bool(ringing.max() > 1.05), bool(ringing.min() < -0.05)  # over- and undershoot
    (True, True)
    """
    spectrum = torch.fft.rfft(u.float(), dim=axis)
    n = spectrum.shape[axis]
    cut = max(1, round(n * keep))
    index = [slice(None)] * 3
    index[axis] = slice(cut, None)
    spectrum[tuple(index)] = 0
    return torch.fft.irfft(spectrum, n=u.shape[axis], dim=axis).to(u.dtype)


def randomise_contrast(
    images: torch.Tensor,
    mask: torch.Tensor,
    slots: Sequence[Slot],
    generator: torch.Generator,
    params: SynthParams | None = None,
    voxel_mm: float = CordFrameConfig.voxel_mm,
) -> torch.Tensor:
    """Random curve, bias field, thick slices and Rician noise per image, then z-scored again.

    Each step is drawn per image with its own probability; an image that draws none is returned
    as it came.

    Parameters
    ----------
    images : Tensor, shape (B, S, z, x, y)
        z-scored crops, zero outside ``mask``.
    mask : Tensor of bool, shape (B, S, z, x, y)
        Field of view of each image.
    slots : sequence of Slot
        The model slot of each of the ``S`` images.
    generator : torch.Generator
        On the images' device.
    params : SynthParams, optional
    voxel_mm : float
        Voxel size of the cord frame.

    Returns
    -------
    Tensor, shape (B, S, z, x, y)
        The changed images z-scored over ``mask`` again, zero outside.
    """
    params = params or SynthParams()
    n_slots = images.shape[1]
    x = images.reshape(-1, *images.shape[2:]).clone()
    m = mask.reshape(x.shape)
    n = x.shape[0]
    present = m.flatten(1).any(1)
    slot_of = [Slot(slots[i % n_slots]) for i in range(n)]

    remap = chance(generator, (n,), params.p_remap) & present
    curves = random_curves(generator, n, params)
    bias = chance(generator, (n,), params.p_bias) & present
    bias_std = uniform(generator, (n,), 0.0, params.bias_std)
    thick = chance(generator, (n,), params.p_resolution) & present
    thickness = torch.stack(
        [uniform(generator, (1,), *params.thickness(slot))[0] for slot in slot_of]
    )
    noisy = chance(generator, (n,), params.p_noise) & present
    noise_std = uniform(generator, (n,), 0.0, params.noise_std)
    clustered = chance(generator, (n,), params.p_clusters) & present
    n_clusters = torch.randint(
        params.n_clusters[0], params.n_clusters[1] + 1, (n,), generator=generator,
        device=generator.device,
    )  # fmt: skip
    cluster_order = chance(generator, (n,), params.p_cluster_order)
    ringing = chance(generator, (n,), params.p_gibbs) & present
    ring_axis = torch.randint(0, 3, (n,), generator=generator, device=generator.device)
    ring_keep = uniform(generator, (n,), *params.gibbs_keep)
    rows = (remap | bias | thick | noisy | ringing | clustered).nonzero().squeeze(1)
    if len(rows) == 0:
        return images

    low, high = Z_RANGE
    u = ((x[rows] - low) / (high - low)).clamp(0, 1)
    u = torch.where(remap[rows, None, None, None], apply_curves(u, curves[rows]), u)
    for k, row in enumerate(rows.tolist()):
        if bool(clustered[row]):
            u[k] = resynthesise_clusters(
                u[k], m[row], int(n_clusters[row]), generator, ordered=bool(cluster_order[row])
            )
    field = bias_fields(
        generator,
        torch.where(bias[rows], bias_std[rows], 0.0),
        tuple(x.shape[1:]),
        params.bias_grid,
    )
    u = torch.where(m[rows], u * field, torch.zeros_like(u))
    for k, row in enumerate(rows.tolist()):
        factor = float(thickness[row]) / voxel_mm
        if bool(thick[row]) and factor > 1:
            u[k] = thick_slices(u[k], SLICE_AXES[slot_of[row].spec.acquisition], factor)
        if bool(ringing[row]):
            u[k] = gibbs_ringing(u[k], int(ring_axis[row]), float(ring_keep[row]))
    std = torch.where(noisy[rows], noise_std[rows], 0.0)[:, None, None, None]
    real = torch.randn(u.shape, generator=generator, device=u.device, dtype=u.dtype)
    imaginary = torch.randn(u.shape, generator=generator, device=u.device, dtype=u.dtype)
    u = torch.sqrt((u + std * real) ** 2 + (std * imaginary) ** 2)
    x[rows] = renormalise(u, m[rows])
    return x.reshape(images.shape)
