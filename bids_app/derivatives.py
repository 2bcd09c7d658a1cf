"""Names and atomic writing of the BIDS derivatives (CONVENTIONS section 4)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bids_app import __version__
from bids_app.errors import OutputWriteError, UsageError
from bids_app.labels import source_stem

_CHUNK = re.compile(r'_chunk-[0-9a-zA-Z]+')

#: Columns of the per-unit ``desc-lesions_summary.tsv`` and their descriptions.
SUMMARY_COLUMNS = {
    'participant_id': {'Description': 'Participant label with its sub- prefix'},
    'session_id': {'Description': 'Session label with its ses- prefix, n/a without sessions'},
    'slots_used': {'Description': 'Comma-separated sequence slots the model was given'},
    'slots_dropped': {
        'Description': 'Slots found but left out of inference, each with its reason '
        '("slot: reason", semicolon-separated), n/a when none'
    },
    'n_lesions': {
        'Description': 'Number of lesions (26-connected components of the mask in the cord '
        'frame, each one lesion on the native grid even where its slices cut it in pieces)'
    },
    'total_volume_mm3': {'Description': 'Total lesion volume', 'Units': 'mm^3'},
    'centerline_provider': {'Description': 'Centreline provider of each slot, slot:provider'},
    'model': {'Description': 'Model name and the first 12 hex digits of its weights sha256'},
    'threshold': {'Description': 'Probability threshold of the mask'},
    'grow_threshold': {
        'Description': 'Hysteresis: each lesion extends over the voxels of at least this '
        'probability connected to one at the threshold (equal to it: plain thresholding)'
    },
    'min_lesion_mm3': {
        'Description': 'Smallest lesion kept in the mask (26-connected components below it were '
        'removed)',
        'Units': 'mm^3',
    },
    'tta': {
        'Description': 'Whether the probabilities averaged those of the left-right mirror '
        '(test-time augmentation: --tta, or the model card)',
        'Levels': {'true': 'mirrored and averaged', 'false': 'one pass'},
    },
}


def split_source(path: Path) -> tuple[str, str]:
    """(entities without ``chunk``, suffix) of a raw file name.

    >>> split_source(Path('sub-01_ses-M0_acq-sag_chunk-1_T2w.nii.gz'))
    ('sub-01_ses-M0_acq-sag', 'T2w')
    """
    entities, suffix = source_stem(path).rsplit('_', 1)
    return _CHUNK.sub('', entities), suffix


def unit_folder(subject: str, session: str | None) -> Path:
    """``sub-<s>[/ses-<t>]/anat``, relative to the output folder."""
    folder = Path(f'sub-{subject}')
    if session:
        folder /= f'ses-{session}'
    return folder / 'anat'


def summary_path(output_dir: Path, subject: str, session: str | None) -> Path:
    """The unit's ``desc-lesions_summary.tsv``: written last, its presence marks complete outputs.

    >>> summary_path(Path('out'), '01', 'M0').as_posix()
    'out/sub-01/ses-M0/anat/sub-01_ses-M0_desc-lesions_summary.tsv'
    """
    stem = f'sub-{subject}' + (f'_ses-{session}' if session else '')
    return output_dir / unit_folder(subject, session) / f'{stem}_desc-lesions_summary.tsv'


def derived_name(
    source: Path, *, suffix: str, extension: str, keep_suffix: bool = False, **entities: str
) -> str:
    """A derivative's file name from its source's entities (``desc`` always last).

    Parameters
    ----------
    source : Path
        The raw file it derives from (``chunk`` is dropped: chunks were fused).
    suffix : str
        The derivative's suffix (``mask``, ``probseg``...), or '' for none.
    keep_suffix : bool
        Put the source's suffix right after its entities, as NeuroPoly names files derived
        from one image (``<source name>_desc-centerline``).
    extension : str
        e.g. ``.nii.gz``, ``.tsv``.
    entities : str
        ``space``, ``label``, ``desc`` in that order when given.

    Examples
    --------
    >>> src = Path('sub-01_ses-M0_acq-sag_chunk-2_T2w.nii.gz')
    >>> derived_name(src, suffix='mask', extension='.nii.gz', label='lesion')
    'sub-01_ses-M0_acq-sag_label-lesion_mask.nii.gz'
    >>> derived_name(src, suffix='T2w', extension='.nii.gz', space='cord', desc='crop')
    'sub-01_ses-M0_acq-sag_space-cord_desc-crop_T2w.nii.gz'
    """
    base, source_suffix = split_source(source)
    parts = [base]
    if keep_suffix:
        parts.append(source_suffix)
    for key in ('space', 'label', 'desc'):
        if key in entities:
            parts.append(f'{key}-{entities[key]}')
    if suffix:
        parts.append(suffix)
    return '_'.join(parts) + extension


def centerline_name(source: Path) -> str:
    """NeuroPoly style: the source name plus ``_desc-centerline.tsv`` (chunks dropped).

    >>> centerline_name(Path('sub-01_acq-ax_chunk-1_T2starw.nii.gz'))
    'sub-01_acq-ax_T2starw_desc-centerline.tsv'
    """
    return derived_name(source, suffix='', extension='.tsv', keep_suffix=True, desc='centerline')


def bids_uri(path: Path, root: Path, dataset: str = 'raw') -> str:
    """``bids:<dataset>:<relative path>`` (``bids::`` for the output dataset itself)."""
    return f'bids:{dataset}:{path.relative_to(root).as_posix()}'


def file_mode() -> int:
    """Permissions of a new file under the current umask (``mkstemp`` would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: What to do when a write fails, by errno (the rest: check the folder).
_WRITE_ADVICE = {
    errno.ENOSPC: 'free space on that disk',
    errno.EDQUOT: 'free space within your disk quota',
    errno.EACCES: 'make the folder writable',
    errno.EPERM: 'make the folder writable',
    errno.EROFS: 'the file system is read-only: choose a writable one',
}


def write_error(path: Path, error: OSError) -> OutputWriteError:
    """One line naming ``path``, what went wrong and what to do."""
    advice = _WRITE_ADVICE.get(error.errno, 'check that folder')
    return OutputWriteError(
        f'cannot write {path}: {error.strerror or error}; {advice} '
        '(or choose another OUTPUT_DIR / -w) and rerun'
    )


def atomic_write(path: Path, write: Callable[[Path], object], suffix: str = '') -> Path:
    """Call ``write(tmp)`` on a temporary name in ``path``'s folder, then rename it to ``path``.

    A failed write (a full disk) leaves neither the temporary file nor a partial ``path``, and
    raises :class:`~bids_app.errors.OutputWriteError`. ``suffix`` keeps the extension that
    tells a writer its format (``.nii.gz``).
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=suffix, dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as error:
        raise write_error(path, error) from error
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def unit_lock(output_dir: Path, subject: str, session: str | None) -> Path:
    """The lock file of one subject/session, held (``flock``) by the process working on it."""
    return output_dir / unit_folder(subject, session).parent / '.sclesion.lock'


#: ``mkstemp`` names of :func:`atomic_write`: ``.<final name>.<8 random characters>[suffix]``.
_INTERRUPTED_WRITE = re.compile(r'^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9.]+)?$')


def remove_interrupted_writes(folder: Path) -> list[Path]:
    """Delete what killed writes left in ``folder`` (recursively); return what was deleted.

    Only call it while holding the folder's unit lock: then no other process is writing there.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ('.x_mask.nii.gz.k2j4_9ab.nii.gz', '.sclesion.lock', 'x_mask.nii.gz'):
    ...     _ = (root / name).write_text('')
    >>> [p.name for p in remove_interrupted_writes(root)]
    ['.x_mask.nii.gz.k2j4_9ab.nii.gz']
    """
    if not folder.is_dir():
        return []
    leftovers = [
        p
        for p in folder.rglob('.*')
        if p.is_file() and not p.is_symlink() and _INTERRUPTED_WRITE.match(p.name)
    ]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def held_elsewhere(lock: Path) -> bool:
    """Whether another process holds ``lock`` now (False when the file does not exist)."""
    if not lock.is_file():
        return False
    with lock.open('a') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def check_writable(folder: Path, what: str) -> None:
    """Raise ``UsageError`` (exit 2) unless ``folder`` can be created and written in.

    Only looks (``os.access`` on the folder or its nearest existing parent) and writes nothing.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f'the {what} {folder} cannot be created: {existing} is a file; choose another folder'
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f'the {what} {folder} is not writable (no write permission on {existing}, or a '
            'read-only file system); make it writable or choose another folder'
        )


