"""The network's configuration as data: a frozen dataclass, width presets, the paper's variants.

Every variant of Walsh et al. (MICCAI 2024) is a value of :class:`ModelConfig`, never a subclass.
Patch sizes and strides are given along the cord frame's axes ``(x, y, z)`` (nibabel ``LAS``,
0.5 mm); the network itself runs with z first (see :mod:`bids_app.model.layout`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bids_app.config import check_known_keys
from bids_app.errors import UsageError
from bids_app.slots import SLOTS, Slot

Imputation = Literal['mean', 'none', 'coverage']

#: Channel widths per resolution level. ``paper``: nnU-Net's, as in the paper (75.1 M parameters
#: with six encoders, 342 / 875 GFLOP per 48 x 48 x 320 patch with 1 / 6 sequences). ``cpu``: half
#: of every width (18.8 M parameters, 37.6 MB as float16, 86 / 221 GFLOP per patch: 4.0x fewer),
#: measured with ``benchmarks/model.py``.
WIDTH_PRESETS: dict[str, tuple[int, ...]] = {
    'paper': (32, 64, 128, 256, 320),
    'cpu': (16, 32, 64, 128, 160),
}

#: Downsampling of each resolution level along ``(x, y, z)``: four downsamplings, so the bottleneck
#: is 8x coarser in-plane and 16x coarser along z (4 x 4 x 8 mm at 0.5 mm).
PAPER_STRIDES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 1),
    (2, 2, 2),
    (2, 2, 2),
    (2, 2, 2),
    (1, 1, 2),
)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the network's shape and its training-time behaviour.

    Parameters
    ----------
    slots : tuple of Slot
        Sequence slots the model has an encoder for, in :data:`bids_app.slots.SLOTS` order;
        the first is always ``T2Sag`` (the skip connections come from its encoder).
    widths : tuple of int
        Channels per resolution level, finest first; the last is the bottleneck width.
    strides : tuple of (int, int, int)
        Downsampling of each level relative to the previous one, along ``(x, y, z)``.
    patch_size : (int, int, int)
        Training and inference patch along ``(x, y, z)`` in cord-frame voxels (0.5 mm).
    imputation : {'mean', 'none', 'coverage'}
        ``'mean'``: a missing slot's bottleneck features are the mean of the present slots'
        (equation 1 of the paper). ``'none'``: every slot must be present (baseline and fixed
        combinations). ``'coverage'``: mean imputation per bottleneck voxel, also where a present
        slot's field of view ends (beyond the paper).
    freeze_encoders : tuple of Slot
        Encoders whose weights get no gradient (the frozen-encoder variant freezes ``T2Sag``).
    distill_weight : float
        Weight of the L1 distillation between T2Sag's and every other present slot's bottleneck
        features (equation 2; 0.1 in the paper's distillation variant, else 0).
    latent_noise : bool
        During training, add noise drawn 25 % from Logistic(0, 0.002) and 75 % from
        Normal(0, 0.4) to the bottleneck features, then a LeakyReLU.
    n_classes : int
        Output classes (background, lesion).
    deep_supervision : bool
        During training, also return the logits of the second-finest decoder level.
    fuse_skips : bool
        Mix every present slot's encoder features into the decoder's skip connections (beyond
        the paper, whose skips come from T2Sag alone): at each level the skip is
        ``t2sag + gate * (mean of the present slots' features - t2sag)``, one learnt gate per
        channel, initialised at 0 (the paper's skips), so that a lesion faint on T2Sag but clear
        on another sequence can be located at full resolution, not only from the bottleneck.
    """

    slots: tuple[Slot, ...] = SLOTS
    widths: tuple[int, ...] = WIDTH_PRESETS['paper']
    strides: tuple[tuple[int, int, int], ...] = PAPER_STRIDES
    patch_size: tuple[int, int, int] = (48, 48, 320)
    imputation: Imputation = 'mean'
    freeze_encoders: tuple[Slot, ...] = ()
    distill_weight: float = 0.0
    latent_noise: bool = False
    n_classes: int = 2
    deep_supervision: bool = True
    fuse_skips: bool = False

    def __post_init__(self) -> None:
        slots = _slots(self.slots, 'slots')
        object.__setattr__(self, 'slots', slots)
        frozen = _slots(self.freeze_encoders, 'freeze_encoders')
        object.__setattr__(self, 'freeze_encoders', frozen)
        object.__setattr__(self, 'widths', _whole_numbers(self.widths, 'widths'))
        if not isinstance(self.strides, list | tuple):
            raise UsageError(f'strides {self.strides!r} must be a list of [x, y, z] steps')
        strides = tuple(_whole_numbers(s, 'strides') for s in self.strides)
        object.__setattr__(self, 'strides', strides)
        object.__setattr__(self, 'patch_size', _whole_numbers(self.patch_size, 'patch_size'))
        if not slots or slots[0] != Slot.T2Sag:
            raise UsageError(f'model slots {list(slots)} must start with T2Sag; add T2Sag first')
        if list(slots) != sorted(set(slots), key=SLOTS.index):
            raise UsageError(f'model slots {list(slots)} must be unique and in the order {SLOTS}')
        if self.imputation not in ('mean', 'none', 'coverage'):
            raise UsageError(
                f"imputation {self.imputation!r} unknown; use 'mean', 'none' or 'coverage'"
            )
        if not set(self.freeze_encoders) <= set(slots):
            raise UsageError(f'freeze_encoders {self.freeze_encoders} names slots the model lacks')
        if len(self.widths) != len(self.strides) or len(self.widths) < 2:
            raise UsageError('widths and strides must have the same length (at least 2 levels)')
        total = self.total_stride
        for size, step in zip(self.patch_size, total, strict=True):
            if size % step:
                raise UsageError(
                    f'patch size {self.patch_size} must be divisible by the total stride {total}'
                )

    @property
    def reads_coverage(self) -> bool:
        """Whether the network uses the slots' fields of view (coverage imputation at the
        bottleneck, skip fusion at every level); the others ignore them."""
        return self.imputation == 'coverage' or self.fuse_skips

    @property
    def total_stride(self) -> tuple[int, int, int]:
        """Bottleneck downsampling along ``(x, y, z)``, e.g. ``(8, 8, 16)`` for the paper."""
        return tuple(math.prod(s[axis] for s in self.strides) for axis in range(3))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (slots as strings, tuples as lists)."""
        out = dataclasses.asdict(self)
        out['slots'] = [str(s) for s in self.slots]
        out['freeze_encoders'] = [str(s) for s in self.freeze_encoders]
        out['widths'] = list(self.widths)
        out['strides'] = [list(s) for s in self.strides]
        out['patch_size'] = list(self.patch_size)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (the card is from elsewhere)."""
        check_known_keys(cls, data, 'model config')
        return cls(**dict(data))


