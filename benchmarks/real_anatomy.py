"""Accuracy on real anatomy held out from training: lesions inserted into real scans.

Run as ``python benchmarks/real_anatomy.py [--model DIR] [--heldout DIR] [--cord-masks]``.

1. The held-out dataset: with ``--heldout``, any labelled BIDS dataset (for instance what
   ``sclesion-insert-lesions`` made of your own healthy scans with cord masks); otherwise it is
   built by the ``sclesion-insert-lesions`` commands that the model's card lists under
   ``training_data.held_out`` (the shipped model's: from ``../shared/data``), the anatomy that
   model was not trained on, each person with its unmodified scans as lesion-free units.
2. ``sclesion-evaluate`` on it (built-in centrelines unless ``--cord-masks``): Table 1 per set
   of sequences, per source person / region, and the share of inserted lesions found per band
   of volume (under 10, 10-20, at least 20 mm^3: the card drops predicted lesions under its
   smallest size, so the smallest are found only when the prediction is larger than the
   lesion), and each false lesion on a lesion-free unit: its volume, the network's confidence in
   it and its distance to the field of view's edge (``false_lesions.tsv``).
3. The participant level with default options on ``../shared/data/sct-example`` as it is (no
   lesion is known there): predicted lesions and their volume per subject.

Prints the tables and writes ``bench-results/real_anatomy.json``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bids_app.cli.evaluate import main as evaluate_main
from bids_app.cli.insert import main as insert_main
from bids_app.evaluation.faint import FAINT
from bids_app.model.card import read_card
from bids_app.model.registry import resolve_model_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared' / 'data'
RESULTS = REPO / 'bench-results' / 'real_anatomy.json'
#: Edges of the lesion volume bands, mm^3.
SIZE_EDGES = (10.0, 20.0)
#: What ``false_lesions.tsv`` tells of each false lesion on a lesion-free unit.
FALSE_LESION_FIGURES = ('volume_mm3', 'peak_probability', 'mean_probability', 'mm_to_view_edge')


def parse_insert_command(command: str) -> tuple[Path, list[str]]:
    """``sclesion-insert-lesions SOURCE OUT OPTIONS...`` -> (SOURCE, OPTIONS).

    A relative SOURCE is taken from the repository root, where the card's commands are run.

    >>> parse_insert_command('sclesion-insert-lesions /data/controls HELDOUT --seed 1')
    (PosixPath('/data/controls'), ['--seed', '1'])
    """
    words = shlex.split(command)
    if len(words) < 3 or words[0] != 'sclesion-insert-lesions':
        raise ValueError(
            f'not an sclesion-insert-lesions command with source and output: {command!r}'
        )
    return (REPO / words[1]).resolve(), words[3:]


def heldout_recipe(model: str | None) -> list[tuple[Path, list[str]]]:
    """The held-out anatomy that the model's card names, as (source dataset, options) pairs."""
    model_dir = resolve_model_dir(model)
    commands = read_card(model_dir).get('training_data', {}).get('held_out')
    if not commands:
        raise SystemExit(
            f'{model_dir / "card.json"} names no held-out anatomy (training_data.held_out): '
            'give --heldout DIR, a labelled dataset of people the model was not trained on'
        )
    return [parse_insert_command(command) for command in commands]


def build_heldout(root: Path, recipe: list[tuple[Path, list[str]]]) -> Path:
    for source, options in recipe:
        code = insert_main([str(source), str(root), *options])
        if code:
            raise SystemExit(f'sclesion-insert-lesions failed on {source} (exit {code})')
    return root


def source_of(unit: str) -> str:
    """``sub-errsm30lowerins03`` -> ``errsm30lower``; ``sub-9418`` -> ``9418``."""
    return re.sub(r'ins\d+$', '', unit.removeprefix('sub-').split('_ses-')[0])


