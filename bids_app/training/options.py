"""Training settings as data: :class:`TrainConfig`, its command-line options and JSON form.

The paper's optimisation (Walsh et al., MICCAI 2024, trained with nnU-Net's defaults) appears here
once, as dataclass defaults: SGD with Nesterov momentum 0.99, learning rate 0.01 with polynomial
decay (exponent 0.9), weight decay 3e-5, patches of (48, 48, 320) cord-frame voxels, one third of
the patches forced to contain a lesion, 1000 epochs of 250 iterations.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bids_app.cli.types import positive_int
from bids_app.config import CordFrameConfig
from bids_app.errors import UsageError
from bids_app.model.config import VARIANTS, WIDTH_PRESETS, ModelConfig, variant_config
from bids_app.slots import SLOTS, Slot

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UsageError(f'unknown training config keys {sorted(unknown)}')
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

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainConfig:
        """Build from the options of :func:`add_training_arguments` (and the main ``--device``)."""
        val_subjects = read_subject_list(args.val_subjects) if args.val_subjects else ()
        crop = CordFrameConfig().crop_size
        return cls(
            variant=args.variant,
            slots=tuple(args.slots) if args.slots else None,
            widths=args.widths,
            patch_size=(crop, crop, args.patch_z),
            batch_size=args.batch_size,
            iterations=args.iterations,
            val_interval=args.val_interval,
            log_interval=args.log_interval,
            lr=args.lr,
            seed=args.seed,
            split_seed=args.split_seed,
            val_fraction=args.val_fraction,
            val_subjects=val_subjects,
            device=getattr(args, 'device', 'auto'),
            bf16=args.bf16,
            num_workers=args.num_workers,
            oversample=args.oversample,
            augmentation=args.augmentation,
            init_encoder=str(args.init_encoder) if args.init_encoder else None,
            init_weights=str(args.init_weights) if args.init_weights else None,
        )


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


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f'{value} must lie between 0 and 1')
    return number


def add_training_arguments(group: argparse._ActionsContainer) -> None:
    """Add the ``train`` options to a parser or argument group (``--device`` is the main one's)."""
    defaults = TrainConfig()
    group.add_argument(
        '--variant', choices=sorted(VARIANTS), default=defaults.variant, help='model variant'
    )
    group.add_argument(
        '--slots',
        nargs='+',
        choices=[str(s) for s in SLOTS],
        metavar='SLOT',
        help='model slots (combination: required; default: every slot some subject has)',
    )
    group.add_argument(
        '--widths', choices=sorted(WIDTH_PRESETS), default=defaults.widths, help='channel widths'
    )
    group.add_argument(
        '--patch-z',
        type=positive_int,
        default=defaults.patch_size[2],
        help='patch length along the cord in 0.5 mm slices, a multiple of 16 (paper: 320; '
        'e.g. 64 on a CPU)',
    )
    group.add_argument('--batch-size', type=positive_int, default=defaults.batch_size)
    group.add_argument('--iterations', type=positive_int, default=defaults.iterations)
    group.add_argument(
        '--val-interval',
        type=positive_int,
        default=defaults.val_interval,
        help='validate and checkpoint every N iterations',
    )
    group.add_argument(
        '--log-interval',
        type=positive_int,
        default=defaults.log_interval,
        help='log the mean loss every N iterations',
    )
    group.add_argument('--lr', type=float, default=defaults.lr, help='initial learning rate')
    group.add_argument('--seed', type=int, default=defaults.seed, help='training seed')
    group.add_argument(
        '--split-seed', type=int, default=defaults.split_seed, help='seed of the subject split'
    )
    group.add_argument(
        '--val-fraction',
        type=_fraction,
        default=defaults.val_fraction,
        help='fraction of subjects held out for validation',
    )
    group.add_argument(
        '--val-subjects',
        type=Path,
        metavar='TSV',
        help='TSV with a participant_id column: the validation subjects (replaces the fraction)',
    )
    group.add_argument(
        '--bf16',
        action='store_true',
        help='bfloat16 autocast for training and inference, on a GPU or a CPU with '
        'AVX512-BF16/AMX (float32 elsewhere, with a warning)',
    )
    group.add_argument(
        '--num-workers',
        type=int,
        default=defaults.num_workers,
        help='data-loading worker processes',
    )
    group.add_argument(
        '--oversample',
        type=_fraction,
        default=defaults.oversample,
        help='probability that a patch is centred on a lesion',
    )
    group.add_argument(
        '--augmentation',
        choices=AUGMENTATIONS,
        default=defaults.augmentation,
        help="nnU-Net's transforms ('standard'), plus contrast/resolution randomisation "
        "('synth', for training on phantoms), or 'none'",
    )
    group.add_argument(
        '--init-encoder',
        type=Path,
        metavar='MODEL_DIR',
        help='model folder whose encoders initialise ours (frozen-encoder: a trained baseline)',
    )
    group.add_argument(
        '--init-weights',
        type=Path,
        metavar='MODEL_DIR',
        help='fine-tune: start from the weights of this model folder (same slots and widths), '
        'e.g. the shipped model, instead of a random initialisation',
    )
    group.add_argument(
        '--resume', action='store_true', help='continue the run in the model folder'
    )
    group.add_argument(
        '--stop-after',
        type=positive_int,
        metavar='ITER',
        help='checkpoint and stop at this iteration (resume later with --resume)',
    )
    group.add_argument(
        '--time-limit',
        type=float,
        metavar='MIN',
        help='checkpoint and stop after this many minutes of training',
    )
