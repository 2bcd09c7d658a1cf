"""Checks of the input dataset before any work: the folder, its labels, the BIDS validator."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from bids import BIDSLayout
from bids.layout.index import BIDSLayoutIndexer
from bids.layout.validation import DEFAULT_LOCATIONS_TO_IGNORE

from bids_app.errors import DatasetError

logger = logging.getLogger(__name__)

#: Executables of the schema-based validator, in order of preference (PyPI's deno build, npm's).
VALIDATORS = ('bids-validator-deno', 'bids-validator')


def check_dataset_folder(bids_dir: Path) -> None:
    """Raise ``DatasetError`` unless ``bids_dir`` looks like a BIDS dataset at all."""
    if not bids_dir.exists():
        raise DatasetError(f'{bids_dir} does not exist; give the path of a BIDS dataset')
    if not bids_dir.is_dir():
        raise DatasetError(f'{bids_dir} is not a folder; give the path of a BIDS dataset')
    description = bids_dir / 'dataset_description.json'
    if not description.is_file():
        raise DatasetError(
            f'{description} is missing: {bids_dir} is not a BIDS dataset '
            '(add a dataset_description.json with at least Name and BIDSVersion)'
        )
    try:
        json.loads(description.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f'{description} is not valid JSON ({exc}); fix or rewrite it') from exc


def find_validator() -> str | None:
    """Path of a BIDS validator executable, looking next to this Python first (a venv's bin)."""
    here = Path(sys.executable).parent
    for name in VALIDATORS:
        candidate = here / name
        if candidate.is_file():
            return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    return None


def run_validator(bids_dir: Path, cache_dir: Path | None = None) -> None:
    """Run the schema-based BIDS validator; raise ``DatasetError`` if it reports errors.

    A missing validator is a warning, not an error (fMRIPrep does the same). Its runtime (deno)
    keeps its cache in ``cache_dir`` (the work folder), else in a temporary folder removed
    afterwards (``--dry-run`` writes nothing), never in HOME.
    """
    executable = find_validator()
    if executable is None:
        logger.warning('no BIDS validator installed (bids-validator-deno); skipping validation')
        return
    logger.info('validating %s with %s', bids_dir, executable)
    place = (
        nullcontext(str(cache_dir / 'deno'))
        if cache_dir
        else tempfile.TemporaryDirectory(prefix='sclesion-deno-')
    )
    with place as deno_dir:
        result = subprocess.run(
            [executable, str(bids_dir), '--format', 'json', '--ignoreWarnings'],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, 'DENO_DIR': deno_dir},
        )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f'the BIDS validator failed on {bids_dir} ({result.stderr.strip()[:200]}); '
            'rerun with --skip-bids-validation to go on without it'
        ) from exc
    errors = [i for i in report['issues']['issues'] if i.get('severity') == 'error']
    if errors:
        first = errors[0]
        codes = sorted({i['code'] for i in errors})
        raise DatasetError(
            f'{bids_dir} is not valid BIDS: {len(errors)} error(s) ({", ".join(codes)}), e.g. '
            f'{first["code"]} at {first.get("location", "?")}; fix them, or rerun with '
            '--skip-bids-validation (needed for non-BIDS names such as _STIR)'
        )


#: A BIDS label: letters and digits only (BIDS, Entities).
_LABEL = re.compile(r'[a-zA-Z0-9]+')


@dataclass(frozen=True)
class InvalidLabel:
    """A ``sub-``/``ses-`` folder whose label BIDS does not allow (pybids would misread it).

    ``sub-a b`` would be indexed as subject ``a`` (merged with a real ``sub-a``), ``sub-ü1``
    not at all; such a folder is left out of the index and its unit fails, saying why.
    """

    folder: Path
    subject: str
    session: str | None

    @property
    def message(self) -> str:
        """One line: the folder, what is wrong, the new name to give it."""
        label = self.folder.name.split('-', 1)[1]
        fixed = self.folder.name.split('-', 1)[0] + '-' + (_ascii_label(label) or '<label>')
        return (
            f'{self.folder}: the label {label!r} is not a BIDS label (letters and digits only), '
            f'so its images were left out; rename the folder and its files (e.g. {fixed})'
        )


def _ascii_label(label: str) -> str:
    """The label's letters and digits, accents removed.

    >>> _ascii_label('a b'), _ascii_label('ü1')
    ('ab', 'u1')
    """
    plain = unicodedata.normalize('NFKD', label).encode('ascii', 'ignore').decode()
    return ''.join(_LABEL.findall(plain))


def invalid_labels(bids_dir: Path) -> list[InvalidLabel]:
    """Every ``sub-*`` folder, and ``ses-*`` folder in a valid one, with an invalid label."""
    found = []
    for subject in sorted(p for p in bids_dir.glob('sub-*') if p.is_dir()):
        label = subject.name[len('sub-') :]
        if not _LABEL.fullmatch(label):
            found.append(InvalidLabel(subject, label, None))
            continue
        for session in sorted(p for p in subject.glob('ses-*') if p.is_dir()):
            if not _LABEL.fullmatch(session.name[len('ses-') :]):
                found.append(InvalidLabel(session, label, session.name[len('ses-') :]))
    return found


def index_dataset(bids_dir: Path, database_path: Path | None = None) -> BIDSLayout:
    """Index ``bids_dir`` with pybids (validation is the validator's job, not pybids').

    Folders with invalid labels (:func:`invalid_labels`) are left out of the index.
    """
    ignore = [str(bad.folder.relative_to(bids_dir)) for bad in invalid_labels(bids_dir)]
    return BIDSLayout(
        str(bids_dir),
        validate=False,
        database_path=str(database_path) if database_path else None,
        indexer=BIDSLayoutIndexer(ignore=[*DEFAULT_LOCATIONS_TO_IGNORE, *ignore]),
    )
