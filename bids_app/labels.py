"""Find reference labels (cord and lesion masks) in a derivatives folder (CONVENTIONS section 3).

Spine datasets name a label after its whole source file, then ``_label-<structure>_<suffix>``:
two suffixes, which pybids cannot parse, so the match is by name on the source's relative path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bids_app.errors import DatasetError

#: Cord-mask suffixes, in order of preference.
CORD_MASK_SUFFIXES = ('_label-SC_seg', '_seg-manual', '_label-SC_softseg', '_label-SC_mask-manual')

#: Intervertebral disc labels as SCT users keep them (point labels, SCT's values: 3 = C2/C3).
DISC_LABEL_SUFFIXES = (
    '_label-disc_dlabel',
    '_label-discs_dlabel',
    '_labels-disc',
    '_labels-disc-manual',
    '_label-disc',
)

#: Lesion-label suffixes, in order of preference (rule 2, ``_desc-<rater>``, is matched apart).
LESION_SUFFIXES = ('_label-lesion_seg', '_lesion-manual', '_label-lesion_softseg')

NIFTI_EXTENSIONS = ('.nii.gz', '.nii')


def source_stem(path: Path) -> str:
    """The file name without its NIfTI extension.

    >>> source_stem(Path('sub-01_acq-sag_T2w.nii.gz'))
    'sub-01_acq-sag_T2w'
    """
    name = path.name
    for extension in NIFTI_EXTENSIONS:
        if name.endswith(extension):
            return name[: -len(extension)]
    return path.stem


def _candidates(source: Path, bids_dir: Path, labels_dir: Path, suffix: str) -> list[Path]:
    folder = labels_dir / source.parent.relative_to(bids_dir)
    stem = source_stem(source)
    return [folder / f'{stem}{suffix}{ext}' for ext in NIFTI_EXTENSIONS]


def find_label(
    source: Path, bids_dir: Path, labels_dir: Path, suffixes: Sequence[str]
) -> Path | None:
    """The first existing ``<source stem><suffix>.nii[.gz]`` in ``labels_dir``, by suffix order."""
    for suffix in suffixes:
        for candidate in _candidates(source, bids_dir, labels_dir, suffix):
            if candidate.is_file():
                return candidate
    return None


def find_cord_mask(source: Path, bids_dir: Path, masks_dir: Path) -> Path | None:
    """The cord mask of ``source`` in a derivatives folder, or None."""
    return find_label(source, bids_dir, masks_dir, CORD_MASK_SUFFIXES)


def find_disc_labels(source: Path, bids_dir: Path, folders: Sequence[Path | None]) -> Path | None:
    """The user's disc labels of ``source`` in the first of ``folders`` that has them, or None."""
    for folder in folders:
        if folder is not None:
            found = find_label(source, bids_dir, folder, DISC_LABEL_SUFFIXES)
            if found:
                return found
    return None


def find_lesion_label(
    source: Path, bids_dir: Path, labels_dir: Path, suffix: str | None = None
) -> Path | None:
    """The reference lesion mask of ``source``, or None.

    ``suffix`` (``--lesion-label-suffix``) forces one naming. Otherwise ``_label-lesion_seg``
    wins; then a single ``_desc-<rater>_label-lesion_seg``; several rater files without a
    rule-1 file are an error that lists them.
    """
    if suffix:
        return find_label(source, bids_dir, labels_dir, [suffix])
    found = find_label(source, bids_dir, labels_dir, LESION_SUFFIXES[:1])
    if found:
        return found
    folder = labels_dir / source.parent.relative_to(bids_dir)
    raters = sorted(folder.glob(f'{source_stem(source)}_desc-*_label-lesion_seg.nii*'))
    if len(raters) > 1:
        names = ', '.join(p.name for p in raters)
        raise DatasetError(
            f'several rater lesion masks for {source.name} ({names}); choose one with '
            '--lesion-label-suffix, e.g. _desc-rater1_label-lesion_seg'
        )
    if raters:
        return raters[0]
    found = find_label(source, bids_dir, labels_dir, LESION_SUFFIXES[1:])
    if found:
        return found
    entities = source_stem(source).rsplit('_', 1)[0]  # BIDS form, as sclesion writes its masks
    for extension in NIFTI_EXTENSIONS:
        candidate = folder / f'{entities}_label-lesion_mask{extension}'
        if candidate.is_file():
            return candidate
    return None
