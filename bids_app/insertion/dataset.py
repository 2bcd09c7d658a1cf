"""Write a BIDS dataset of real scans with inserted lesions, and the same scans without.

For every source subject/session (``sub-X``), ``copies`` lesion sets are written as
``sub-X<region>ins01``, ``sub-X<region>ins02``, ... and the unmodified scans as ``sub-X<region>``
with an empty lesion mask (the negatives). Reference labels go to ``derivatives/labels``: each
image's cord mask (``_label-SC_seg``) and each sagittal T2w's lesion mask (``_label-lesion_seg``);
``derivatives/labels/insertions.tsv`` lists every lesion with its kind, size and contrasts.
The output folder may be an existing BIDS dataset (a phantom dataset, say): the subjects are
added to it and its ``participants.tsv`` grows. The source dataset is only read.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bids_app import __version__
from bids_app.derivatives import write_text
from bids_app.errors import UsageError
from bids_app.geometry import superior_axis
from bids_app.insertion.insert import NativeImage, PlacedLesion, insert_lesions
from bids_app.insertion.regions import crop_slices, region_bounds, slice_z_mm
from bids_app.insertion.sources import SourceImage, SourceUnit
from bids_app.insertion.thick_slices import thick_sagittal
from bids_app.interfaces.io import check_same_grid, load_image, load_mask, save_image
from bids_app.labels import source_stem
from bids_app.progress import progress
from bids_app.slots import SLOTS

#: participants.tsv column naming the subject each output subject was made from (its person).
SOURCE_COLUMN = 'source_participant'

logger = logging.getLogger(__name__)

BIDS_VERSION = '1.10.0'
GENERATED_BY = {'Name': 'sclesion-insert-lesions', 'Version': __version__}
LESION_COLUMNS = (
    'participant_id', 'session_id', 'lesion', 'kind', 'lobes', 'z_min_mm', 'z_max_mm',
    'volume_mm3', 'faint_on_T2Sag', *(f'ratio_{slot}' for slot in SLOTS),
)  # fmt: skip


@dataclass(frozen=True)
class InsertionConfig:
    """How many lesion sets, how many lesions each, and which part of the cord.

    Parameters
    ----------
    copies : int
        Lesion sets per source subject/session.
    max_lesions : int
        Each set has 1 to ``max_lesions`` lesions (fewer when the cord has no room).
    seed : int
        The same seed, sources and settings give the same dataset.
    negatives : bool
        Also write the unmodified scans with an empty lesion mask.
    region : {'all', 'upper', 'lower'}
        Keep the whole scan, or the slices above or below the middle of the sagittal T2w's cord.
    sagittal_slice_mm : float, optional
        Rebin every sagittal image (not a pseudo-sagittal stand-in) into slices this thick
        left-right before inserting, as clinical 2D sagittal sequences are acquired.
    """

    copies: int = 8
    max_lesions: int = 5
    seed: int = 0
    negatives: bool = True
    region: str = 'all'
    sagittal_slice_mm: float | None = None

    @property
    def tag(self) -> str:
        """What output subject labels add to the source's: slice thickness, then region.

        Examples
        --------
        >>> InsertionConfig().tag, InsertionConfig(region='upper', sagittal_slice_mm=2.5).tag
        ('', 'sag2p5mmupper')
        """
        mm = self.sagittal_slice_mm
        thick = f'sag{mm:g}mm'.replace('.', 'p') if mm else ''
        return thick + ('' if self.region == 'all' else self.region)


def unit_rng(seed: int, unit: str, copy: int) -> np.random.Generator:
    """A generator for one copy of one unit, independent of the others and of their order."""
    digest = hashlib.sha256(f'{seed}:{unit}:{copy}'.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], 'little'))


def output_label(subject: str, tag: str, copy: int) -> str:
    """``errsm30`` -> ``errsm30`` (negative, whole), ``errsm30upperins03`` (copy 3, upper half).

    ``tag`` is :attr:`InsertionConfig.tag`.

    Examples
    --------
    >>> output_label('errsm30', '', 0), output_label('errsm30', 'upper', 3)
    ('errsm30', 'errsm30upperins03')
    """
    return f'{subject}{tag}' + (f'ins{copy:02d}' if copy else '')


def output_stem(image: SourceImage, unit: SourceUnit, label: str) -> str:
    """The file stem of ``image`` in the output unit ``sub-<label>``."""
    prefix = f'sub-{label}' + (f'_ses-{unit.session}' if unit.session else '')
    if image.pseudo:
        return f'{prefix}_acq-pseudosag_T2w'
    stem = source_stem(image.path)
    return prefix + stem[len(unit.name) :]


def load_unit(
    unit: SourceUnit, region: str, sagittal_slice_mm: float | None = None
) -> list[tuple[SourceImage, NativeImage]]:
    """Read a unit's images and masks, cropped to ``region``; images left without cord dropped.

    With ``sagittal_slice_mm``, sagittal images (not pseudo-sagittal stand-ins) are first rebinned
    into slices that thick (:func:`~bids_app.insertion.thick_slices.thick_sagittal`).

    Returns
    -------
    list of (SourceImage, NativeImage)
        The reference (a sagittal T2w) first.

    Raises
    ------
    UsageError
        The reference (sagittal T2w) keeps no cord in that region.
    """
    loaded = []
    for image in unit.images:
        data, affine = load_image(image.path)
        mask, mask_affine = load_mask(image.mask)
        check_same_grid(mask.shape, mask_affine, data.shape, affine, image.mask, image.path.name)
        if sagittal_slice_mm and image.slot.spec.acquisition == 'sagittal' and not image.pseudo:
            shape = data.shape
            data, mask, affine = thick_sagittal(data, mask, affine, sagittal_slice_mm)
            if data.shape == shape:
                logger.warning(
                    '%s: slices already at least %g mm thick; left as they are',
                    image.path, sagittal_slice_mm,
                )  # fmt: skip
        loaded.append((image, data, affine, mask))
    _, _, ref_affine, ref_mask = loaded[0]
    axis = superior_axis(ref_affine)
    others = tuple(a for a in range(3) if a != axis)
    cord_z = slice_z_mm(ref_mask.shape, ref_affine)[np.any(ref_mask, axis=others)]
    bounds = region_bounds(region, float(cord_z.min()), float(cord_z.max()))
    images = []
    for image, data, affine, mask in loaded:
        cropped = crop_slices(np.stack([data, mask.astype(np.float32)], -1), affine, bounds)
        if cropped is None or not cropped[0][..., 1].any():
            if image is unit.images[0]:
                raise UsageError(f'{image.path}: no cord left in the {region} region')
            logger.info('%s: %s has no cord in the %s region', unit.name, image.path, region)
            continue
        both, new_affine = cropped
        native = NativeImage(image.slot, both[..., 0], new_affine, both[..., 1] > 0.5)
        images.append((image, native))
    return images


def _write_unit(
    root: Path,
    unit: SourceUnit,
    label: str,
    images: list[tuple[SourceImage, NativeImage]],
    data: list[NDArray],
    labels: list[NDArray],
) -> None:
    """Images, sidecars, cord masks and lesion labels of one output unit."""
    folder = Path(f'sub-{label}') / (f'ses-{unit.session}' if unit.session else '') / 'anat'
    references = iter(labels)
    for (source, image), volume in zip(images, data, strict=True):
        stem = output_stem(source, unit, label)
        save_image(volume, image.affine, root / folder / f'{stem}.nii.gz', dtype=np.float32)
        sidecar = source.path.with_name(source_stem(source.path) + '.json')
        meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        if source.pseudo:
            meta['Description'] = f'Axial image {source.path.name} standing in for a sagittal T2w'
        write_text(root / folder / f'{stem}.json', json.dumps(meta, indent=2) + '\n')
        derived = root / 'derivatives' / 'labels' / folder
        save_image(image.cord, image.affine, derived / f'{stem}_label-SC_seg.nii.gz', dtype='u1')
        if image.slot == SLOTS[0]:
            lesion = next(references)
            save_image(
                lesion, image.affine, derived / f'{stem}_label-lesion_seg.nii.gz', dtype='u1'
            )


def _lesion_rows(unit: SourceUnit, label: str, placed: list[PlacedLesion]) -> list[dict]:
    rows = []
    for k, item in enumerate(placed, start=1):
        low, high = item.lesion.z_range_mm
        rows.append({
            'participant_id': f'sub-{label}', 'session_id': f'ses-{unit.session}' if unit.session
            else 'n/a', 'lesion': k, 'kind': item.lesion.kind, 'lobes': len(item.lesion.lobes),
            'z_min_mm': round(low, 2), 'z_max_mm': round(high, 2),
            'volume_mm3': round(item.volume_mm3, 2),
            'faint_on_T2Sag': item.contrast.faint_on_t2sag,
            **{f'ratio_{s}': round(r, 3) for s, r in item.contrast.ratios.items()},
        })  # fmt: skip
    return rows


def insert_unit(root: Path, unit: SourceUnit, config: InsertionConfig) -> tuple[list, list]:
    """Write a unit's negative and its copies; return participants rows and lesion rows."""
    loaded = load_unit(unit, config.region, config.sagittal_slice_mm)
    images = [native for _, native in loaded]
    references = [im for im in images if im.slot == SLOTS[0]]
    participants, lesions = [], []
    copies = range(0 if config.negatives else 1, config.copies + 1)
    for copy in copies:
        label = output_label(unit.subject, config.tag, copy)
        if copy == 0:
            data, labels, placed = [im.data for im in images], [], []
            labels = [np.zeros(r.data.shape, bool) for r in references]
        else:
            rng = unit_rng(config.seed, unit.name, copy)
            n = int(rng.integers(1, config.max_lesions + 1))
            data, labels, placed = insert_lesions(images, references, n, rng)
        _write_unit(root, unit, label, loaded, data, labels)
        participants.append({
            'participant_id': f'sub-{label}', SOURCE_COLUMN: f'sub-{unit.subject}',
            'copy': copy, 'region': config.region, 'n_lesions': len(placed),
            'sagittal_slice_mm': config.sagittal_slice_mm or 'n/a',
        })  # fmt: skip
        lesions += _lesion_rows(unit, label, placed)
    return participants, lesions


