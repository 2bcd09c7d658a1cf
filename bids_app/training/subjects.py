"""Training subjects: cord frames with reference labels, the model's slots, the subject split.

A cord frame (:class:`bids_app.frame.CordFrame`) is one subject/session. Here each becomes a
:class:`TrainingSubject`: its crops z-scored as inference does, in the network layout
``(z, x, y)`` so that a patch along z is a contiguous slice, with its lesions' z extents for
oversampling.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bids_app.config import CordFrameConfig
from bids_app.errors import DatasetError
from bids_app.frame import CordFrame
from bids_app.lesions import structuring_element
from bids_app.model.config import ModelConfig
from bids_app.model.layout import to_network_layout
from bids_app.sliding_window import normalise_intensity
from bids_app.slots import SLOTS, Slot
from bids_app.training.options import TrainConfig

logger = logging.getLogger(__name__)

#: What the trainer accepts per unit: a cord frame, its ``.npz`` file, or why it has none.
FrameSource = CordFrame | Path | str


@dataclass(frozen=True)
class TrainingSubject:
    """One subject/session ready for patch sampling.

    Attributes
    ----------
    name : str
        Unit name ``sub-<s>[_ses-<t>]``.
    images : dict of int to ndarray, shape (Z, X, Y), float32
        Model-slot index -> z-scored crop in the network layout; present slots only.
    coverage : dict of int to ndarray, shape (Z, X, Y), bool
        Model-slot index -> field of view of that crop.
    labels : ndarray, shape (Z, X, Y), uint8
        Reference lesions (0/1) on the T2Sag path.
    lesion_z : ndarray, shape (L, 2), int64
        First and last slice of each reference lesion (26-connected), for oversampling.
    cord : ndarray, shape (X, Y, Z), bool, optional
        Cord mask in the cord frame's own layout (validation post-processing).
    voxel_mm : float
        The cord frame's voxel (validation post-processing measures lesions and the cord margin
        in mm).
    """

    name: str
    images: dict[int, NDArray[np.float32]]
    coverage: dict[int, NDArray[np.bool_]]
    labels: NDArray[np.uint8]
    lesion_z: NDArray[np.int64]
    cord: NDArray[np.bool_] | None = None
    voxel_mm: float = CordFrameConfig.voxel_mm

    @property
    def length(self) -> int:
        """Number of reference slices ``Z``."""
        return int(self.labels.shape[0])

    def presence_of(self, n_slots: int) -> NDArray[np.bool_]:
        """``(n_slots,)`` bool: which of the model's slots this subject has."""
        out = np.zeros(n_slots, bool)
        out[list(self.images)] = True
        return out


def subject_of(unit: str) -> str:
    """The subject a unit belongs to: ``'sub-01_ses-M0'`` -> ``'sub-01'``.

    Examples
    --------
    >>> subject_of('sub-01_ses-M0'), subject_of('sub-02')
    ('sub-01', 'sub-02')
    """
    return unit.split('_ses-')[0]


def load_frames(
    frames: Mapping[str, FrameSource],
) -> tuple[dict[str, CordFrame], dict[str, str]]:
    """Open the cord frames that can train; list the others with their reason.

    Parameters
    ----------
    frames : mapping of str to CordFrame, Path or str
        Unit name -> frame, its ``.npz`` file, or the reason pre-processing gave none.

    Returns
    -------
    usable : dict of str to CordFrame
        Frames with reference labels, in name order.
    left_out : dict of str to str
        Unit name -> why it cannot train (logged here unless the caller gave the reason).
    """
    usable: dict[str, CordFrame] = {}
    left_out: dict[str, str] = {}
    for name in sorted(frames):
        source = frames[name]
        if isinstance(source, str):
            left_out[name] = source
            continue
        frame = source if isinstance(source, CordFrame) else CordFrame.load(source)
        if frame.labels is None:
            left_out[name] = 'no reference lesion label matched its T2Sag'
        elif Slot.T2Sag not in frame.crops:
            left_out[name] = 'no T2Sag crop'
        else:
            usable[name] = frame
        if name in left_out:
            logger.warning('%s left out of training: %s', name, left_out[name])
    return usable, left_out


def slot_counts(frames: Mapping[str, CordFrame]) -> dict[Slot, int]:
    """How many frames have each slot, in :data:`~bids_app.slots.SLOTS` order."""
    counts = Counter(slot for frame in frames.values() for slot in frame.slots)
    return {slot: counts.get(slot, 0) for slot in SLOTS}


def _format_counts(counts: Mapping[Slot, int], total: int) -> str:
    return ', '.join(f'{slot} {counts[slot]}/{total}' for slot in SLOTS)


