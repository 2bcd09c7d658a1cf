"""What a study folder records about itself, so its tables can be remade from the folder alone.

- ``study.json``: the runs (model, variant, seed, slots, dependency), the combinations kept with
  their fractions, the training and test units, the shared training settings, the cohort column
  and the command line.
- ``test_units.tsv``: each held-out unit and its cohort (``n/a`` without one).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bids_app.errors import UsageError
from bids_app.study.plan import StudyRun

STUDY_NAME = 'study.json'
TEST_UNITS_NAME = 'test_units.tsv'
NO_COHORT = 'n/a'


def write_manifest(study_dir: Path, runs: Sequence[StudyRun], about: Mapping[str, Any]) -> Path:
    """Write ``study.json``: ``about`` plus the runs."""
    path = Path(study_dir) / STUDY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**about, 'runs': [run.to_dict() for run in runs]}
    path.write_text(json.dumps(document, indent=2) + '\n')
    return path


def read_manifest(study_dir: Path) -> tuple[list[StudyRun], dict[str, Any]]:
    """The runs and the rest of ``study.json``.

    Raises
    ------
    UsageError
        The folder holds no study.
    """
    path = Path(study_dir) / STUDY_NAME
    if not path.is_file():
        raise UsageError(
            f'{path} does not exist; give the OUTPUT_DIR of a study '
            '(sclesion BIDS_DIR OUTPUT_DIR train --study variants)'
        )
    document = json.loads(path.read_text())
    runs = [StudyRun.from_dict(r) for r in document.pop('runs')]
    return runs, document


def write_test_units(study_dir: Path, cohorts: Mapping[str, str | None]) -> Path:
    """``unit``/``cohort`` TSV of the held-out units."""
    path = Path(study_dir) / TEST_UNITS_NAME
    lines = ['unit\tcohort'] + [f'{u}\t{c or NO_COHORT}' for u, c in sorted(cohorts.items())]
    path.write_text('\n'.join(lines) + '\n')
    return path


def read_test_units(study_dir: Path) -> dict[str, str]:
    """Held-out unit -> its cohort (``n/a`` without one)."""
    with (Path(study_dir) / TEST_UNITS_NAME).open(newline='') as stream:
        return {row['unit']: row['cohort'] for row in csv.DictReader(stream, delimiter='\t')}
