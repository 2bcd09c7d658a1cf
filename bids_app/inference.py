"""Lesion probabilities in the cord frame: sliding window along z, imputation, post-processing.

Arrays are cord-frame crops ``(48, 48, Z)``, axes ``(x, y, z)`` = nibabel ``LAS``, 0.5 mm voxels
(SCT RPI). Inside, tensors follow the network layout ``(B, C, z, x, y)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from bids_app.errors import InputImageError, ModelCardError, UsageError
from bids_app.model.card import load_model_dir
from bids_app.model.layout import from_network_layout, to_network_layout
from bids_app.model.network import FoldedUNet, MultiSequenceUNet
from bids_app.slots import Slot

ModuleT = TypeVar('ModuleT', bound=torch.nn.Module)

logger = logging.getLogger(__name__)

Device = Literal['auto', 'cpu', 'cuda'] | str
Precision = Literal['float32', 'bfloat16']


def normalise_intensity(
    crop: NDArray[np.floating], coverage: NDArray[np.bool_] | None = None
) -> NDArray[np.float32]:
    """Z-score a crop over the voxels its image covers; zero outside.

    Parameters
    ----------
    crop : ndarray, shape (X, Y, Z)
        Intensities sampled in the cord frame.
    coverage : ndarray of bool, shape (X, Y, Z) or (Z,), optional
        Voxels (or whole slices) inside the image's field of view; default all.

    Returns
    -------
    ndarray of float32, shape (X, Y, Z)
        Mean 0 and standard deviation 1 over the covered voxels (only centred when constant).

    Examples
    --------
    >>> normalise_intensity(np.array([[[1.0, 3.0, 7.0]]]), np.array([True, True, False]))
    array([[[-1.,  1.,  0.]]], dtype=float32)
    """
    data = np.asarray(crop, dtype=np.float64)
    inside = np.ones(data.shape, bool) if coverage is None else np.asarray(coverage, bool)
    inside = np.broadcast_to(inside, data.shape)
    if not inside.any():
        raise InputImageError('a crop covers no voxel of its image; check its field of view')
    values = data[inside]
    std = values.std()
    out = (data - values.mean()) / (std if std > 0 else 1.0)
    return np.where(inside, out, 0.0).astype(np.float32)


def window_starts(length: int, patch: int, overlap: float = 0.5) -> NDArray[np.int64]:
    """First index of each sliding window along one axis, evenly spread, ends included.

    As nnU-Net: ``ceil((length - patch) / (patch * (1 - overlap))) + 1`` windows, the first at 0
    and the last at ``length - patch``; a single window at 0 when ``length <= patch``.

    Examples
    --------
    >>> window_starts(320, 320).tolist()
    [0]
    >>> window_starts(480, 320).tolist()
    [0, 160]
    >>> window_starts(500, 320).tolist()
    [0, 90, 180]
    """
    if length <= patch:
        return np.zeros(1, dtype=np.int64)
    n = math.ceil((length - patch) / (patch * (1 - overlap))) + 1
    return np.round(np.linspace(0, length - patch, n)).astype(np.int64)


def gaussian_weights(patch: int, sigma_scale: float = 1 / 8) -> NDArray[np.float32]:
    """Blending weights along z: a Gaussian centred on the patch, ``sigma = sigma_scale * patch``.

    Normalised to a maximum of 1 (nnU-Net's default weighting, along the one axis that slides).

    Examples
    --------
    >>> w = gaussian_weights(8, 1 / 8)  # sigma 1 voxel, centre 3.5
    >>> float(w[3]), float(w[4]), round(float(w[0]), 6)  # exp(-(3.5**2 - 0.5**2) / 2) = exp(-6)
    (1.0, 1.0, 0.002479)
    """
    centre = (patch - 1) / 2
    sigma = sigma_scale * patch
    z = np.arange(patch) - centre
    weights = np.exp(-(z**2) / (2 * sigma**2))
    return (weights / weights.max()).astype(np.float32)


def sliding_window(
    forward: Callable[[torch.Tensor], torch.Tensor],
    volume: torch.Tensor,
    patch_z: int,
    *,
    overlap: float = 0.5,
    sigma_scale: float = 1 / 8,
    batch_size: int = 1,
) -> torch.Tensor:
    """Run ``forward`` on overlapping windows along z and blend them with Gaussian weights.

    Parameters
    ----------
    forward : callable
        ``(B, C, patch_z, X, Y) -> (B, K, patch_z, X, Y)`` logits.
    volume : Tensor, shape (C, Z, X, Y)
        Any ``Z``: shorter than ``patch_z`` is zero-padded equally at both ends, then cropped back.
    patch_z : int
        Window length along z.

    Returns
    -------
    Tensor, shape (K, Z, X, Y)
        Weighted mean of the windows' logits at every slice.
    """
    length = volume.shape[1]
    pad = max(patch_z - length, 0)
    if pad:
        volume = torch.nn.functional.pad(volume, (0, 0, 0, 0, pad // 2, pad - pad // 2))
    weight = torch.from_numpy(gaussian_weights(patch_z, sigma_scale)).to(volume.device)
    weight = weight[:, None, None]
    starts = window_starts(volume.shape[1], patch_z, overlap).tolist()
    total = None
    norm = torch.zeros(volume.shape[1], 1, 1, device=volume.device)
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        logits = forward(torch.stack([volume[:, s : s + patch_z] for s in chunk])).float()
        if total is None:
            total = torch.zeros(logits.shape[1], *volume.shape[1:], device=volume.device)
        for s, window in zip(chunk, logits, strict=True):
            total[:, s : s + patch_z] += window * weight
            norm[s : s + patch_z] += weight
    blended = total / norm
    return blended[:, pad // 2 : pad // 2 + length]


def resolve_device(device: Device) -> torch.device:
    """``'auto'`` is CUDA when visible, else the CPU; ``'cuda[:N]'`` must be visible."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {device}: no CUDA device is visible; use --device cpu')
    return torch.device(device)


def bfloat16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs natively: CUDA with bf16, or a CPU with AVX512-BF16/AMX."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` intra-op threads inside the block (``--omp-nthreads``), then restore."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def inference_layout(module: ModuleT) -> ModuleT:
    """Weights in channels-last order on the CPU, so that oneDNN's convolutions read and write
    that order directly instead of converting every activation to and from its blocked format
    (1.26x faster for the paper preset in float32, 1.4x in bfloat16: ``benchmarks/model.py``)."""
    if next(module.parameters()).device.type == 'cpu':
        module.to(memory_format=torch.channels_last_3d)
    return module


@dataclass
class LesionPredictor:
    """Lesion probabilities from whichever slots a subject has.

    Build it with :meth:`from_model_dir`. Test-time augmentation (``tta``) averages the logits of
    the crops and of their left-right mirror: a CNN sees a mirrored cord as a plausible cord, while
    anterior-posterior or superior-inferior flips produce anatomy it never saw.

    Attributes
    ----------
    model : MultiSequenceUNet
    card : dict
        The model card (see :mod:`bids_app.model.card`).
    device : torch.device
    tta : bool
    precision : {'float32', 'bfloat16'}
        ``'bfloat16'`` uses autocast where supported (else float32, with a warning).
    n_threads : int, optional
        Intra-op threads on the CPU (``--omp-nthreads``); default torch's.
    overlap : float
        Overlap of consecutive windows along z (0.5 as nnU-Net).
    batch_size : int
        Windows per forward pass.
    model_dir : Path, optional
        The model folder it was loaded from (named by errors).
    """

    model: MultiSequenceUNet
    card: dict
    device: torch.device
    tta: bool = False
    precision: Precision = 'float32'
    n_threads: int | None = None
    overlap: float = 0.5
    batch_size: int = 1
    model_dir: Path | None = None
    _folded: dict[tuple[Slot, ...], FoldedUNet] = field(default_factory=dict, repr=False)

    @classmethod
    def from_model_dir(
        cls,
        path: Path,
        device: Device = 'auto',
        *,
        tta: bool = False,
        precision: Precision = 'float32',
        n_threads: int | None = None,
        batch_size: int = 1,
    ) -> LesionPredictor:
        """Load and check a model folder (:func:`~bids_app.model.card.load_model_dir`)."""
        torch_device = resolve_device(device)
        if precision == 'bfloat16' and not bfloat16_supported(torch_device):
            logger.warning('bfloat16 is not supported natively on %s; using float32', torch_device)
            precision = 'float32'
        model, card = load_model_dir(Path(path), torch_device)
        return cls(
            inference_layout(model),
            card,
            torch_device,
            tta,
            precision,
            n_threads,
            batch_size=batch_size,
            model_dir=Path(path),
        )

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The slots the model was trained with."""
        return self.model.config.slots

    def predict(
        self,
        crops: Mapping[Slot | str, NDArray[np.floating]],
        coverage: Mapping[Slot | str, NDArray[np.bool_]] | None = None,
    ) -> NDArray[np.float32]:
        """Lesion probability per cord-frame voxel.

        Parameters
        ----------
        crops : mapping of Slot to ndarray, shape (48, 48, Z)
            Raw cord-frame crops (normalised here with :func:`normalise_intensity`); T2Sag is
            required, other slots are optional and missing ones are mean-imputed.
        coverage : mapping of Slot to ndarray of bool, shape (48, 48, Z) or (Z,), optional
            Field of view of each slot in the cord frame; default everything.

        Returns
        -------
        ndarray of float32, shape (48, 48, Z)

        Raises
        ------
        ModelCardError
            When a probability is NaN or infinite (the model is numerically unstable).
        """
        given = self._check_slots(crops)
        coverage = {Slot(k): v for k, v in (coverage or {}).items()}
        shape = np.shape(crops[given[0]])
        images = []
        for slot in given:
            crop = np.asarray(crops[slot])
            if crop.shape != shape or shape[:2] != self.model.config.patch_size[:2]:
                raise InputImageError(
                    f'{slot} crop has shape {crop.shape}; every crop must be '
                    f'{self.model.config.patch_size[:2]} x Z with the T2Sag crop shape {shape}'
                )
            images.append(to_network_layout(normalise_intensity(crop, coverage.get(slot))))
        volume = torch.from_numpy(np.stack(images)).to(self.device)
        forward = self._forward(given)
        if self.model.config.imputation == 'coverage':
            volume = torch.cat([volume, self._coverage_channels(given, coverage, shape)])
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.precision == 'bfloat16'
            else nullcontext()
        )
        with torch_threads(self.n_threads), torch.inference_mode(), autocast:
            logits = sliding_window(
                forward,
                volume,
                self.model.config.patch_size[2],
                overlap=self.overlap,
                batch_size=self.batch_size,
            )
        probability = torch.softmax(logits, dim=0)[1]
        return self._check_finite(from_network_layout(probability.cpu().numpy()))

    def _check_finite(self, probability: NDArray) -> NDArray[np.float32]:
        """``ModelCardError`` naming the model when a probability is NaN or infinite."""
        bad = int(np.count_nonzero(~np.isfinite(probability)))
        if bad:
            where = self.model_dir or f'model {self.card.get("name")!r}'
            advice = 'rerun without --bf16, or ' if self.precision == 'bfloat16' else ''
            raise ModelCardError(
                f'{where}: the model gave {bad:,} NaN or infinite lesion probabilities of '
                f'{probability.size:,} (numerically unstable); {advice}use another model folder'
            )
        return probability.astype(np.float32)

    def _check_slots(self, crops: Mapping[Slot | str, NDArray]) -> tuple[Slot, ...]:
        names = {str(k) for k in crops}
        unknown = names - {str(s) for s in self.slots}
        if unknown:
            raise InputImageError(
                f'model {self.card.get("name")!r} was trained without {sorted(unknown)}; '
                f'it accepts {[str(s) for s in self.slots]} (leave the others out with --ignore)'
            )
        if Slot.T2Sag not in names:
            raise InputImageError('no T2Sag crop: the model needs the sagittal T2w')
        given = tuple(s for s in self.slots if str(s) in names)
        if self.model.config.imputation == 'none' and given != self.slots:
            raise InputImageError(
                f'model {self.card.get("name")!r} needs every one of '
                f'{[str(s) for s in self.slots]}; missing '
                f'{[str(s) for s in self.slots if s not in given]}'
            )
        return given

    def _forward(self, given: tuple[Slot, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
        if self.model.config.imputation == 'coverage':
            rows = [self.slots.index(s) for s in given]
            n_given = len(given)

            def run(window: torch.Tensor) -> torch.Tensor:
                batch = window.shape[0]
                images = window.new_zeros(batch, len(self.slots), *window.shape[2:])
                images[:, rows] = window[:, :n_given]
                presence = torch.zeros(batch, len(self.slots), dtype=torch.bool)
                presence[:, rows] = True
                cover = torch.zeros_like(images, dtype=torch.bool)
                cover[:, rows] = window[:, n_given:] > 0.5
                return self.model(images, presence, cover).logits[0]

        else:
            if given not in self._folded:
                self._folded[given] = inference_layout(FoldedUNet(self.model, given))
            run = self._folded[given]
        if not self.tta:
            return run
        return lambda window: (run(window) + run(window.flip(3)).flip(3)) / 2

    def _coverage_channels(
        self, given: tuple[Slot, ...], coverage: Mapping[Slot, NDArray], shape: tuple[int, ...]
    ) -> torch.Tensor:
        masks = [
            np.broadcast_to(np.asarray(coverage.get(s, True), bool), shape).astype(np.float32)
            for s in given
        ]
        return torch.from_numpy(to_network_layout(np.stack(masks))).to(self.device)
