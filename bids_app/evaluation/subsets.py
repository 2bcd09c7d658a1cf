"""The rows of Table 1: which sequences the model is given at inference, and on which subjects.

Walsh et al. (MICCAI 2024) Table 1 gives the model T2Sag alone, T2Sag with each other sequence,
and every sequence a subject has. A row is scored on the units that have all of its sequences,
so a T2Sag + X row counts only units with X and is compared with T2Sag alone on exactly those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bids_app.slots import SLOTS, Slot

#: Name of the row that gives every unit all of its sequences.
ALL_AVAILABLE = 'all available'


@dataclass(frozen=True)
class Row:
    """One set of sequences given at inference.

    Attributes
    ----------
    name : str
        ``'T2Sag'``, ``'T2Sag+<X>'`` or ``'all available'``.
    slots : tuple of Slot, or None
        The sequences given; ``None`` for every sequence each unit has (that the model knows).
    """

    name: str
    slots: tuple[Slot, ...] | None

    def slots_for(self, available: Iterable[Slot]) -> tuple[Slot, ...] | None:
        """The sequences this row gives a unit that has ``available``; ``None`` if it lacks one.

        Examples
        --------
        >>> Row('T2Sag+STIR', (Slot.T2Sag, Slot.STIR)).slots_for([Slot.T2Sag]) is None
        True
        >>> [str(s) for s in Row('all available', None).slots_for([Slot.T1w, Slot.T2Sag])]
        ['T2Sag', 'T1w']
        """
        have = set(available)
        if self.slots is None:
            return tuple(s for s in SLOTS if s in have)
        return self.slots if have.issuperset(self.slots) else None


def table_rows(model_slots: Sequence[Slot], unit_slots: Mapping[str, Iterable[Slot]]) -> list[Row]:
    """T2Sag alone, T2Sag with each sequence that the model knows and some unit has, then all.

    Parameters
    ----------
    model_slots : sequence of Slot
        The sequences the model was trained with (T2Sag among them).
    unit_slots : mapping
        Unit name -> the sequences that unit has.

    Returns
    -------
    list of Row
        In slot order; pair rows that no unit could fill are left out.

    Examples
    --------
    >>> rows = table_rows(list(Slot), {'sub-1': [Slot.T2Sag, Slot.T1w]})
    >>> [row.name for row in rows]
    ['T2Sag', 'T2Sag+T1w', 'all available']
    """
    present = {s for slots in unit_slots.values() for s in slots}
    pairs = [
        Row(f'{Slot.T2Sag}+{slot}', (Slot.T2Sag, slot))
        for slot in SLOTS
        if slot is not Slot.T2Sag and slot in model_slots and slot in present
    ]
    return [Row(str(Slot.T2Sag), (Slot.T2Sag,)), *pairs, Row(ALL_AVAILABLE, None)]


def usable_slots(model_slots: Sequence[Slot], available: Iterable[Slot]) -> tuple[Slot, ...]:
    """The sequences of a unit that the model can take, in slot order.

    Examples
    --------
    >>> [str(s) for s in usable_slots([Slot.T2Sag, Slot.STIR], [Slot.STIR, Slot.T1w, Slot.T2Sag])]
    ['T2Sag', 'STIR']
    """
    have = set(available)
    return tuple(s for s in SLOTS if s in have and s in model_slots)
