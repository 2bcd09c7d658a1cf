"""Lesion probabilities in the cord frame: :class:`LesionPredictor` (weights, imputation, TTA).

The sliding window is :mod:`bids_app.sliding_window`, the device helpers :mod:`bids_app.device`.

Arrays are cord-frame crops ``(48, 48, Z)``, axes ``(x, y, z)`` = nibabel ``LAS``, 0.5 mm voxels
(SCT RPI). Inside, tensors follow the network layout ``(B, C, z, x, y)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from bids_app.device import (
    Device,
    Precision,
    bfloat16_supported,
    inference_layout,
    resolve_device,
    torch_threads,
)
from bids_app.errors import InputImageError, ModelCardError
from bids_app.model.card import load_model_dir
from bids_app.model.layout import from_network_layout, to_network_layout
from bids_app.model.network import FoldedUNet, MultiSequenceUNet
from bids_app.postprocess import resolve_tta
from bids_app.sliding_window import mirror_averaged, normalise_intensity, sliding_window
from bids_app.slots import Slot

logger = logging.getLogger(__name__)


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
        tta: bool | None = None,
        precision: Precision = 'float32',
        n_threads: int | None = None,
        batch_size: int = 1,
    ) -> LesionPredictor:
        """Load and check a model folder (:func:`~bids_app.model.card.load_model_dir`).

        ``tta`` None: the card's choice, else off (:func:`~bids_app.postprocess.resolve_tta`).
        """
        torch_device = resolve_device(device)
        if precision == 'bfloat16' and not bfloat16_supported(torch_device):
            logger.warning('bfloat16 is not supported natively on %s; using float32', torch_device)
            precision = 'float32'
        model, card = load_model_dir(Path(path), torch_device)
        return cls(
            inference_layout(model),
            card,
            torch_device,
            resolve_tta(card, tta),
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
        if self.model.config.reads_coverage:
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

        elif self.model.config.fuse_skips:
            folded, n_given = self._folded_for(given), len(given)

            def run(window: torch.Tensor) -> torch.Tensor:
                return folded(window[:, :n_given], window[:, n_given:] > 0.5)

        else:
            run = self._folded_for(given)
        if not self.tta:
            return run
        return mirror_averaged(run)

    def _folded_for(self, given: tuple[Slot, ...]) -> FoldedUNet:
        if given not in self._folded:
            self._folded[given] = inference_layout(FoldedUNet(self.model, given))
        return self._folded[given]

    def _coverage_channels(
        self, given: tuple[Slot, ...], coverage: Mapping[Slot, NDArray], shape: tuple[int, ...]
    ) -> torch.Tensor:
        masks = [
            np.broadcast_to(np.asarray(coverage.get(s, True), bool), shape).astype(np.float32)
            for s in given
        ]
        return torch.from_numpy(to_network_layout(np.stack(masks))).to(self.device)
