"""Accuracy of each unit's lesion mask against its reference label (``--labels``).

The reference is found by :func:`bids_app.labels.find_lesion_label` next to each T2Sag source.
For a T2Sag fused from chunks there is one label per chunk: the raw chunks are fused again with
:func:`bids_app.fusion.fuse_chunks` (the same rigid registration as the participant level) and
the labels follow the same transforms with :func:`bids_app.fusion.fuse_label_chunks`, so a label
moves with its slab exactly as the image did; the result must land on the output mask's grid.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from bids_app.errors import GeometryError
from bids_app.fusion import fuse_chunks, fuse_label_chunks
from bids_app.geometry import sample_world
from bids_app.group.collect import Status, UnitRecord
from bids_app.labels import find_lesion_label
from bids_app.metrics import dice, lesion_wise, volume_agreement
from bids_app.slots import Slot

logger = logging.getLogger(__name__)

#: Affines closer than this (mm, any entry) are the same grid.
GRID_TOLERANCE_MM = 1e-3

#: Metrics of ``group_eval.tsv``, with their descriptions; the first six are summarised.
METRIC_COLUMNS: dict[str, dict[str, str]] = {
    'dice': {'Description': 'Voxel-wise Dice; 1 when both masks are empty'},
    'f1': {'Description': 'Lesion-wise F1 = 2PS/(P+S); 1 when both masks are empty'},
    'sensitivity': {
        'Description': 'Reference lesions with at least 10 % of their voxels predicted, over '
        'reference lesions; n/a without reference lesions'
    },
    'precision': {
        'Description': 'Predicted lesions with at most 70 % of their voxels outside the '
        'reference, over predicted lesions; n/a without predicted lesions'
    },
    'count_difference': {'Description': 'Predicted minus reference lesion count'},
    'volume_difference_mm3': {
        'Description': 'Predicted minus reference lesion volume',
        'Units': 'mm^3',
    },
    'lesion_tp': {'Description': 'Reference lesions detected'},
    'lesion_fp': {'Description': 'Predicted lesions that are false positives'},
    'lesion_fn': {'Description': 'Reference lesions missed'},
    'n_ref': {'Description': 'Reference lesions (26-connected components)'},
    'n_pred': {'Description': 'Predicted lesions (26-connected components)'},
    'ref_volume_mm3': {'Description': 'Reference lesion volume', 'Units': 'mm^3'},
    'pred_volume_mm3': {'Description': 'Predicted lesion volume', 'Units': 'mm^3'},
}
SUMMARISED = (
    'dice',
    'f1',
    'sensitivity',
    'precision',
    'count_difference',
    'volume_difference_mm3',
)

EVAL_COLUMNS: dict[str, dict[str, str]] = {
    'participant_id': {'Description': 'Participant label with its sub- prefix'},
    'session_id': {'Description': 'Session label with its ses- prefix, n/a without sessions'},
    'reference': {'Description': 'Reference label file(s), relative to --labels'},
    'slots_used': {'Description': 'Comma-separated sequence slots the model was given'},
    **METRIC_COLUMNS,
}


def unit_metrics(
    pred: NDArray,
    ref: NDArray,
    vox2world: NDArray[np.floating],
    pred_lesions: NDArray | None = None,
) -> dict[str, float | int]:
    """Every metric of one unit, as in :mod:`bids_app.metrics` (Walsh et al. definitions).

    Parameters
    ----------
    pred, ref : (I, J, K) arrays
        Predicted and reference masks on one grid (the native T2Sag grid); non-zero is lesion.
    vox2world : (4, 4) array
        The grid's affine (RAS+ mm), for volumes.
    pred_lesions : (I, J, K) int array, optional
        The predicted lesions as the outputs number them (the ``dseg`` image): a lesion found in
        the cord frame counts once where the native grid cuts it in pieces.

    Returns
    -------
    dict
        The keys of :data:`METRIC_COLUMNS`.
    """
    detection = lesion_wise(pred, ref, pred_lesions=pred_lesions)
    volumes = volume_agreement(pred, ref, vox2world, pred_lesions=pred_lesions)
    return {
        'dice': dice(pred, ref),
        'f1': detection.f1,
        'sensitivity': detection.sensitivity,
        'precision': detection.precision,
        'count_difference': volumes.count_difference,
        'volume_difference_mm3': volumes.volume_difference_mm3,
        'lesion_tp': detection.tp,
        'lesion_fp': detection.fp,
        'lesion_fn': detection.fn,
        'n_ref': detection.n_ref,
        'n_pred': detection.n_pred,
        'ref_volume_mm3': volumes.ref_volume_mm3,
        'pred_volume_mm3': volumes.pred_volume_mm3,
    }


def resample_nearest(
    data: NDArray,
    vox2world: NDArray[np.floating],
    shape: tuple[int, int, int],
    target_vox2world: NDArray[np.floating],
) -> NDArray[np.bool_]:
    """A binary label on another grid, nearest neighbour in world mm; False outside its view.

    Parameters
    ----------
    data : (I, J, K) array
        The label; non-zero is foreground.
    vox2world : (4, 4) array
        Its affine (RAS+ mm).
    shape : tuple of 3 int
        The target grid's shape.
    target_vox2world : (4, 4) array
        The target grid's affine.

    Returns
    -------
    (shape) bool array
    """
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1).T
    xyz_mm = ijk @ np.asarray(target_vox2world, float)[:3, :3].T + target_vox2world[:3, 3]
    values, _ = sample_world((np.asarray(data) > 0).astype(np.float32), vox2world, xyz_mm, order=0)
    return values.reshape(shape) > 0.5


def _same_grid(
    shape_a: Sequence[int], affine_a: NDArray, shape_b: Sequence[int], affine_b: NDArray
) -> bool:
    return tuple(shape_a[:3]) == tuple(shape_b[:3]) and np.allclose(
        affine_a, affine_b, atol=GRID_TOLERANCE_MM
    )


def reference_on_grid(
    labels: Sequence[Path],
    sources: Sequence[Path],
    shape: tuple[int, int, int],
    vox2world: NDArray[np.floating],
) -> NDArray[np.bool_]:
    """The reference of one unit on its output mask's grid.

    Parameters
    ----------
    labels : sequence of Path
        One label per T2Sag source, in the same order.
    sources : sequence of Path
        The raw T2Sag file(s); several when chunks were fused.
    shape, vox2world : the output mask's grid.

    Raises
    ------
    GeometryError
        When the chunks fused again do not give the output grid.
    """
    if len(sources) == 1:
        image = nib.load(str(labels[0]))
        data = np.asanyarray(image.dataobj)
        if _same_grid(data.shape, image.affine, shape, vox2world):
            return data > 0
        logger.info('%s: not on the mask grid, resampled (nearest neighbour)', labels[0].name)
        return resample_nearest(data, image.affine, shape, vox2world)
    chunks = [nib.load(str(p)) for p in sources]
    names = [p.name for p in sources]
    fused = fuse_chunks(
        [(c.get_fdata(dtype=np.float32), c.affine) for c in chunks], register=True, names=names
    )
    if not _same_grid(fused.data.shape, fused.affine, shape, vox2world):
        raise GeometryError(
            f'{", ".join(names)} fused again give grid {fused.data.shape}, not the mask grid '
            f'{tuple(shape)}; rerun the participant level with this version of sclesion'
        )
    label_images = [nib.load(str(p)) for p in labels]
    label_chunks = [(np.asanyarray(i.dataobj), i.affine) for i in label_images]
    return fuse_label_chunks(label_chunks, fused, names=[p.name for p in labels]) > 0


def find_references(
    record: UnitRecord, bids_dir: Path, labels_dir: Path, suffix: str | None
) -> list[Path] | None:
    """One reference label per T2Sag source, or None when any is missing (logged)."""
    sources = record.unit.slots.get(Slot.T2Sag, [])
    found = [find_lesion_label(s, bids_dir, labels_dir, suffix) for s in sources]
    if not sources or not any(found):
        return None
    if not all(found):
        missing = ', '.join(s.name for s, f in zip(sources, found, strict=True) if f is None)
        logger.warning('%s: no reference label for %s; not evaluated', record.unit.name, missing)
        return None
    return [p for p in found if p is not None]


def _numbered_lesions(dseg: Path | None, pred: NDArray[np.bool_]) -> NDArray | None:
    """The unit's numbered lesions when they cover exactly its mask; else None (components)."""
    if dseg is None:
        return None
    numbered = np.asanyarray(nib.load(str(dseg)).dataobj)
    if numbered.shape != pred.shape or not np.array_equal(numbered > 0, pred):
        logger.warning('%s does not match its mask; lesions counted as components', dseg.name)
        return None
    return numbered


