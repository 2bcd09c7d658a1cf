"""Write Table 1 and its per-unit and per-lesion details: TSV, JSON and a markdown table.

Files in the output folder:

- ``table1.tsv`` / ``table1.json``: one line per row of Table 1; the JSON adds the column
  descriptions, the faint-lesion definition with its threshold, the model and the settings.
- ``units.tsv``: one line per unit and row (the paired values behind the Wilcoxon tests).
- ``lesions.tsv``: one line per reference lesion: its T2Sag contrast, its class, and whether
  each row detects it.
- ``false_lesions.tsv``: one line per false-positive lesion and row: its size, the network's
  confidence and its place along the cord (:class:`~bids_app.evaluation.scoring.FalseLesion`),
  whether its unit has reference lesions at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, astuple
from pathlib import Path

from bids_app.evaluation.faint import FAINT_CONTRAST, classify
from bids_app.evaluation.scoring import UnitEvaluation
from bids_app.evaluation.table import COLUMNS, TableRow, contrast_summary

UNIT_COLUMNS: dict[str, str] = {
    'unit': 'Subject/session',
    'row': 'Row of Table 1',
    'slots': 'Sequences given to the model, comma-separated',
    'dice': 'Voxel-wise Dice in the cord frame',
    'f1': 'Lesion-wise F1',
    'sensitivity': 'Lesion-wise sensitivity; n/a without reference lesions',
    'precision': 'Lesion-wise precision; n/a without predicted lesions',
    'n_ref': 'Reference lesions',
    'n_pred': 'Predicted lesions after post-processing',
}
LESION_COLUMNS: dict[str, str] = {
    'unit': 'Subject/session',
    'lesion': 'Reference lesion number in the cord frame (scipy.ndimage.label order)',
    'volume_mm3': 'Lesion volume in the cord frame, mm^3',
    'contrast': 'Mean z-scored T2Sag in the lesion minus in the surrounding cord shell (SD)',
    'class': 'faint, conspicuous, or unclassified (no surrounding cord)',
    'detected_<row>': '1 when that row detects the lesion, 0 when not, n/a when the unit is '
    'not in that row',
}

FALSE_LESION_COLUMNS: dict[str, str] = {
    'unit': 'Subject/session',
    'row': 'Row of Table 1',
    'lesion_free_unit': '1 when the unit has no reference lesion, else 0',
    'volume_mm3': 'Predicted lesion volume in the cord frame, mm^3',
    'peak_probability': "The network's highest lesion probability in it",
    'mean_probability': "The network's mean lesion probability over it",
    'z_mm': 'World z (RAS+ mm) of its centre along the cord frame',
    'mm_to_view_edge': 'Along the cord, from its nearest slice to the nearest slice outside the '
    'field of view of the sequences given, mm (0: touching the edge)',
}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return 'n/a' if math.isnan(value) else f'{value:.6g}'
    return str(value)


def _write_tsv(path: Path, header: Sequence[str], lines: Sequence[Sequence[object]]) -> Path:
    text = ['\t'.join(header), *('\t'.join(_cell(v) for v in line) for line in lines)]
    path.write_text('\n'.join(text) + '\n')
    return path


def write_unit_scores(path: Path, evaluations: Sequence[UnitEvaluation]) -> Path:
    """``units.tsv``: one line per unit and row of Table 1 (:data:`UNIT_COLUMNS`)."""
    lines = [
        [u.unit, row, ','.join(map(str, s.slots)), s.dice, s.f1, s.sensitivity, s.precision,
         u.n_ref, s.n_pred]
        for u in evaluations
        for row, s in u.scores.items()
    ]  # fmt: skip
    return _write_tsv(path, list(UNIT_COLUMNS), lines)


def write_false_lesions(path: Path, evaluations: Sequence[UnitEvaluation]) -> Path:
    """``false_lesions.tsv`` (:data:`FALSE_LESION_COLUMNS`)."""
    lines = [
        [u.unit, row, int(u.n_ref == 0), *astuple(lesion)]
        for u in evaluations
        for row, s in u.scores.items()
        for lesion in s.false_lesions
    ]
    return _write_tsv(path, list(FALSE_LESION_COLUMNS), lines)


def _json_value(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_outputs(
    out_dir: Path,
    table: Sequence[TableRow],
    evaluations: Sequence[UnitEvaluation],
    *,
    faint_contrast: float = FAINT_CONTRAST,
    about: Mapping[str, object] | None = None,
) -> dict[str, Path]:
    """Write the files listed in the module docstring; return name -> path.

    Parameters
    ----------
    out_dir : Path
        Created if needed.
    table : sequence of TableRow
    evaluations : sequence of UnitEvaluation
    faint_contrast : float
        The faint threshold that ``table`` used.
    about : mapping, optional
        Provenance for the JSON (model, datasets, post-processing, command line).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [r.row for r in table]
    paths = {
        'table1.tsv': _write_tsv(
            out_dir / 'table1.tsv', list(COLUMNS), [list(asdict(r).values()) for r in table]
        )
    }
    paths['units.tsv'] = write_unit_scores(out_dir / 'units.tsv', evaluations)
    paths['false_lesions.tsv'] = write_false_lesions(out_dir / 'false_lesions.tsv', evaluations)
    lesions = []
    for u in evaluations:
        classes = classify(u.contrast, faint_contrast)
        for k in range(u.n_ref):
            found = [
                str(int(u.scores[row].detected[k])) if row in u.scores else 'n/a' for row in rows
            ]
            lesions.append([u.unit, k + 1, u.volume_mm3[k], u.contrast[k], classes[k], *found])
    header = [*list(LESION_COLUMNS)[:-1], *(f'detected_{row}' for row in rows)]
    paths['lesions.tsv'] = _write_tsv(out_dir / 'lesions.tsv', header, lesions)
    document = {
        'description': 'Table 1 of Walsh et al. (MICCAI 2024) on a held-out labelled dataset, '
        'scored in the cord frame (the model frame) after the participant-level '
        'post-processing',
        'columns': COLUMNS,
        'rows': [{k: _json_value(v) for k, v in asdict(r).items()} for r in table],
        'faint_lesions': {
            'definition': 'mean z-scored T2Sag in the lesion minus in its surrounding cord '
            'shell below faint_contrast (crop standard deviations); see docs/evaluation.md',
            **{
                k: _json_value(v) for k, v in contrast_summary(evaluations, faint_contrast).items()
            },
        },
        'unit_columns': UNIT_COLUMNS,
        'lesion_columns': LESION_COLUMNS,
        'false_lesion_columns': FALSE_LESION_COLUMNS,
        **dict(about or {}),
    }
    paths['table1.json'] = out_dir / 'table1.json'
    paths['table1.json'].write_text(json.dumps(document, indent=2) + '\n')
    return paths


