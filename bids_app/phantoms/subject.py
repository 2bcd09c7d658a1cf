"""One synthetic subject (and session), in memory: images, masks and the truth behind them.

Randomness is organised so that results do not depend on what else is generated: subject ``k``
of a dataset with seed ``s`` comes from ``SeedSequence(s, spawn_key=(k,))``, and inside it the
anatomy, the demographics, the lesions of each session and each session's protocol and images
have their own child sequences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bids_app.phantoms.acquisition import Acquisition, draw_pose, plan_acquisitions
from bids_app.phantoms.anatomy import Anatomy, centerline_xy, draw_anatomy
from bids_app.phantoms.lesions import Lesion, draw_lesions
from bids_app.phantoms.render import render
from bids_app.phantoms.sequences import SEQUENCES
from bids_app.slots import SLOTS, Slot

#: Probability that one sequence of a session was acquired twice (``run-1``, ``run-2``).
REPEAT_PROBABILITY = 0.1
#: Sites of the synthetic cohort and their field strengths (T).
SITES: dict[str, float] = {'siteA': 3.0, 'siteB': 1.5, 'siteC': 3.0}

_ANATOMY, _DEMOGRAPHICS, _LESIONS, _SESSIONS = 0, 1, 2, 3


def _child(seed: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *key))


def subject_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of subject ``index`` (0-based) of a dataset generated with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(index,))


@dataclass(frozen=True)
class Protocol:
    """Which sequences one session has.

    Attributes
    ----------
    slots : tuple of Slot
        Sequences acquired, in :data:`~bids_app.slots.SLOTS` order (always with ``T2Sag``).
    repeated : Slot or None
        A sequence acquired twice (``run-1`` and ``run-2``), if any.
    """

    slots: tuple[Slot, ...]
    repeated: Slot | None


def draw_protocol(
    seed: np.random.SeedSequence, session: int = 1, slots: Iterable[Slot] | None = None
) -> Protocol:
    """Draw the sequences of one session, without synthesising anything.

    Parameters
    ----------
    seed : numpy.random.SeedSequence
        The subject's seed sequence (see :func:`subject_seed`).
    session : int
        1-based session index.
    slots : iterable of Slot, optional
        Force these sequences (``T2Sag`` is always added) instead of drawing them.

    Returns
    -------
    Protocol
    """
    rng = np.random.default_rng(_child(seed, _SESSIONS, session, 0))
    draws = rng.random(len(SLOTS))
    if slots is None:
        chosen = tuple(
            s for s, u in zip(SLOTS, draws, strict=True) if u < SEQUENCES[s].availability
        )
    else:
        wanted = {Slot(s) for s in slots} | {Slot.T2Sag}
        chosen = tuple(s for s in SLOTS if s in wanted)
    others = [s for s in chosen if s != Slot.T2Sag]
    repeated = None
    if rng.random() < REPEAT_PROBABILITY and others:
        repeated = others[int(rng.integers(len(others)))]
    return Protocol(slots=chosen, repeated=repeated)


@dataclass(frozen=True)
class PhantomImage:
    """One synthesised image with its reference masks and the truth about its geometry.

    Attributes
    ----------
    stem : str
        BIDS file name without extension, e.g. ``sub-001_acq-sag_chunk-1_T2w``.
    slot : Slot
        The sequence slot it belongs to.
    data : (I, J, K) int16 array
        The image.
    affine : (4, 4) float64 array
        Voxel ``ijk`` to world ``xyz_mm`` (RAS+).
    cord_mask, lesion_mask : (I, J, K) uint8 arrays
        Reference masks (voxel at least half cord, at least half lesion).
    body_to_world : (4, 4) float64 array
        The patient's pose during this scan (body frame to world mm).
    centerline_world_mm : (M, 3) float64 array
        The true cord centreline in this image's world frame (mm), sorted by increasing z.
    sidecar : dict
        JSON sidecar content.
    """

    stem: str
    slot: Slot
    data: NDArray[np.int16]
    affine: NDArray[np.float64]
    cord_mask: NDArray[np.uint8]
    lesion_mask: NDArray[np.uint8]
    body_to_world: NDArray[np.float64]
    centerline_world_mm: NDArray[np.float64]
    sidecar: dict

    def centerline_at(self, z_mm: NDArray[np.floating]) -> NDArray[np.float64]:
        """True cord centre ``(x, y)`` in world mm at world heights ``z_mm``, shape ``(N, 2)``."""
        c = self.centerline_world_mm
        return np.stack([np.interp(z_mm, c[:, 2], c[:, 0]), np.interp(z_mm, c[:, 2], c[:, 1])], 1)

    def centerline_samples(self, step_mm: float = 0.5) -> NDArray[np.float64]:
        """The true centreline every ``step_mm`` of world z over the image, shape ``(N, 3)``."""
        c = self.centerline_world_mm
        z = np.arange(c[:, 2].min(), c[:, 2].max(), step_mm)
        return np.column_stack([self.centerline_at(z), z])


@dataclass(frozen=True)
class PhantomSubject:
    """One subject at one session.

    Attributes
    ----------
    label : str
        Subject label without ``sub-``.
    session : str or None
        Session label without ``ses-``, or None for a dataset without sessions.
    anatomy : Anatomy
        The body (same at every session).
    lesions : tuple of Lesion
        The lesions present at this session, in the body frame.
    protocol : Protocol
        The sequences acquired.
    images : dict of str to PhantomImage
        The images, by file stem, in acquisition order.
    demographics : dict
        ``age``, ``sex`` and ``site`` (participants.tsv columns).
    """

    label: str
    session: str | None
    anatomy: Anatomy
    lesions: tuple[Lesion, ...]
    protocol: Protocol
    images: dict[str, PhantomImage]
    demographics: dict

    def lesion_centres_world_mm(self, stem: str) -> NDArray[np.float64]:
        """Centres of :attr:`lesions` in image ``stem``'s world frame, shape ``(L, 3)``, mm."""
        body = [np.append(lesion.centre_xyz_mm(self.anatomy), 1.0) for lesion in self.lesions]
        pose = self.images[stem].body_to_world
        return (np.reshape(body, (-1, 4)) @ pose.T)[:, :3]

    def disc_heights_world_mm(self, stem: str) -> dict[str, float]:
        """World z, in image ``stem``'s frame, where each disc's mid-plane meets the cord
        (``'C2/C3'`` -> z): the known answer for vertebral levels."""
        anatomy, pose = self.anatomy, self.images[stem].body_to_world
        heights = {}
        for k, name in enumerate(anatomy.level_names[:-1]):
            if anatomy.level_bone_bottom_mm[k] > anatomy.level_bottom_mm[k] + 0.1:
                z = (anatomy.level_bone_bottom_mm[k] + anatomy.level_bottom_mm[k]) / 2
                x, y = centerline_xy(anatomy, np.array([z]))[0]
                world = pose @ np.array([x, y, z, 1.0])
                heights[f'{name}/{anatomy.level_names[k + 1]}'] = float(world[2])
        return heights