def per_source(units_tsv: Path, row: str) -> dict[str, dict[str, float]]:
    """Mean Dice and F1 over units with lesions, and lesion-free units left clean, per source."""
    with units_tsv.open() as handle:
        rows = [r for r in csv.DictReader(handle, delimiter='\t') if r['row'] == row]
    out: dict[str, dict[str, float]] = {}
    for source in sorted({source_of(r['unit']) for r in rows}):
        mine = [r for r in rows if source_of(r['unit']) == source]
        lesioned = [r for r in mine if int(r['n_ref']) > 0]
        free = [r for r in mine if int(r['n_ref']) == 0]
        out[source] = {
            'units': len(mine),
            'dice': statistics.mean(float(r['dice']) for r in lesioned) if lesioned else None,
            'f1': statistics.mean(float(r['f1']) for r in lesioned) if lesioned else None,
            'lesion_free_predicted': [int(r['n_pred']) for r in free],
        }
    return out


def found_by_size(lesions_tsv: Path, row: str) -> list[dict]:
    """Reference lesions and those found with the sequences of ``row``, per band of volume, with
    how many of each were faint (the evaluation's ``class``: low contrast in the image).

    Lesions the row does not score (``n/a``: a unit without its sequences) are left out.
    """
    with lesions_tsv.open() as handle:
        lesions = [
            (float(r['volume_mm3']), int(r[f'detected_{row}']), r.get('class') == FAINT)
            for r in csv.DictReader(handle, delimiter='\t')
            if r[f'detected_{row}'] != 'n/a'
        ]
    edges = (0.0, *SIZE_EDGES, math.inf)
    bands = []
    for low, high in itertools.pairwise(edges):
        mine = [(found, faint) for volume, found, faint in lesions if low <= volume < high]
        bands.append(
            {
                'band_mm3': _band_name(low, high),
                'lesions': len(mine),
                'found': sum(found for found, _ in mine),
                'faint': sum(faint for _, faint in mine),
                'faint_found': sum(found for found, faint in mine if faint),
            }
        )
    return bands


def false_lesions_when_free(false_lesions_tsv: Path) -> list[dict]:
    """Every false lesion on a unit without reference lesions (``sclesion-evaluate``'s
    ``false_lesions.tsv``): which unit and row, its size, confidence and place."""
    with false_lesions_tsv.open() as handle:
        return [
            {
                'unit': r['unit'],
                'row': r['row'],
                **{k: float(r[k]) for k in FALSE_LESION_FIGURES},
            }
            for r in csv.DictReader(handle, delimiter='\t')
            if r['lesion_free_unit'] == '1'
        ]


def _band_name(low: float, high: float) -> str:
    """``under 10``, ``10-20``, ``20+``."""
    if low == 0:
        return f'under {high:g}'
    return f'{low:g}+' if high == math.inf else f'{low:g}-{high:g}'


def tta_flag(tta: bool | None) -> list[str]:
    """``--tta`` / ``--no-tta`` when chosen, nothing to leave it to the model card."""
    return [] if tta is None else ['--tta' if tta else '--no-tta']