def _slots(values: object, name: str) -> tuple[Slot, ...]:
    """Slot names as :class:`Slot`; ``UsageError`` naming the unknown ones.

    >>> _slots(['T2Sag', 'FLAIR'], 'slots')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bids_app.errors.UsageError: slots ['FLAIR'] unknown; use T2Sag, STIR, T2starAx, T2Ax, ...
    """
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise UsageError(f'{name} {values!r} must be a list of slot names, e.g. ["T2Sag"]')
    known = [slot.value for slot in SLOTS]
    unknown = [v for v in values if v not in known]
    if unknown:
        raise UsageError(f'{name} {unknown} unknown; use {", ".join(known)}')
    return tuple(Slot(v) for v in values)


def _whole_numbers(values: object, name: str) -> tuple[int, ...]:
    """Positive whole numbers (``32`` or ``32.0``); ``UsageError`` for anything else.

    >>> _whole_numbers([4, 8.0], 'widths')
    (4, 8)
    >>> _whole_numbers('abc', 'widths')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bids_app.errors.UsageError: widths 'abc' must be a list of positive whole numbers, e.g. ...
    """
    numbers = values if isinstance(values, list | tuple) else None
    if numbers is None or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v == int(v) and v > 0
        for v in numbers
    ):
        raise UsageError(
            f'{name} {values!r} must be a list of positive whole numbers, e.g. [32, 64]'
        )
    return tuple(int(v) for v in numbers)


@dataclass(frozen=True)
class Variant:
    """A named training set-up of the paper: the :class:`ModelConfig` fields it sets."""

    description: str
    fields: Mapping[str, Any] = field(default_factory=dict)


#: The paper's variants, and beyond it coverage-aware imputation and skip fusion, as config values.
VARIANTS: dict[str, Variant] = {
    'baseline': Variant(
        'T2Sag only, a single encoder', {'slots': (Slot.T2Sag,), 'imputation': 'none'}
    ),
    'combination': Variant('a fixed set of slots, all required', {'imputation': 'none'}),
    'mean-imputation': Variant('missing slots get the mean bottleneck features', {}),
    'frozen-encoder': Variant(
        'mean imputation, T2Sag encoder frozen from a baseline',
        {'freeze_encoders': (Slot.T2Sag,)},
    ),
    'distillation': Variant('mean imputation + L1 distillation to T2Sag', {'distill_weight': 0.1}),
    'feature-augmentation': Variant(
        'T2Sag only, noise on the bottleneck features',
        {'slots': (Slot.T2Sag,), 'imputation': 'none', 'latent_noise': True},
    ),
    'coverage-imputation': Variant(
        'mean imputation per bottleneck voxel, following each field of view',
        {'imputation': 'coverage'},
    ),
    'skip-fusion': Variant(
        'mean imputation, every present slot also mixed into the skip connections',
        {'fuse_skips': True},
    ),
}


def variant_config(
    variant: str,
    *,
    widths: str | Sequence[int] = 'cpu',
    slots: Sequence[Slot | str] | None = None,
    patch_size: tuple[int, int, int] = (48, 48, 320),
) -> ModelConfig:
    """Build the :class:`ModelConfig` of one of the paper's variants.

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    widths : str or sequence of int
        A key of :data:`WIDTH_PRESETS` or explicit channel widths.
    slots : sequence of Slot, optional
        Slots of the model; required for ``'combination'``, refused for the T2Sag-only variants;
        default every slot.
    patch_size : (int, int, int)
        Patch along ``(x, y, z)`` in cord-frame voxels.

    Examples
    --------
    >>> variant_config('distillation', widths='paper').distill_weight
    0.1
    >>> [str(s) for s in variant_config('combination', slots=['T2Sag', 'STIR']).slots]
    ['T2Sag', 'STIR']
    """
    if variant not in VARIANTS:
        raise UsageError(f'unknown variant {variant!r}; choose one of {sorted(VARIANTS)}')
    fields = dict(VARIANTS[variant].fields)
    if variant == 'combination' and slots is None:
        raise UsageError("variant 'combination' needs its slots, e.g. --slots T2Sag STIR")
    if slots is not None:
        if 'slots' in fields and tuple(Slot(s) for s in slots) != fields['slots']:
            raise UsageError(f'variant {variant!r} uses T2Sag only; drop --slots')
        fields['slots'] = tuple(Slot(s) for s in slots)
    width_values = WIDTH_PRESETS[widths] if isinstance(widths, str) else tuple(widths)
    return ModelConfig(widths=width_values, patch_size=patch_size, **fields)
