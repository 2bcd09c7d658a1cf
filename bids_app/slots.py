"""The sequence slots of the method: one :class:`SlotSpec` per slot, everything known about it.

A slot is what the paper calls a sequence (Walsh et al., MICCAI 2024): which BIDS files it takes,
how its images are cut, which contrast the centreline tools use, how bright a lesion is on it.
Discovery, pre-processing, the SCT and centreline interfaces, lesion insertion and training read
these facts here; the phantoms keep how to synthesise each slot in
:data:`bids_app.phantoms.sequences.SEQUENCES`. Adding a sequence is one :class:`SlotSpec` in
:data:`BUILT_IN` (plus its phantom sequence, to generate test data for it).

:class:`Slot` behaves like a string enumeration (``Slot.T2Sag``, ``Slot('STIR')``, iteration in
registry order) whose members are the registered specs; :data:`SLOTS` is that order.
:func:`registered` adds a slot for the duration of a ``with`` block (tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from bids_app.headers import Plane

#: How an image's slices are cut: thin sagittal or axial slices, or a 3D (near-isotropic) volume.
Acquisition = Literal['sagittal', 'axial', '3d']


@dataclass(frozen=True)
class SlotSpec:
    """Everything sclesion knows about one sequence slot.

    Attributes
    ----------
    name : str
        The slot's name (``T2Sag``): on the command line, in filter files, model cards and outputs.
    description : str
        What the sequence is, for people (``sagittal T2w``).
    query : mapping
        pybids entities of the default query (CONVENTIONS section 2); ``--bids-filter-file``
        replaces its keys.
    acquisition : {'sagittal', 'axial', '3d'}
        How its slices are cut. Sagittal slabs are registered to each other before fusion; the
        training augmentation thickens the slot's own slice direction; axial images can stand in
        for a missing sagittal T2w when lesions are inserted (``--pseudo-sagittal``).
    planes : frozenset of Plane, or None
        The image planes the slot accepts among what its query returns; None: every image.
    plane_from_acq : bool
        Whether an orientation word of the ``acq`` label (``sag``, ``ax``, ``cor``) is believed
        before the image header (False: the header decides, e.g. a 3D T1w named ``acq-sag``).
    marker : str or None
        A word that alone makes an image this slot's: its suffix (``_STIR``) or part of its
        ``acq`` label (``acq-sagstir``); the other slots refuse an ``acq`` label that holds it.
    sct_contrast : str
        ``sct_deepseg_sc -c`` (SCT has no STIR or MP2RAGE model: the nearest contrast).
    builtin_contrast : {'T2', 'T1'}
        For the built-in centreline detector: CSF brighter (T2) or darker (T1) than the cord.
    lesion_ratio : (float, float)
        Lesion / normal-cord intensity ratio range of a conspicuous inserted lesion.
    """

    name: str
    description: str
    query: Mapping[str, Any]
    acquisition: Acquisition
    planes: frozenset[Plane] | None
    sct_contrast: Literal['t1', 't2', 't2s', 'dwi']
    builtin_contrast: Literal['T2', 'T1']
    lesion_ratio: tuple[float, float]
    plane_from_acq: bool = True
    marker: str | None = None


_SAG, _AX, _ISO = Plane.sagittal, Plane.axial, Plane.isotropic

#: The six slots of the paper, in its order; the first (T2Sag) is the reference every unit needs.
BUILT_IN: tuple[SlotSpec, ...] = (
    SlotSpec('T2Sag', 'sagittal T2w', {'suffix': 'T2w'}, 'sagittal', frozenset({_SAG, _ISO}),
             't2', 'T2', (1.2, 2.0)),
    SlotSpec('STIR', 'sagittal STIR', {'suffix': ['STIR', 'T2w']}, 'sagittal', None,
             't2', 'T2', (1.3, 2.3), marker='stir'),
    SlotSpec('T2starAx', 'axial T2*w', {'suffix': ['T2starw', 'T2star']}, 'axial',
             frozenset({_AX}), 't2s', 'T2', (1.2, 1.9)),
    SlotSpec('T2Ax', 'axial T2w', {'suffix': 'T2w'}, 'axial', frozenset({_AX}),
             't2', 'T2', (1.2, 2.0)),
    SlotSpec('T1w', '3D T1w without contrast agent', {'suffix': 'T1w', 'ceagent': None}, '3d',
             frozenset({_ISO}), 't1', 'T1', (0.6, 1.0), plane_from_acq=False),
    SlotSpec('MP2RAGE', 'MP2RAGE uniform image (UNIT1)', {'suffix': 'UNIT1'}, '3d', None,
             't1', 'T1', (0.55, 0.95)),
)  # fmt: skip

_REGISTRY: dict[str, tuple[Slot, SlotSpec]] = {}


class _SlotType(type):
    """What makes :class:`Slot` look like an enumeration: iteration and membership."""

    def __iter__(cls) -> Iterator[Slot]:
        return iter([slot for slot, _ in _REGISTRY.values()])

    def __len__(cls) -> int:
        return len(_REGISTRY)

    def __contains__(cls, value: object) -> bool:
        return isinstance(value, str) and value in _REGISTRY


class Slot(str, metaclass=_SlotType):
    """A registered sequence slot: a string (its name) that knows its :class:`SlotSpec`.

    Like a string enumeration: ``Slot.T2Sag``, ``Slot('T2Sag') is Slot.T2Sag`` (ValueError for an
    unknown name), ``list(Slot)`` in registry order, ``str(slot) == slot.value == slot.name``.

    >>> Slot('STIR') is Slot.STIR, Slot.STIR == 'STIR', Slot.STIR.spec.acquisition
    (True, True, 'sagittal')
    """

    __slots__ = ()

    def __new__(cls, value: object) -> Slot:
        if isinstance(value, str) and value in _REGISTRY:
            return _REGISTRY[value][0]
        raise ValueError(f'{value!r} is not a valid Slot')

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return str.__str__(self)

    @property
    def spec(self) -> SlotSpec:
        return _REGISTRY[self][1]

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f'<Slot.{self.value}: {self.value!r}>'

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return Slot, (self.value,)

    def __copy__(self) -> Slot:
        return self

    def __deepcopy__(self, memo: object) -> Slot:
        return self

    # The built-in members, for readers and type checkers; set by register().
    T2Sag: Slot
    STIR: Slot
    T2starAx: Slot
    T2Ax: Slot
    T1w: Slot
    MP2RAGE: Slot


class _Registered(Sequence[Slot]):
    """Every registered slot, in registry order; a live, read-only tuple."""

    def __getitem__(self, index):  # type: ignore[override]
        return tuple(Slot)[index]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[Slot]:
        return iter(Slot)

    def __contains__(self, value: object) -> bool:
        return value in Slot

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple | list | _Registered):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


#: The registered slots in order: the paper's six, then any added with :func:`register`.
SLOTS: Sequence[Slot] = _Registered()


def register(spec: SlotSpec) -> Slot:
    """Add a slot after the registered ones; returns its :class:`Slot`.

    Raises
    ------
    ValueError
        If the name is taken or is not a Python identifier (it becomes ``Slot.<name>``).
    """
    if spec.name in _REGISTRY or not spec.name.isidentifier() or hasattr(Slot, spec.name):
        raise ValueError(f'slot name {spec.name!r} is taken or not an identifier')
    slot = str.__new__(Slot, spec.name)
    _REGISTRY[spec.name] = (slot, spec)
    type.__setattr__(Slot, spec.name, slot)
    return slot


def unregister(slot: str) -> None:
    """Remove a slot that :func:`register` added (never one of :data:`BUILT_IN`)."""
    if slot in {spec.name for spec in BUILT_IN}:
        raise ValueError(f'{slot} is built in and cannot be removed')
    del _REGISTRY[str(slot)]
    type.__delattr__(Slot, str(slot))


@contextmanager
def registered(spec: SlotSpec) -> Iterator[Slot]:
    """The slot of ``spec``, registered inside the ``with`` block only."""
    slot = register(spec)
    try:
        yield slot
    finally:
        unregister(slot)


for _spec in BUILT_IN:
    register(_spec)