def _read_tsv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline='') as handle:
        return list(csv.DictReader(handle, delimiter='\t'))


def _write_tsv(path: Path, rows: list[dict], first: tuple[str, ...] = ()) -> None:
    columns = list(first)
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = ['\t'.join(columns)]
    lines += ['\t'.join(str(row.get(c, 'n/a')) for c in columns) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')


def prepare_output(out_dir: Path, source: Path, labels: list[str]) -> None:
    """Create the output dataset, or check an existing one can take these subjects.

    Raises
    ------
    UsageError
        ``out_dir`` is the source or inside it, a non-empty folder that is not a BIDS dataset,
        or already holds one of the subjects.
    """
    out, src = out_dir.resolve(), source.resolve()
    if out == src or src in out.parents:
        raise UsageError(
            f'{out_dir} is inside the source dataset {source}; choose a folder outside it'
        )
    description = out_dir / 'dataset_description.json'
    if out_dir.exists() and any(out_dir.iterdir()) and not description.is_file():
        raise UsageError(
            f'{out_dir} is neither empty nor a BIDS dataset; choose a new folder or a '
            'dataset to add to'
        )
    clash = [f'sub-{label}' for label in labels if (out_dir / f'sub-{label}').exists()]
    if clash:
        raise UsageError(
            f'{out_dir} already holds {", ".join(clash[:3])}; choose another --seed tag or folder'
        )
    if description.is_file():
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    description.write_text(json.dumps({
        'Name': f'Lesions inserted into {source.name}', 'BIDSVersion': BIDS_VERSION,
        'DatasetType': 'raw', 'GeneratedBy': [GENERATED_BY],
        'SourceDatasets': [{'URL': src.as_uri()}],
    }, indent=2) + '\n')  # fmt: skip
    labels_dir = out_dir / 'derivatives' / 'labels'
    labels_dir.mkdir(parents=True, exist_ok=True)
    (labels_dir / 'dataset_description.json').write_text(json.dumps({
        'Name': 'Cord masks and inserted lesion masks', 'BIDSVersion': BIDS_VERSION,
        'DatasetType': 'derivative', 'GeneratedBy': [GENERATED_BY],
    }, indent=2) + '\n')  # fmt: skip


def write_insertions(
    source: Path, out_dir: Path, units: list[SourceUnit], config: InsertionConfig
) -> tuple[int, int]:
    """Write every unit's negative and lesion copies into ``out_dir``.

    Returns
    -------
    (int, int)
        Units written and lesions inserted.
    """
    copies = range(0 if config.negatives else 1, config.copies + 1)
    labels = [output_label(u.subject, config.tag, c) for u in units for c in copies]
    prepare_output(out_dir, source, labels)
    participants, lesions = [], []
    for unit in progress(units, desc='insert', total=len(units)):
        rows, placed = insert_unit(out_dir, unit, config)
        participants += rows
        lesions += placed
        logger.info('%s: %d copies, %d lesions', unit.name, len(rows), len(placed))
    table = out_dir / 'participants.tsv'
    _write_tsv(table, _read_tsv(table) + participants, ('participant_id',))
    table = out_dir / 'derivatives' / 'labels' / 'insertions.tsv'
    _write_tsv(table, _read_tsv(table) + lesions, LESION_COLUMNS)
    return len(participants), len(lesions)