def markdown_table(table: Sequence[TableRow]) -> str:
    """Table 1 as GitHub markdown; each row's T2Sag-alone figures on the same units in brackets.

    Examples
    --------
    >>> row = TableRow('T2Sag+STIR', 4, 1, 0.7, 0.1, 0.6, 0.25, 0.9, 0.05, 0.8, 0.5,
    ...                2, 1.0, 0.5, 4, 1.0, 1.0, 1.0, 0.0, 0.0)
    >>> print(markdown_table([row]).splitlines()[-1])
    | T2Sag+STIR | 4 (1) | 0.700 (0.600) | 0.25 | 0.900 (0.800) | 0.5 | 1.00 (0.50) of 2 | 1.00 (1.00) of 4 | 1.00 (0.00) of 1 |
    """  # noqa: E501
    lines = [
        '| Sequences at inference | Units (lesion-free) | Dice (T2Sag alone) | p '
        '| Lesion F1 (T2Sag alone) | p | Sensitivity, faint lesions '
        '| Sensitivity, conspicuous lesions | Lesion-free units without false positives |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for r in table:
        lines.append(
            f'| {r.row} | {r.n_units} ({r.n_lesion_free}) '
            f'| {r.dice:.3f} ({r.dice_t2sag:.3f}) | {_p(r.dice_p)} '
            f'| {r.f1:.3f} ({r.f1_t2sag:.3f}) | {_p(r.f1_p)} '
            f'| {_sens(r.faint_sensitivity, r.faint_sensitivity_t2sag, r.n_faint)} '
            f'| {_sens(r.conspicuous_sensitivity, r.conspicuous_sensitivity_t2sag, r.n_conspicuous)} '  # noqa: E501
            f'| {_sens(r.lesion_free_clean, r.lesion_free_clean_t2sag, r.n_lesion_free)} |'
        )
    return '\n'.join(lines)


def _p(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2g}'


def _sens(row: float, t2sag: float, n: int) -> str:
    if n == 0:
        return 'none'
    return f'{row:.2f} ({t2sag:.2f}) of {n}'
