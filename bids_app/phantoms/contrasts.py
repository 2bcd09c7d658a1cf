"""What each sequence makes of each tissue: intensities, lesion conspicuity, bias field, noise.

Intensities are relative (CSF on T2w = 1) and become scanner-like integers through ``scale``.
Orderings follow the usual clinical appearance: on T2w and STIR, CSF is bright and the cord dark;
STIR suppresses fat and marrow; T2*w shows the butterfly grey matter brighter than white matter;
on T1w and the MP2RAGE uniform image (UNIT1) CSF is dark and the cord brighter. Lesions are bright
on T2w, STIR and T2*w, iso- to hypo-intense on T1w and UNIT1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.phantoms.tissues import Tissue


@dataclass(frozen=True)
class Contrast:
    """How one sequence renders the phantom.

    Attributes
    ----------
    tissue : dict of Tissue to float
        Relative intensity of each tissue class.
    lesion : float
        Relative intensity of a fully conspicuous lesion.
    conspicuity : (float, float)
        A lesion of strength ``s`` (0..1) shows at ``c0 + c1 * s`` of the way from white matter
        to ``lesion``.
    scale : float
        Integer value of relative intensity 1.
    snr : float
        ``scale / noise sigma``.
    bias : float
        Amplitude of the smooth multiplicative bias field (log units); 0 for none.
    """

    tissue: dict[Tissue, float]
    lesion: float
    conspicuity: tuple[float, float]
    scale: float
    snr: float
    bias: float

    def table(self) -> NDArray[np.float32]:
        """Relative intensities indexed by tissue value, shape ``(len(Tissue),)``."""
        return np.array([self.tissue.get(t, 0.0) for t in Tissue], dtype=np.float32)

    def lesion_values(self, strengths: NDArray[np.floating]) -> NDArray[np.float32]:
        """Relative intensity of lesions of the given strengths, shape ``(L,)``."""
        c = np.clip(self.conspicuity[0] + self.conspicuity[1] * np.asarray(strengths), 0, 1)
        wm = self.tissue[Tissue.WM]
        return (wm + c * (self.lesion - wm)).astype(np.float32)


#: Where grey matter sits between white matter (0) and a conspicuous lesion (1), per image: from a
#: little darker than white matter to close to a lesion, so that a bright cord centre is never a
#: cue for a lesion (real T2*w shows a bright butterfly, real T2w often a faint one).
GM_POSITION = (-0.3, 0.7)
#: Multiplicative spread of white matter and CSF per image, and of the signal-to-noise ratio
#: (about 1.5 T to 7 T).
WM_SPREAD = (0.9, 1.1)
CSF_SPREAD = (0.85, 1.2)
SNR_SPREAD = (0.5, 2.0)


def vary_contrast(contrast: Contrast, rng: np.random.Generator) -> Contrast:
    """The same sequence on another scanner and protocol: grey matter, white matter, CSF and
    noise drawn anew for one image.

    Examples
    --------
    >>> from bids_app.phantoms.sequences import SEQUENCES
    >>> t2sag = SEQUENCES['T2Sag'].contrast
    >>> vary_contrast(t2sag, np.random.default_rng(0)).tissue[Tissue.GM] != t2sag.tissue[Tissue.GM]
    True
    """
    tissue = dict(contrast.tissue)
    tissue[Tissue.WM] *= float(rng.uniform(*WM_SPREAD))
    tissue[Tissue.CSF] *= float(rng.uniform(*CSF_SPREAD))
    position = float(rng.uniform(*GM_POSITION))
    tissue[Tissue.GM] = tissue[Tissue.WM] + position * (contrast.lesion - tissue[Tissue.WM])
    return replace(contrast, tissue=tissue, snr=contrast.snr * float(rng.uniform(*SNR_SPREAD)))


#: Standard deviation of the multiplicative tissue texture (fibres, fascia, trabecular bone).
TEXTURE: dict[Tissue, float] = {
    Tissue.FAT: 0.08, Tissue.MUSCLE: 0.14, Tissue.VISCERA: 0.15, Tissue.LUNG: 0.3,
    Tissue.MARROW: 0.16, Tissue.DISC: 0.08, Tissue.BRAIN: 0.06, Tissue.CSF: 0.02,
    Tissue.WM: 0.02, Tissue.GM: 0.02, Tissue.BRAINSTEM: 0.04,
}  # fmt: skip
#: Correlation length of the texture, in mm.
TEXTURE_MM = 1.2


def texture_amplitude() -> NDArray[np.float32]:
    """:data:`TEXTURE` indexed by tissue value, shape ``(len(Tissue),)``."""
    return np.array([TEXTURE.get(t, 0.0) for t in Tissue], dtype=np.float32)


def bias_field(
    xyz_mm: NDArray[np.floating], y_back_mm: float, amplitude: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Smooth multiplicative receive field: a random quadratic in log space times a spine-coil
    profile that is strongest at the back.

    Parameters
    ----------
    xyz_mm : (N, 3) float array
        Body coordinates (mm) of the voxel centres.
    y_back_mm : float
        Body y (mm) of the posterior skin over the cord, where the spine coil sits.
    amplitude : float
        Standard deviation of the log-field coefficients; 0 gives a field of ones.
    rng : numpy.random.Generator
        Source of the field's coefficients.

    Returns
    -------
    (N,) float32 array
        The multiplicative field (mean about 1).
    """
    if amplitude == 0:
        return np.ones(len(xyz_mm), dtype=np.float32)
    q = (np.asarray(xyz_mm, dtype=np.float32) - np.mean(xyz_mm, axis=0)) / 150.0
    terms = [q[:, 0], q[:, 1], q[:, 2], q[:, 0] ** 2, q[:, 2] ** 2, q[:, 0] * q[:, 2]]
    log_field = sum(
        c * t for c, t in zip(rng.normal(0, amplitude, len(terms)), terms, strict=True)
    )
    depth = np.clip(np.asarray(xyz_mm[:, 1], dtype=np.float32) - y_back_mm, 0, None)
    coil = 0.75 + 0.5 * np.exp(-depth / 70.0)
    return (np.exp(log_field) * coil).astype(np.float32)


