"""Score each trained run on the held-out units: per unit and per set of sequences at inference.

The scoring is :func:`bids_app.evaluation.evaluate_frames` (cord frame, the participant level's
post-processing). A model with mean imputation is given T2Sag alone, T2Sag with each other
sequence, and every sequence a unit has (the rows of Table 1); a model without imputation (the
baseline, feature augmentation, a fixed combination) only its own sequences, on the units that
have them all. Each run's scores go to ``<run>/evaluation/units.tsv``, the input of the study's
tables; ``evaluation.json`` beside it records what they were computed from, so an evaluation is
redone only when the weights, the test units or the post-processing change.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bids_app.device import Device
from bids_app.evaluation.outputs import write_unit_scores
from bids_app.evaluation.scoring import UnitEvaluation, evaluate_frames, frame_slots
from bids_app.evaluation.subsets import Row, table_rows
from bids_app.inference import LesionPredictor
from bids_app.model.card import read_card
from bids_app.model.config import ModelConfig
from bids_app.postprocess import PostprocessOptions
from bids_app.slots import Slot
from bids_app.study.plan import combination_name

logger = logging.getLogger(__name__)

EVALUATION_DIR = 'evaluation'
SCORES_NAME = 'units.tsv'
ABOUT_NAME = 'evaluation.json'


def model_rows(config: ModelConfig, unit_slots: Mapping[str, Iterable[Slot]]) -> list[Row]:
    """The sets of sequences a model is scored with.

    Examples
    --------
    >>> from bids_app.model.config import variant_config
    >>> units = {'sub-1': [Slot.T2Sag, Slot.STIR]}
    >>> [r.name for r in model_rows(variant_config('baseline'), units)]
    ['T2Sag']
    >>> [r.name for r in model_rows(variant_config('combination', slots=['T2Sag', 'STIR']), units)]
    ['T2Sag+STIR']
    >>> [r.name for r in model_rows(variant_config('mean-imputation'), units)]
    ['T2Sag', 'T2Sag+STIR', 'all available']
    """
    if config.imputation == 'none':
        return [Row(combination_name(config.slots), tuple(config.slots))]
    return table_rows(config.slots, unit_slots)


def write_scores(path: Path, evaluations: Sequence[UnitEvaluation]) -> Path:
    """One line per unit and row, with the columns of the evaluation's ``units.tsv``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_unit_scores(path, evaluations)


def read_scores(path: Path) -> list[dict[str, str]]:
    """The lines of a :func:`write_scores` file, as column -> text."""
    with path.open(newline='') as stream:
        return list(csv.DictReader(stream, delimiter='\t'))


def _up_to_date(folder: Path, about: Mapping[str, Any]) -> bool:
    path = folder / ABOUT_NAME
    if not (path.is_file() and (folder / SCORES_NAME).is_file()):
        return False
    saved = json.loads(path.read_text())
    return all(saved.get(key) == value for key, value in about.items())


def evaluate_run(
    model_dir: Path,
    test_frames: Mapping[str, Path],
    *,
    device: Device = 'auto',
    n_threads: int | None = None,
    options: PostprocessOptions | None = None,
) -> Path:
    """Score a trained run on the test units, unless its scores are up to date.

    Parameters
    ----------
    model_dir : Path
        A finished run's model folder.
    test_frames : mapping
        Test unit -> its cord frame ``.npz`` with reference labels.
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    n_threads : int, optional
        Torch threads on the CPU.
    options : PostprocessOptions, optional
        The participant level's post-processing (default its defaults).

    Returns
    -------
    Path
        ``model_dir/evaluation/units.tsv``.
    """
    options = options or PostprocessOptions()
    folder = Path(model_dir) / EVALUATION_DIR
    about = {
        'model_sha256': read_card(model_dir)['weights']['sha256'],
        'test_units': sorted(test_frames),
        'postprocess': asdict(options),
    }
    if _up_to_date(folder, about):
        logger.info('%s: scores up to date', model_dir)
        return folder / SCORES_NAME
    predictor = LesionPredictor.from_model_dir(model_dir, device, n_threads=n_threads)
    unit_slots = {name: frame_slots(path) for name, path in test_frames.items()}
    rows = model_rows(predictor.model.config, unit_slots)
    evaluations = evaluate_frames(predictor, test_frames, rows, options)
    path = write_scores(folder / SCORES_NAME, evaluations)
    # Written last: its presence says the scores are complete.
    (folder / ABOUT_NAME).write_text(
        json.dumps({**about, 'rows': [r.name for r in rows]}, indent=2) + '\n'
    )
    return path