def evaluate_records(
    records: Sequence[UnitRecord], bids_dir: Path, labels_dir: Path, suffix: str | None = None
) -> list[dict[str, object]]:
    """Rows of ``group_eval.tsv``: every finished unit that has a reference.

    A unit whose reference cannot be put on its grid is logged and left out.
    """
    rows = []
    n_without = 0
    for record in records:
        if record.status is not Status.done or record.mask is None:
            continue
        references = find_references(record, bids_dir, labels_dir, suffix)
        if references is None:
            n_without += 1
            continue
        mask = nib.load(str(record.mask))
        pred = np.asanyarray(mask.dataobj) > 0
        numbered = _numbered_lesions(record.dseg, pred)
        try:
            ref = reference_on_grid(
                references, record.unit.slots[Slot.T2Sag], pred.shape, mask.affine
            )
        except GeometryError as exc:
            logger.error('%s: not evaluated: %s', record.unit.name, exc)
            continue
        rows.append(
            {
                'participant_id': record.participant_id,
                'session_id': record.session_id,
                'reference': ','.join(p.relative_to(labels_dir).as_posix() for p in references),
                'slots_used': record.summary.get('slots_used'),
                **unit_metrics(pred, ref, mask.affine, numbered),
            }
        )
    if n_without:
        logger.warning('%d finished subject/session(s) have no reference label', n_without)
    return rows