def lesion_free_scans(model: str | None, work: Path, tta: bool | None) -> list[dict]:
    """Participant level, default options, on sct-example as it is."""
    from bids_app.cli.run import main as sclesion_main

    source = SHARED / 'sct-example'
    out = work / 'sct-example-out'
    argv = [str(source), str(out), 'participant', '-w', str(work / 'w'), '--nprocs', '2']
    argv += ['--model', model] if model else []
    argv += tta_flag(tta)
    sclesion_main(argv)
    found = []
    for summary in sorted(out.glob('sub-*/**/*_desc-lesions_summary.tsv')):
        with summary.open() as handle:
            (row,) = list(csv.DictReader(handle, delimiter='\t'))
        found.append(
            {
                'unit': row['participant_id'],
                'slots_used': row['slots_used'],
                'n_lesions': int(row['n_lesions']),
                'total_volume_mm3': float(row['total_volume_mm3']),
            }
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', help='model folder or name (default: the shipped model)')
    parser.add_argument('--heldout', type=Path, help='a labelled held-out BIDS dataset')
    parser.add_argument(
        '--cord-masks', action='store_true', help='centrelines from the cord masks'
    )
    parser.add_argument(
        '--tta', action=argparse.BooleanOptionalAction,
        help="mirroring test-time augmentation in both runs (default: the model card's)",
    )  # fmt: skip
    parser.add_argument('--work', type=Path, help='work folder to keep (default: temporary)')
    args = parser.parse_args(argv)
    recipe = None if args.heldout else heldout_recipe(args.model)
    absent = [str(source) for source, _ in recipe or [] if not source.is_dir()]
    if absent:
        print(f'{", ".join(absent)} absent: give --heldout DIR; nothing measured')
        return 0
    os.environ.setdefault('SCLESION_PROGRESS', 'off')
    with tempfile.TemporaryDirectory(prefix='sclesion-real-') as tmp:
        work = args.work or Path(tmp)
        heldout = args.heldout or build_heldout(work / 'heldout', recipe)
        labels = heldout / 'derivatives' / 'labels'
        out = work / 'evaluation'
        command = [str(heldout), '--labels', str(labels), '--out', str(out), '-w', str(work)]
        command += ['--skip-bids-validation', '--nprocs', '2']
        command += ['--model', args.model] if args.model else []
        command += ['--cord-masks', str(labels)] if args.cord_masks else []
        command += tta_flag(args.tta)
        started = time.perf_counter()
        if evaluate_main(command):
            return 1
        seconds = time.perf_counter() - started
        table = json.loads((out / 'table1.json').read_text())
        sources = {row['row']: per_source(out / 'units.tsv', row['row']) for row in table['rows']}
        sizes = {
            row['row']: found_by_size(out / 'lesions.tsv', row['row']) for row in table['rows']
        }
        false_when_free = false_lesions_when_free(out / 'false_lesions.tsv')
        free = lesion_free_scans(args.model, work, args.tta) if SHARED.is_dir() else []
    conditions = {
        'heldout': str(args.heldout or "built by the card's training_data.held_out"),
        'model': table['model'],
        'centrelines': 'cord masks' if args.cord_masks else 'built-in',
        'tta': table.get('tta'),
        'threads': 2,
        'device': 'cpu',
        'evaluation_seconds': round(seconds, 1),
    }
    print(f'real-anatomy benchmark: {conditions}')
    print(f'{"sequences":<18} {"units (free)":>12} {"Dice":>6} {"F1":>6} {"free clean":>10}')
    for row in table['rows']:
        units = f'{row["n_units"]} ({row["n_lesion_free"]})'
        print(
            f'{row["row"]:<18} {units:>12} {row["dice"]:>6.3f} {row["f1"]:>6.3f} '
            f'{row["lesion_free_clean"] if row["lesion_free_clean"] is not None else "n/a":>10}'
        )
    for row, groups in sources.items():
        for source, values in groups.items():
            dice = 'n/a' if values['dice'] is None else f'{values["dice"]:.3f}'
            f1 = 'n/a' if values['f1'] is None else f'{values["f1"]:.3f}'
            print(
                f'  {row:<16} {source:<14} Dice {dice:>6} F1 {f1:>6} '
                f'lesion-free predicted {values["lesion_free_predicted"]}'
            )
    for row, bands in sizes.items():
        found = ', '.join(
            f'{b["band_mm3"]} mm3 {b["found"]}/{b["lesions"]} '
            f'(faint {b["faint_found"]}/{b["faint"]})'
            for b in bands
        )
        print(f'  {row:<16} lesions found by volume: {found}')
    for lesion in false_when_free:
        print(
            f'  false lesion on lesion-free {lesion["unit"]} ({lesion["row"]}): '
            f'{lesion["volume_mm3"]:.0f} mm3, probability peak {lesion["peak_probability"]:.2f} '
            f'mean {lesion["mean_probability"]:.2f}, '
            f"{lesion['mm_to_view_edge']:.1f} mm from the field of view's edge"
        )
    for unit in free:
        print(
            f'lesion-free real scan {unit["unit"]} ({unit["slots_used"]}): '
            f'{unit["n_lesions"]} lesions, {unit["total_volume_mm3"]:.0f} mm3'
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                'conditions': conditions,
                'rows': table['rows'],
                'per_source': sources,
                'found_by_size': sizes,
                'false_lesions_on_lesion_free_units': false_when_free,
                'lesion_free_scans': free,
            },
            indent=2,
        )
        + '\n'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