def write_text(path: Path, content: str) -> Path:
    """Write text atomically (a temporary name in the same folder, then rename)."""
    return atomic_write(path, lambda tmp: tmp.write_text(content))


def write_json(path: Path, content: Mapping[str, Any]) -> Path:
    """Write JSON atomically (a temporary name in the same folder, then rename)."""
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(content, indent=2) + '\n'))


def write_tsv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """Write a TSV atomically; missing values become ``n/a``."""

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return 'n/a'
        if isinstance(value, float):
            return f'{value:.6g}'
        return str(value)

    lines = ['\t'.join(columns)]
    lines += ['\t'.join(cell(row.get(c)) for c in columns) for row in rows]
    return atomic_write(path, lambda tmp: tmp.write_text('\n'.join(lines) + '\n'))


def copy_file(source: Path, destination: Path) -> Path:
    """Copy atomically, so a reader never sees a half-written file under the final name."""
    return atomic_write(destination, lambda tmp: shutil.copyfile(source, tmp))


def dataset_description(bids_dir: Path, container: Mapping[str, str] | None = None) -> dict:
    """``dataset_description.json`` of the output (spec: derived dataset description)."""
    generated = {
        'Name': 'sclesion',
        'Version': __version__,
        'CodeURL': 'https://github.com/sclesion/sclesion',
    }
    if container:
        generated['Container'] = dict(container)
    return {
        'Name': 'sclesion outputs',
        'BIDSVersion': '1.10.0',
        'DatasetType': 'derivative',
        'GeneratedBy': [generated],
        'SourceDatasets': [source_dataset(bids_dir)],
        'DatasetLinks': {'raw': bids_dir.absolute().as_uri()},
        'HowToAcknowledge': f'Cite Walsh et al., MICCAI 2024, and sclesion v{__version__}',
    }


