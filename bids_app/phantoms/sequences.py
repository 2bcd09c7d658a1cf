"""How the phantoms synthesise each sequence slot: one :class:`PhantomSequence` per slot.

What the app itself knows about a slot is in :mod:`bids_app.slots`; this is only what a synthetic
scanner needs: tissue intensities (the contrast), the protocol's grid, its JSON sidecar, how often
a subject has it, and a few physical effects. A slot added to :mod:`bids_app.slots` gets phantom
images from one entry in :data:`SEQUENCES`.

Intensities are relative (CSF on T2w = 1). Orderings follow the usual clinical appearance: on T2w
and STIR, CSF is bright and the cord dark; STIR suppresses fat and marrow; T2*w shows the butterfly
grey matter brighter than white matter; on T1w and the MP2RAGE uniform image (UNIT1) CSF is dark
and the cord brighter. Lesions are bright on T2w, STIR and T2*w, iso- to hypo-intense on T1w and
UNIT1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bids_app.phantoms.contrasts import Contrast
from bids_app.phantoms.tissues import Tissue
from bids_app.slots import Slot

#: The body z range one sequence covers (:func:`bids_app.phantoms.acquisition.plan_acquisitions`):
#: two sagittal slabs down to the conus (one when small); one sagittal slab over the cervical cord;
#: an axial C1-C7 stack in two slabs, or in one; a 3D slab. Axial ones are sometimes a short slab.
Coverage = Literal['sagittal-chunks', 'sagittal', 'axial-chunks', 'axial', '3d']


@dataclass(frozen=True)
class Grid:
    """The nominal grid of one sequence's protocol.

    Attributes
    ----------
    acq : str or None
        Value of the ``acq`` entity (None: no ``acq``).
    suffix : str
        BIDS suffix.
    axcodes : str
        Voxel order (nibabel axis codes).
    voxel_mm : (float, float, float)
        Voxel size along the voxel axes.
    in_plane_fov_mm : (float, float)
        In-plane field of view: full, small.
    n_slices : (int, int) or None
        Left-right slices (full, small); None: axial, the slices cover the z range.
    a_p_shift_mm : float
        Field-of-view centre, anterior of the cord.
    """

    acq: str | None
    suffix: str
    axcodes: str
    voxel_mm: tuple[float, float, float]
    in_plane_fov_mm: tuple[float, float]
    n_slices: tuple[int, int] | None
    a_p_shift_mm: float


@dataclass(frozen=True)
class PhantomSequence:
    """How the phantoms synthesise one slot.

    Attributes
    ----------
    contrast : Contrast
        Tissue and lesion intensities, bias field and noise.
    grid : Grid
        The protocol's grid.
    coverage : Coverage
        Which z range its slabs cover.
    availability : float
        Probability that a subject (session) has it.
    sidecar : dict
        Acquisition parameters for the JSON sidecar.
    always_oblique : bool
        Always tilted (else 40 % of images are).
    flow_voids : bool
        CSF flow voids (fast spin echo).
    noisy_background : bool
        Background noise spread over the full range (the MP2RAGE uniform image).
    """

    contrast: Contrast
    grid: Grid
    coverage: Coverage
    availability: float
    sidecar: dict = field(default_factory=dict)
    always_oblique: bool = False
    flow_voids: bool = False
    noisy_background: bool = False


_T = Tissue
_T2W = {
    _T.FAT: 0.75, _T.MUSCLE: 0.22, _T.VISCERA: 0.35, _T.LUNG: 0.03, _T.CORTEX: 0.05,
    _T.MARROW: 0.45, _T.DISC: 0.65, _T.CSF: 1.0, _T.WM: 0.3, _T.GM: 0.34, _T.BRAIN: 0.45,
    _T.BRAINSTEM: 0.33,
}  # fmt: skip
_STIR = {
    **_T2W, _T.FAT: 0.06, _T.MARROW: 0.1, _T.MUSCLE: 0.25, _T.DISC: 0.7, _T.WM: 0.32, _T.GM: 0.38,
}  # fmt: skip
_T2STAR = {
    _T.FAT: 0.55, _T.MUSCLE: 0.25, _T.VISCERA: 0.3, _T.LUNG: 0.02, _T.CORTEX: 0.03,
    _T.MARROW: 0.2, _T.DISC: 0.5, _T.CSF: 0.82, _T.WM: 0.32, _T.GM: 0.56, _T.BRAIN: 0.5,
    _T.BRAINSTEM: 0.38,
}  # fmt: skip
_T1W = {
    _T.FAT: 1.0, _T.MUSCLE: 0.42, _T.VISCERA: 0.45, _T.LUNG: 0.03, _T.CORTEX: 0.05,
    _T.MARROW: 0.8, _T.DISC: 0.38, _T.CSF: 0.12, _T.WM: 0.7, _T.GM: 0.62, _T.BRAIN: 0.6,
    _T.BRAINSTEM: 0.66,
}  # fmt: skip
_UNIT1 = {
    _T.FAT: 0.85, _T.MUSCLE: 0.45, _T.VISCERA: 0.5, _T.LUNG: 0.1, _T.CORTEX: 0.1,
    _T.MARROW: 0.7, _T.DISC: 0.4, _T.CSF: 0.1, _T.WM: 0.78, _T.GM: 0.6, _T.BRAIN: 0.6,
    _T.BRAINSTEM: 0.72,
}  # fmt: skip

_TSE = {'MRAcquisitionType': '2D', 'ScanningSequence': 'SE', 'SequenceVariant': 'SK',
        'PulseSequenceType': 'Turbo spin echo'}  # fmt: skip

#: Each slot's phantom sequence. Availability is that of Walsh et al. (MICCAI 2024): T2Sag
#: 247/247, STIR 137, T2*Ax 119, T1w 63, T2Ax 52, MP2RAGE 36. Voxel orders all differ, as across
#: a real protocol.
SEQUENCES: dict[Slot, PhantomSequence] = {
    Slot.T2Sag: PhantomSequence(
        Contrast(_T2W, 0.8, (0.0, 1.0), 1000.0, 28.0, 0.25),
        Grid('sag', 'T2w', 'PIR', (0.7, 0.7, 3.0), (150.0, 84.0), (15, 9), 22.0),
        'sagittal-chunks', 1.0,
        {**_TSE, 'RepetitionTime': 3.5, 'EchoTime': 0.1, 'FlipAngle': 150},
        flow_voids=True,
    ),
    Slot.STIR: PhantomSequence(
        Contrast(_STIR, 0.95, (0.65, 0.35), 800.0, 16.0, 0.25),
        Grid('sagstir', 'T2w', 'PSR', (0.8, 0.8, 3.0), (150.0, 84.0), (13, 9), 22.0),
        'sagittal', 0.55,
        {**_TSE, 'ScanningSequence': 'IR', 'PulseSequenceType': 'STIR turbo spin echo',
         'RepetitionTime': 3.8, 'EchoTime': 0.045, 'InversionTime': 0.16, 'FlipAngle': 150},
        flow_voids=True,
    ),
    Slot.T2starAx: PhantomSequence(
        Contrast(_T2STAR, 0.85, (0.6, 0.4), 900.0, 22.0, 0.2),
        Grid('ax', 'T2starw', 'LAS', (0.5, 0.5, 5.0), (128.0, 56.0), None, 10.0),
        'axial-chunks', 0.48,
        {'MRAcquisitionType': '2D', 'ScanningSequence': 'GR', 'SequenceVariant': 'SP',
         'PulseSequenceType': 'Multi-echo gradient echo (echoes combined)',
         'RepetitionTime': 0.65, 'EchoTime': 0.018, 'FlipAngle': 30},
        always_oblique=True,
    ),
    Slot.T2Ax: PhantomSequence(
        Contrast(_T2W, 0.85, (0.4, 0.6), 1000.0, 24.0, 0.2),
        Grid('ax', 'T2w', 'LPI', (0.5, 0.5, 4.0), (140.0, 56.0), None, 12.0),
        'axial', 0.21,
        {**_TSE, 'RepetitionTime': 4.2, 'EchoTime': 0.095, 'FlipAngle': 150},
        flow_voids=True,
    ),
    Slot.T1w: PhantomSequence(
        Contrast(_T1W, 0.4, (0.0, 1.0), 700.0, 30.0, 0.2),
        Grid(None, 'T1w', 'RAS', (1.0, 1.0, 1.0), (150.0, 64.0), (48, 24), 20.0),
        '3d', 0.26,
        {'MRAcquisitionType': '3D', 'ScanningSequence': 'GR_IR', 'SequenceVariant': 'SP_MP',
         'PulseSequenceType': 'MPRAGE', 'RepetitionTime': 2.0, 'EchoTime': 0.0031,
         'InversionTime': 0.9, 'FlipAngle': 9},
    ),
    Slot.MP2RAGE: PhantomSequence(
        Contrast(_UNIT1, 0.45, (0.3, 0.7), 4000.0, 40.0, 0.0),
        Grid(None, 'UNIT1', 'ASL', (1.0, 1.0, 1.0), (150.0, 64.0), (48, 24), 20.0),
        '3d', 0.15,
        {'MRAcquisitionType': '3D', 'ScanningSequence': 'GR_IR', 'SequenceVariant': 'SP_MP',
         'PulseSequenceType': 'MP2RAGE', 'RepetitionTime': 5.0, 'EchoTime': 0.0029,
         'FlipAngle': 4},
        noisy_background=True,
    ),
}  # fmt: skip