def draw_demographics(seed: np.random.SeedSequence) -> dict:
    """Age (years), sex (M/F) and site of a subject."""
    rng = np.random.default_rng(_child(seed, _DEMOGRAPHICS))
    return {
        'age': int(rng.integers(20, 66)),
        'sex': str(rng.choice(['F', 'M'], p=[0.7, 0.3])),
        'site': str(rng.choice(list(SITES))),
    }


def session_lesions(
    seed: np.random.SeedSequence, anatomy: Anatomy, session: int, *, small: bool
) -> tuple[Lesion, ...]:
    """Lesions at a session: those of the first session, plus up to two new ones per session."""
    top = anatomy.cord_top_mm - 5.0
    cervical = (anatomy.level_z('T1', 'top'), top)
    lesions: tuple[Lesion, ...] = ()
    for k in range(1, session + 1):
        rng = np.random.default_rng(_child(seed, _LESIONS, k))
        if small or rng.random() < 0.7:
            z_range = cervical
        else:
            z_range = (anatomy.conus_mm + 20.0, anatomy.level_z('T1', 'top'))
        lesions = draw_lesions(
            rng, anatomy, z_range, max_count=8 if k == 1 else 2, existing=lesions
        )
    return lesions


def _stem(label: str, session: str | None, acq: Acquisition) -> str:
    parts = [f'sub-{label}']
    if session is not None:
        parts.append(f'ses-{session}')
    parts += [f'{key}-{value}' for key, value in acq.entities.items()]
    return '_'.join([*parts, acq.suffix])


def _centerline_world(anatomy: Anatomy, body_to_world: NDArray[np.float64]) -> NDArray:
    z = np.arange(anatomy.cord_top_mm, anatomy.conus_mm, -0.5)
    pts = np.column_stack([centerline_xy(anatomy, z), z, np.ones_like(z)]) @ body_to_world.T
    return pts[np.argsort(pts[:, 2]), :3]


def make_subject(
    seed: int | np.random.SeedSequence,
    *,
    label: str = '001',
    session: int | None = None,
    small: bool = False,
    slots: Iterable[Slot] | None = None,
) -> PhantomSubject:
    """Synthesise one subject at one session, in memory.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        The subject's seed (see :func:`subject_seed`); an int is ``SeedSequence(seed)``.
    label : str
        Subject label without ``sub-``.
    session : int or None
        1-based session index, written as ``ses-01`` ...; None for no session entity
        (the same subject as session 1).
    small : bool
        Cervical only, single sagittal T2w slab, small fields of view (fast).
    slots : iterable of Slot, optional
        Force these sequences (``T2Sag`` is always included); default: drawn with
        each sequence's ``availability`` (:mod:`.sequences`).

    Returns
    -------
    PhantomSubject
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    index = session or 1
    anatomy = draw_anatomy(np.random.default_rng(_child(ss, _ANATOMY)))
    demographics = draw_demographics(ss)
    pose = draw_pose(np.random.default_rng(_child(ss, _ANATOMY, 1)))
    lesions = session_lesions(ss, anatomy, index, small=small)
    protocol = draw_protocol(ss, index, slots)
    ses_label = None if session is None else f'{session:02d}'
    images: dict[str, PhantomImage] = {}
    for slot in protocol.slots:
        runs = (1, 2) if slot == protocol.repeated else (None,)
        for run in runs:
            rng = np.random.default_rng(
                _child(ss, _SESSIONS, index, 1 + SLOTS.index(slot), run or 0)
            )
            for acq in plan_acquisitions(
                anatomy, slot, pose, rng, small=small, run=run,
                field_strength=SITES[demographics['site']],
            ):  # fmt: skip
                out = render(acq, anatomy, lesions, rng)
                stem = _stem(label, ses_label, acq)
                images[stem] = PhantomImage(
                    stem=stem,
                    slot=slot,
                    data=out.data,
                    affine=acq.affine,
                    cord_mask=out.cord_mask,
                    lesion_mask=out.lesion_mask,
                    body_to_world=acq.body_to_world,
                    centerline_world_mm=_centerline_world(anatomy, acq.body_to_world),
                    sidecar=acq.sidecar,
                )
    return PhantomSubject(
        label=label,
        session=ses_label,
        anatomy=anatomy,
        lesions=lesions,
        protocol=protocol,
        images=images,
        demographics=demographics,
    )
