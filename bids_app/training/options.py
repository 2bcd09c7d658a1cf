"""Training settings as data: :class:`TrainConfig` and its JSON form (flags: ``cli/train_args``).

The paper's optimisation (Walsh et al., MICCAI 2024, trained with nnU-Net's defaults) appears here
once, as dataclass defaults: SGD with Nesterov momentum 0.99, learning rate 0.01 with polynomial
decay (exponent 0.9), weight decay 3e-5, patches of (48, 48, 320) cord-frame voxels, one third of
the patches forced to contain a lesion, 1000 epochs of 250 iterations.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bids_app.config import check_known_keys
from bids_app.errors import UsageError
from bids_app.model.config import VARIANTS, WIDTH_PRESETS, ModelConfig, variant_config
from bids_app.slots import Slot

Augmentation = Literal['none', 'standard', 'synth']
AUGMENTATIONS: tuple[str, ...] = ('none', 'standard', 'synth')

#: Fields that may change when a run is resumed: they change speed or logging, not the model.
RUN_FIELDS = frozenset({'device', 'bf16', 'num_workers', 'val_interval', 'log_interval'})


@dataclass(frozen=True)
class TrainConfig:
    """One training run, built once from the command line (or by a study script) and saved.

    Parameters
    ----------
    variant : str
        A key of :data:`bids_app.model.config.VARIANTS`.
    slots : tuple of Slot, optional
        Model slots. Required for ``combination``; for the mean-imputation variants the default
        is every slot at least one training subject has.
    widths : str or tuple of int
        A key of :data:`~bids_app.model.config.WIDTH_PRESETS` (``'cpu'``, ``'paper'``) or explicit
        channel widths, finest first.
    patch_size : (int, int, int)
        Training patch along the cord frame's ``(x, y, z)`` (nibabel ``LAS``, 0.5 mm voxels);
        ``x`` and ``y`` must equal the crop size, ``z`` a multiple of the bottleneck stride (16).
    batch_size : int
        Patches per iteration and per process.
    iterations : int
        Optimiser steps in total.
    val_interval : int
        Validate (and checkpoint) every this many iterations.
    log_interval : int
        Write the mean training loss to the log every this many iterations.
    lr, lr_exponent : float
        Initial learning rate and polynomial decay exponent: ``lr (1 - i / iterations) ** exp``.
    momentum, weight_decay : float
        SGD with Nesterov momentum.
    seed : int
        Weights initialisation, patch sampling, augmentation, latent noise.
    split_seed : int
        Training / validation split (kept apart from ``seed`` so that several seeds share a split).
    val_fraction : float
        Fraction of subjects held out for validation, in ``[0, 1)``.
    val_subjects : tuple of str
        Subjects to validate on (``sub-`` prefix optional); replaces ``val_fraction``.
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    bf16 : bool
        bfloat16 autocast for the forward pass (CUDA, or CPUs with AVX512-BF16/AMX).
    num_workers : int
        Data-loading worker processes (0: in the training process).
    oversample : float
        Probability that a patch is placed on a reference lesion (nnU-Net forces 1/3).
    lesion_weight : float
        Weight of the lesion-wise Dice ("blob loss") added to cross-entropy + Dice, so that small
        lesions count as much as large ones (0: off, nnU-Net's loss alone).
    view_cut : float
        Share of patches whose field of view is ended at a random slice, as a scan or slab ends
        (:func:`bids_app.training.augment.cut_field_of_view`; 0: off).
    augmentation : {'none', 'standard', 'synth'}
        ``'standard'``: nnU-Net's spatial and intensity transforms; ``'synth'``: also
        SynthSeg-style randomisation of contrast, bias field, resolution and noise.
    init_encoder : str, optional
        Model folder whose encoders initialise the shared slots (required by ``frozen-encoder``).
    init_weights : str, optional
        Model folder whose weights initialise the whole network (fine-tuning: same slots and
        widths); the learning-rate schedule starts afresh.
    """

    variant: str = 'mean-imputation'
    slots: tuple[Slot, ...] | None = None
    widths: str | tuple[int, ...] = 'cpu'
    patch_size: tuple[int, int, int] = (48, 48, 320)
    batch_size: int = 2
    iterations: int = 250_000
    val_interval: int = 250
    log_interval: int = 10
    lr: float = 0.01
    lr_exponent: float = 0.9
    momentum: float = 0.99
    weight_decay: float = 3e-5
    seed: int = 0
    split_seed: int = 0
    val_fraction: float = 0.2
    val_subjects: tuple[str, ...] = ()
    device: str = 'auto'
    bf16: bool = False
    num_workers: int = 2
    oversample: float = 0.33
    lesion_weight: float = 0.0
    view_cut: float = 0.0
    augmentation: Augmentation = 'standard'
    init_encoder: str | None = None
    init_weights: str | None = None

    def __post_init__(self) -> None:
        if self.slots is not None:
            object.__setattr__(self, 'slots', tuple(Slot(s) for s in self.slots))
        if not isinstance(self.widths, str):
            object.__setattr__(self, 'widths', tuple(int(w) for w in self.widths))
        elif self.widths not in WIDTH_PRESETS:
            raise UsageError(f'widths {self.widths!r} unknown; use one of {sorted(WIDTH_PRESETS)}')
        object.__setattr__(self, 'patch_size', tuple(int(v) for v in self.patch_size))
        object.__setattr__(
            self, 'val_subjects', tuple(_subject_label(s) for s in self.val_subjects)
        )
        if self.variant not in VARIANTS:
            raise UsageError(f'unknown variant {self.variant!r}; choose one of {sorted(VARIANTS)}')
        if self.augmentation not in AUGMENTATIONS:
            raise UsageError(f'augmentation {self.augmentation!r}; choose one of {AUGMENTATIONS}')
        for name in ('batch_size', 'iterations', 'val_interval', 'log_interval'):
            if getattr(self, name) < 1:
                raise UsageError(f'{name} must be at least 1, got {getattr(self, name)}')
        if not 0 <= self.val_fraction < 1:
            raise UsageError(f'val fraction {self.val_fraction} must lie in [0, 1)')
        if not 0 <= self.oversample <= 1:
            raise UsageError(f'oversample {self.oversample} must lie in [0, 1]')
        if not 0 <= self.view_cut <= 1:
            raise UsageError(f'view cut {self.view_cut} must lie in [0, 1]')
        if self.lesion_weight < 0:
            raise UsageError(f'lesion weight must be >= 0, got {self.lesion_weight}')
        if self.num_workers < 0:
            raise UsageError(f'num_workers must be >= 0, got {self.num_workers}')
        if self.init_encoder and self.init_weights:
            raise UsageError('give --init-encoder or --init-weights, not both')
        if self.variant == 'frozen-encoder' and not self.init_encoder:
            raise UsageError(
                'variant frozen-encoder needs --init-encoder MODEL_DIR (a trained baseline)'
            )
        self.model_config(self.slots)

    def model_config(self, slots: Sequence[Slot] | None) -> ModelConfig:
        """The network's config for ``slots`` (``None``: the variant's own default slots)."""
        return variant_config(
            self.variant, widths=self.widths, slots=slots, patch_size=self.patch_size
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (slots as strings, tuples as lists)."""
        out = dataclasses.asdict(self)
        out['slots'] = None if self.slots is None else [str(s) for s in self.slots]
        out['widths'] = self.widths if isinstance(self.widths, str) else list(self.widths)
        out['patch_size'] = list(self.patch_size)
        out['val_subjects'] = list(self.val_subjects)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        check_known_keys(cls, data, 'training config')
        values = dict(data)
        if isinstance(values.get('widths'), list):
            values['widths'] = tuple(values['widths'])
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + '\n'

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def differences(self, other: TrainConfig) -> list[str]:
        """Fields outside :data:`RUN_FIELDS` whose values differ, as ``name: ours != theirs``."""
        ours, theirs = self.to_dict(), other.to_dict()
        return [
            f'{key}: {ours[key]!r} != {theirs[key]!r}'
            for key in ours
            if key not in RUN_FIELDS and ours[key] != theirs[key]
        ]


