"""Score one held-out unit under every row of Table 1, in the cord frame.

The cord frame (``(48, 48, Z)``, nibabel ``LAS``, 0.5 mm, see :mod:`bids_app.frame`) is the
model's own frame, where the reference labels and the predictions both live; the participant
level maps predictions back to the native T2Sag grid, and scoring there is the group level's
job, so its figures differ slightly. The post-processing is the participant level's
(:func:`bids_app.inference.postprocess`, with the frame's cord mask when it has one).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bids_app.errors import DatasetError
from bids_app.evaluation.faint import ReferenceLesions, detected, reference_lesions
from bids_app.evaluation.subsets import Row, usable_slots
from bids_app.frame import CordFrame
from bids_app.metrics import dice, false_positive_lesions, lesion_wise
from bids_app.postprocess import PostprocessOptions, field_of_view, postprocess
from bids_app.progress import progress
from bids_app.sliding_window import normalise_intensity
from bids_app.slots import SLOTS, Slot

logger = logging.getLogger(__name__)

#: The participant level's default post-processing.
DEFAULT_POSTPROCESS = PostprocessOptions()


class Predictor(Protocol):
    """What scoring needs of :class:`bids_app.inference.LesionPredictor` (tests pass fakes)."""

    @property
    def slots(self) -> tuple[Slot, ...]: ...

    def predict(
        self,
        crops: Mapping[Slot, NDArray[np.floating]],
        coverage: Mapping[Slot, NDArray[np.bool_]] | None = None,
    ) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class RowScore:
    """One unit under one row.

    Attributes
    ----------
    slots : tuple of Slot
        The sequences given to the model.
    dice, f1, sensitivity, precision : float
        As :func:`bids_app.metrics.dice` and :func:`bids_app.metrics.lesion_wise`.
    n_pred : int
        Predicted lesions after post-processing.
    detected : (L,) bool
        Whether each reference lesion (in :class:`ReferenceLesions` order) is detected.
    false_lesions : tuple of FalseLesion
        The predicted lesions that are false positives.
    """

    slots: tuple[Slot, ...]
    dice: float
    f1: float
    sensitivity: float
    precision: float
    n_pred: int
    detected: NDArray[np.bool_]
    false_lesions: tuple[FalseLesion, ...] = ()


@dataclass(frozen=True)
class FalseLesion:
    """A predicted lesion that lies mostly outside every reference lesion (a false positive of
    :func:`bids_app.metrics.lesion_wise`): what it is and where, to tell why it was found.

    Attributes
    ----------
    volume_mm3 : float
        In the cord frame.
    peak_probability, mean_probability : float
        Of the network over its voxels.
    z_mm : float
        World z (RAS+ mm) of its centre along the cord frame.
    mm_to_view_edge : float
        Along the cord, from its nearest slice to the nearest slice outside the field of view of
        the sequences given (0: it touches the edge).
    """

    volume_mm3: float
    peak_probability: float
    mean_probability: float
    z_mm: float
    mm_to_view_edge: float


@dataclass(frozen=True)
class UnitEvaluation:
    """Every row's score of one unit, and its reference lesions' T2Sag contrast.

    Attributes
    ----------
    unit : str
        Unit name (``sub-X[_ses-Y]``).
    available : tuple of Slot
        The unit's sequences that the model can take.
    volume_mm3, contrast : (L,) float64
        Of each reference lesion (see :mod:`bids_app.evaluation.faint`).
    scores : dict
        Row name -> RowScore, for the rows the unit can fill.
    """

    unit: str
    available: tuple[Slot, ...]
    volume_mm3: NDArray[np.float64]
    contrast: NDArray[np.float64]
    scores: dict[str, RowScore]

    @property
    def n_ref(self) -> int:
        return len(self.contrast)


def score_prediction(
    probability: NDArray[np.floating],
    frame: CordFrame,
    lesions: ReferenceLesions,
    slots: tuple[Slot, ...],
    options: PostprocessOptions,
) -> RowScore:
    """Post-process a cord-frame probability as the participant level does, then score it.

    Parameters
    ----------
    probability : (48, 48, Z) array
        Lesion probability in ``frame``.
    frame : CordFrame
        With reference labels; its cord mask, if any, restricts the mask.
    lesions : ReferenceLesions
        ``frame``'s reference lesions.
    slots : tuple of Slot
        The sequences the probability came from (recorded).
    options : PostprocessOptions
    """
    cord = None if frame.cord is None else frame.cord.astype(bool)
    seen = field_of_view(frame.coverage[s] for s in slots)
    mask = postprocess(
        probability, options, cord_mask=cord, voxel_mm=frame.config.voxel_mm, seen=seen
    )
    reference = lesions.labels > 0
    counts = lesion_wise(mask, reference)
    return RowScore(
        slots=slots,
        dice=dice(mask, reference),
        f1=counts.f1,
        sensitivity=counts.sensitivity,
        precision=counts.precision,
        n_pred=counts.n_pred,
        detected=detected(lesions, mask),
        false_lesions=false_lesions(probability, mask, reference, frame, seen),
    )


def false_lesions(
    probability: NDArray[np.floating],
    mask: NDArray[np.bool_],
    reference: NDArray[np.bool_],
    frame: CordFrame,
    seen: NDArray[np.bool_] | None,
) -> tuple[FalseLesion, ...]:
    """Each false-positive lesion of ``mask`` with its size, confidence and place.

    ``seen`` is the field of view of the sequences given (per voxel or per slice; None: all).
    """
    labels, false = false_positive_lesions(mask, reference)
    n_slices = mask.shape[2]
    in_view = np.ones(n_slices, bool) if seen is None else np.asarray(seen, bool)
    if in_view.ndim == 3:
        in_view = in_view.any(axis=(0, 1))
    outside = np.concatenate([[-1], np.flatnonzero(~in_view), [n_slices]])
    voxel_mm = frame.config.voxel_mm
    found = []
    for number in false:
        voxels = labels == number
        slices = np.flatnonzero(voxels.any(axis=(0, 1)))
        gap = int(np.abs(slices[:, None] - outside[None, :]).min()) - 1
        values = probability[voxels]
        found.append(
            FalseLesion(
                volume_mm3=float(voxels.sum()) * voxel_mm**3,
                peak_probability=float(values.max()),
                mean_probability=float(values.mean()),
                z_mm=float(np.mean(frame.z_mm[np.nonzero(voxels)[2]])),
                mm_to_view_edge=gap * voxel_mm,
            )
        )
    return tuple(found)


def evaluate_unit(
    predictor: Predictor,
    frame: CordFrame,
    name: str,
    rows: Sequence[Row],
    options: PostprocessOptions = DEFAULT_POSTPROCESS,
) -> UnitEvaluation:
    """Predict one unit with each row's sequences (each distinct set once) and score it.

    Raises
    ------
    DatasetError
        When the frame has no reference labels.
    """
    if frame.labels is None:
        raise DatasetError(
            f'{name}: its cord frame has no reference labels; pre-process it with --labels'
        )
    available = usable_slots(predictor.slots, frame.slots)
    t2sag = normalise_intensity(frame.crops[Slot.T2Sag], frame.coverage[Slot.T2Sag])
    cord = None if frame.cord is None else frame.cord.astype(bool)
    lesions = reference_lesions(t2sag, frame.labels, cord, voxel_mm=frame.config.voxel_mm)
    scores: dict[str, RowScore] = {}
    done: dict[tuple[Slot, ...], RowScore] = {}
    for row in rows:
        slots = row.slots_for(available)
        if slots is None:
            continue
        if slots not in done:
            probability = predictor.predict(
                {s: frame.crops[s] for s in slots}, {s: frame.coverage[s] for s in slots}
            )
            done[slots] = score_prediction(probability, frame, lesions, slots, options)
        scores[row.name] = done[slots]
    return UnitEvaluation(name, available, lesions.volume_mm3, lesions.contrast, scores)


def frame_slots(path: Path) -> tuple[Slot, ...]:
    """The sequences of a saved cord frame, read from its keys without loading the arrays."""
    with np.load(path) as data:
        return tuple(s for s in SLOTS if f'crop_{s}' in data.files)


def evaluate_frames(
    predictor: Predictor,
    frames: Mapping[str, Path],
    rows: Sequence[Row],
    options: PostprocessOptions = DEFAULT_POSTPROCESS,
) -> list[UnitEvaluation]:
    """Evaluate every unit's cord frame (one at a time, so memory holds one frame).

    Parameters
    ----------
    predictor : Predictor
    frames : mapping
        Unit name -> its cord frame ``.npz`` with reference labels.
    rows : sequence of Row
        From :func:`bids_app.evaluation.subsets.table_rows`.
    options : PostprocessOptions
        The participant level's post-processing settings.
    """
    results = []
    for name in progress(sorted(frames), desc='evaluation', total=len(frames)):
        result = evaluate_unit(predictor, CordFrame.load(frames[name]), name, rows, options)
        logger.info(
            '%s: %s',
            name,
            ', '.join(
                f'{row} Dice {s.dice:.3f} F1 {s.f1:.3f}' for row, s in result.scores.items()
            ),
        )
        results.append(result)
    return results