def add_rician_noise(
    signal: NDArray[np.floating], sigma: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma``."""
    real = signal + rng.normal(0.0, sigma, signal.shape)
    imag = rng.normal(0.0, sigma, signal.shape)
    return np.hypot(real, imag).astype(np.float32)


#: Chance that an image shows CSF flow voids, their correlation length (mm), the share of CSF
#: they cover and how much signal they keep.
P_FLOW_VOIDS = 0.5
FLOW_VOID_MM = 2.5
FLOW_VOID_COVER = (0.05, 0.3)
FLOW_VOID_SIGNAL = (0.15, 0.6)


def flow_voids(
    csf: NDArray[np.bool_],
    shape: tuple[int, int, int],
    voxel_mm: NDArray[np.floating],
    rng: np.random.Generator,
) -> NDArray[np.float32]:
    """Multiplicative field of CSF flow voids (pulsating CSF loses signal on spin echo), or ones.

    Parameters
    ----------
    csf : (N,) bool
        CSF voxels, flattened from ``shape``.
    shape : (int, int, int)
    voxel_mm : (3,) float
    rng : numpy.random.Generator

    Returns
    -------
    (N,) float32
        1 outside the voids, a drawn fraction inside them.
    """
    if rng.random() >= P_FLOW_VOIDS or not csf.any():
        return np.ones(csf.shape, np.float32)
    field = ndimage.gaussian_filter(
        rng.standard_normal(shape, dtype=np.float32), FLOW_VOID_MM / np.asarray(voxel_mm)
    ).ravel()
    cut = np.quantile(field[csf], 1.0 - rng.uniform(*FLOW_VOID_COVER))
    out = np.ones(csf.shape, np.float32)
    out[csf & (field > cut)] = rng.uniform(*FLOW_VOID_SIGNAL)
    return out