def _subject_label(value: str) -> str:
    """``'01'`` or ``'sub-01'`` -> ``'sub-01'``."""
    value = str(value).strip()
    return value if value.startswith('sub-') else f'sub-{value}'


def read_subject_list(path: Path, purpose: str = 'validation') -> tuple[str, ...]:
    """Subjects from a TSV with a ``participant_id`` column (or a single unnamed column).

    ``purpose`` names the list in the error message (``'validation'``, ``'test'``).

    Raises
    ------
    UsageError
        The file is missing or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f'{purpose} subject list {path} does not exist')
    rows = [r for r in csv.reader(path.read_text().splitlines(), delimiter='\t') if r]
    if rows and 'participant_id' in rows[0]:
        column = rows[0].index('participant_id')
        values = [r[column] for r in rows[1:]]
    else:
        values = [r[0] for r in rows]
    if not values:
        raise UsageError(f'{path} lists no subject; write one participant_id per line')
    return tuple(_subject_label(v) for v in values)


@dataclass(frozen=True)
class TrainStop:
    """When a run stops besides its last iteration, and whether it continues an earlier one.

    Attributes
    ----------
    resume : bool
        Continue the run in the model folder from its checkpoint.
    stop_after : int, optional
        Checkpoint and stop at this iteration.
    time_limit_s : float, optional
        Checkpoint and stop after this many seconds of training.
    """

    resume: bool = False
    stop_after: int | None = None
    time_limit_s: float | None = None