def source_dataset(bids_dir: Path) -> dict[str, str]:
    """``SourceDatasets`` entry of the input: its ``file://`` URI, and its DOI when it has one.

    >>> source_dataset(Path('/data/my ds'))
    {'URL': 'file:///data/my%20ds'}
    """
    entry = {'URL': bids_dir.absolute().as_uri()}
    try:
        doi = json.loads((bids_dir / 'dataset_description.json').read_text()).get('DatasetDOI')
    except (OSError, ValueError, AttributeError):
        doi = None
    if isinstance(doi, str) and doi:
        entry['DOI'] = doi if doi.startswith('doi:') else f'doi:{doi}'
    return entry


def container_info() -> dict[str, str] | None:
    """The container the app runs in, recorded only inside sclesion's own image.

    The Dockerfile sets ``SCLESION_IMAGE`` (``sclesion/sclesion:<version>``), which an Apptainer
    image built from it keeps. Elsewhere nothing is recorded, even where ``/.dockerenv`` exists
    (another image, with sclesion installed in it): its name would be a guess.
    """
    image = os.environ.get('SCLESION_IMAGE')
    if not image:
        return None
    sif = os.environ.get('APPTAINER_CONTAINER') or os.environ.get('SINGULARITY_CONTAINER')
    if sif:
        return {'Type': 'apptainer', 'Tag': image, 'URI': Path(sif).absolute().as_uri()}
    return {'Type': 'docker', 'Tag': image}


#: What ``.bidsignore`` hides from the BIDS validator: files the spec does not cover. The schema
#: validator matches a folder by its name without a trailing slash (``figures/`` misses).
BIDSIGNORE = (
    '*.html',
    'logs',
    '**/log',
    '**/figures',
    '*_desc-centerline.tsv',
    '*_desc-centerline.json',
    '*_desc-discs.tsv',
    '*_desc-discs.json',
    '*_summary.tsv',
    '*_summary.json',
    'group_*',
)


def ensure_dataset_description(output_dir: Path, bids_dir: Path) -> Path:
    """Write the output's ``dataset_description.json`` once, and complete its ``.bidsignore``.

    Several participant jobs (a SLURM array) may start at once: the first to create the file
    wins (exclusive create of a temporary, then an atomic no-overwrite link), the others keep it.
    """
    path = output_dir / 'dataset_description.json'
    output_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        content = json.dumps(dataset_description(bids_dir, container_info()), indent=2) + '\n'
        fd, tmp = tempfile.mkstemp(prefix='.dataset_description.', dir=output_dir)
        with os.fdopen(fd, 'w') as handle:
            handle.write(content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    ignore = output_dir / '.bidsignore'
    kept = ignore.read_text().splitlines() if ignore.is_file() else []
    missing = [pattern for pattern in BIDSIGNORE if pattern not in kept]
    if missing:  # an output folder of an older version gets the patterns it lacks
        lines = [*kept, *missing]
        atomic_write(ignore, lambda tmp: tmp.write_text('\n'.join(lines) + '\n'))
    return path