def resolve_slots(config: TrainConfig, counts: Mapping[Slot, int], total: int) -> tuple[Slot, ...]:
    """The model's slots for this dataset.

    T2Sag-only variants use T2Sag. ``combination`` uses ``config.slots``. The other variants use
    ``config.slots`` when given, else every slot at least one subject has (an encoder no subject
    feeds would never train).

    Raises
    ------
    DatasetError
        A requested slot no subject has, with the count of every slot.
    """
    if config.variant in ('baseline', 'feature-augmentation'):
        return (Slot.T2Sag,)
    if config.slots is None:
        return tuple(s for s in SLOTS if counts.get(s, 0) > 0)
    missing = [str(s) for s in config.slots if counts.get(s, 0) == 0]
    if missing:
        raise DatasetError(
            f'variant {config.variant} needs {missing}, which no labelled subject has '
            f'({_format_counts(counts, total)}); choose --slots among the slots present'
        )
    return config.slots


def select_frames(
    frames: Mapping[str, CordFrame], slots: Sequence[Slot], *, require_all: bool
) -> tuple[dict[str, CordFrame], dict[str, str]]:
    """Keep the frames a model on ``slots`` can train on (with ``require_all``: those with all)."""
    if not require_all:
        return dict(frames), {}
    kept, left_out = {}, {}
    for name, frame in frames.items():
        lacking = [str(s) for s in slots if s not in frame.crops]
        if lacking:
            left_out[name] = (
                f'lacks {lacking}, which the combination {list(map(str, slots))} needs'
            )
        else:
            kept[name] = frame
    if not kept:
        raise DatasetError(
            f'no labelled subject has every slot of {[str(s) for s in slots]} '
            f'({_format_counts(slot_counts(frames), len(frames))}); choose fewer --slots'
        )
    return kept, left_out


def lesion_extents(labels_zxy: NDArray) -> NDArray[np.int64]:
    """First and last slice of each 26-connected lesion, in label order.

    Parameters
    ----------
    labels_zxy : ndarray, shape (Z, X, Y)

    Returns
    -------
    ndarray of int64, shape (L, 2)

    Examples
    --------
    >>> lab = np.zeros((10, 3, 3), np.uint8)
    >>> lab[2:4, 1, 1] = 1; lab[7, 0, 0] = 1
    >>> lesion_extents(lab).tolist()
    [[2, 3], [7, 7]]
    """
    labelled, n = ndimage.label(labels_zxy > 0, structure=structuring_element(26))
    if n == 0:
        return np.zeros((0, 2), np.int64)
    slices = ndimage.find_objects(labelled)
    return np.array([[s[0].start, s[0].stop - 1] for s in slices], dtype=np.int64)


def to_training_subject(
    name: str, frame: CordFrame, slots: Sequence[Slot], patch_xy: tuple[int, int]
) -> TrainingSubject:
    """Normalise and reorder one frame for the model's ``slots``.

    Raises
    ------
    DatasetError
        Crops whose in-plane size is not the patch's.
    """
    images, coverage = {}, {}
    for index, slot in enumerate(slots):
        if slot not in frame.crops or slot in frame.dropped:
            continue
        crop = frame.crops[slot]
        if tuple(crop.shape[:2]) != tuple(patch_xy):
            raise DatasetError(
                f'{name}: {slot} crop is {crop.shape[:2]} in-plane but the patch is {patch_xy}; '
                're-run the pre-processing with the same crop size as the model'
            )
        covered = np.asarray(frame.coverage[slot], bool)
        images[index] = np.ascontiguousarray(to_network_layout(normalise_intensity(crop, covered)))
        coverage[index] = np.ascontiguousarray(to_network_layout(covered))
    labels = np.ascontiguousarray(to_network_layout((frame.labels > 0).astype(np.uint8)))
    cord = None if frame.cord is None else frame.cord > 0
    return TrainingSubject(
        name, images, coverage, labels, lesion_extents(labels), cord, frame.config.voxel_mm
    )


def _draw_validation(
    subjects: Sequence[str], n_val: int, seed: int, groups: Mapping[str, str]
) -> set[str]:
    """``n_val`` subjects (about, with groups) drawn at random, whole groups at a time."""
    members: dict[str, list[str]] = {}
    for subject in subjects:
        members.setdefault(groups.get(subject, subject), []).append(subject)
    names = sorted(members)
    val: set[str] = set()
    for i in np.random.default_rng(seed).permutation(len(names)):
        if len(val) >= n_val:
            break
        group = members[names[i]]
        if val and len(val) + len(group) > 1.5 * n_val:
            continue
        val.update(group)
    return val


def split_by_subject(
    units: Sequence[str],
    *,
    val_fraction: float,
    seed: int,
    val_subjects: Sequence[str] = (),
    groups: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Split units into training and validation, keeping every session of a subject together.

    With ``groups``, subjects of one group (one person: the copies ``sclesion-insert-lesions``
    made of a scan) are held out together, so that validation measures new people, not new
    lesions in people trained on.

    Parameters
    ----------
    units : sequence of str
        Unit names ``sub-<s>[_ses-<t>]``.
    val_fraction : float
        Share of subjects (not units) to validate on, rounded, at least one when positive and
        there are two subjects or more; ignored when ``val_subjects`` is given.
    seed : int
        Seed of the shuffle (the same seed and units give the same split).
    val_subjects : sequence of str
        Explicit validation subjects ``sub-<s>``.
    groups : mapping of str to str, optional
        Subject ``sub-<s>`` -> its group (a subject left out is a group of its own). The share
        of subjects is then reached with whole groups, drawn in a random order, passing over a
        group that would overshoot it by more than half (unless none is drawn yet).

    Returns
    -------
    train, val : list of str
        Unit names, sorted.

    Raises
    ------
    DatasetError
        Named validation subjects that are not among the units, or no training unit left.

    Examples
    --------
    >>> split_by_subject(['sub-1_ses-a', 'sub-1_ses-b', 'sub-2'], val_fraction=0,
    ...                  seed=0, val_subjects=['sub-1'])
    (['sub-2'], ['sub-1_ses-a', 'sub-1_ses-b'])
    >>> units = ['sub-ains1', 'sub-ains2', 'sub-b', 'sub-c', 'sub-d']
    >>> train, val = split_by_subject(units, val_fraction=0.4, seed=1,
    ...                               groups={'sub-ains1': 'sub-a', 'sub-ains2': 'sub-a'})
    >>> ('sub-ains1' in val) == ('sub-ains2' in val)
    True
    """
    subjects = sorted({subject_of(u) for u in units})
    if val_subjects:
        unknown = sorted(set(val_subjects) - set(subjects))
        if unknown:
            raise DatasetError(
                f'validation subjects {unknown} have no labelled cord frame; '
                f'labelled subjects: {subjects}'
            )
        val = set(val_subjects)
    else:
        n_val = round(val_fraction * len(subjects))
        if val_fraction > 0 and len(subjects) >= 2:
            n_val = max(n_val, 1)
        val = _draw_validation(subjects, n_val, seed, groups or {})
    train_units = sorted(u for u in units if subject_of(u) not in val)
    val_units = sorted(u for u in units if subject_of(u) in val)
    if not train_units:
        raise DatasetError(
            f'no subject left to train on after holding out {sorted(val)} for validation; '
            'lower --val-fraction or list fewer --val-subjects'
        )
    return train_units, val_units


def prepare_subjects(
    frames: Mapping[str, FrameSource], config: TrainConfig
) -> tuple[ModelConfig, dict[str, Any], dict[str, TrainingSubject]]:
    """Turn cord frames into training subjects for ``config``'s variant.

    Returns
    -------
    model_config : ModelConfig
        With the slots resolved from the data (:func:`resolve_slots`).
    summary : dict
        ``units``, ``slot_counts``, ``left_out`` (unit -> reason), ``lesion_free_units``, and
        ``cord_frame``: the :class:`~bids_app.config.CordFrameConfig` every frame was built on
        (the card records it; inference builds the same).
    subjects : dict of str to TrainingSubject

    Raises
    ------
    DatasetError
        No unit with labels; slots the variant needs that no subject has; frames built on
        different cord frames.
    """
    usable, left_out = load_frames(frames)
    if not usable:
        reasons = '; '.join(f'{k}: {v}' for k, v in list(left_out.items())[:5])
        raise DatasetError(
            f'none of the {len(frames)} subject/sessions can train ({reasons}); give --labels '
            'a derivatives folder with _label-lesion_seg files matching the T2Sag images'
        )
    frame_config = common_frame_config(usable)
    counts = slot_counts(usable)
    slots = resolve_slots(config, counts, len(usable))
    model_config = config.model_config(
        None if config.variant in ('baseline', 'feature-augmentation') else slots
    )
    usable, lacking = select_frames(
        usable, model_config.slots, require_all=model_config.imputation == 'none'
    )
    left_out.update(lacking)
    for name, reason in lacking.items():
        logger.warning('%s left out of training: %s', name, reason)
    subjects = {
        name: to_training_subject(name, frame, model_config.slots, config.patch_size[:2])
        for name, frame in usable.items()
    }
    summary = {
        'units': len(subjects),
        'slot_counts': {str(k): v for k, v in slot_counts(usable).items()},
        'left_out': left_out,
        'lesion_free_units': sorted(n for n, s in subjects.items() if not len(s.lesion_z)),
        'cord_frame': frame_config,
    }
    return model_config, summary, subjects


def common_frame_config(frames: Mapping[str, CordFrame]) -> CordFrameConfig:
    """The one cord frame every training frame was built on (its crop size read off the crops);
    ``DatasetError`` when they differ."""
    configs = {
        replace(f.config, crop_size=int(next(iter(f.crops.values())).shape[0]))
        for f in frames.values()
    }
    if len(configs) > 1:
        raise DatasetError(
            f'the training frames were built on {len(configs)} different cord frames '
            f'({sorted(map(str, configs))}); pre-process them again with one sclesion version '
            '(delete the frames folder in the work directory)'
        )
    (config,) = configs
    return config


def write_split(path: Path, train_names: list[str], val_names: list[str]) -> None:
    """``unit``/``subset`` TSV of the split, written next to the model."""
    lines = ['unit\tsubset'] + [f'{n}\ttrain' for n in train_names]
    path.write_text('\n'.join(lines + [f'{n}\tvalidation' for n in val_names]) + '\n')
