"""Whether a unit's finished outputs can be reused: a record of what made them.

When a unit finishes, ``sub-<s>[/ses-<t>]/log/outputs.json`` records what made its outputs: the
sclesion version, each input image's identity (path, size, modification time, sha256), the
model's weights sha256, and every option that changes them (threshold, minimum lesion size,
test-time augmentation, precision, centreline providers, the images used per slot, which
follow from ``--ignore``, ``--bids-filter-file`` and ``--force-sequences``). A rerun reuses the
outputs only when the record matches what it would use now; otherwise the unit is recomputed and
one line says why. An image whose size and modification time are unchanged is taken as
unchanged without reading it, so a rerun with nothing changed reads no image; one whose time
changed is compared by its sha256 (a copy with the same content is still the same input).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bids_app import __version__
from bids_app.derivatives import unit_folder, write_json
from bids_app.model.card import sha256_file
from bids_app.workflows.base import InferenceOptions, UnitPlan

RECORD_NAME = 'outputs.json'

#: Option -> how the user changes it, for the line that says why a unit is recomputed.
_OPTIONS = {
    'threshold': '--threshold',
    'grow_threshold': '--grow-threshold',
    'min_lesion_mm3': '--min-lesion-mm3',
    'tta': '--tta',
    'precision': '--bf16',
    'force_sequences': '--force-sequences',
    'ignore': '--ignore',
    'providers': 'the centreline providers (--centerline, --cord-masks)',
}


def record_path(output_dir: Path, plan: UnitPlan) -> Path:
    """``OUTPUT_DIR/sub-<s>[/ses-<t>]/log/outputs.json``."""
    folder = unit_folder(plan.unit.subject, plan.unit.session).parent
    return output_dir / folder / 'log' / RECORD_NAME


def _stat(path: Path) -> dict[str, int]:
    status = path.stat()
    return {'size': status.st_size, 'mtime_ns': status.st_mtime_ns}


def _inputs(plan: UnitPlan) -> dict[str, list[str]]:
    """Slot -> its images, then ``<slot> cord mask`` -> its masks (paths as text)."""
    files = {str(slot): [str(p) for p in paths] for slot, paths in plan.unit.slots.items()}
    files |= {f'{slot} cord mask': [str(p) for p in paths] for slot, paths in plan.masks.items()}
    if plan.disc_labels:
        files['disc labels'] = [str(plan.disc_labels)]
    return files


def settings(
    plan: UnitPlan, inference: InferenceOptions, ignore: tuple[str, ...]
) -> dict[str, Any]:
    """What, besides the images' content, makes a unit's outputs (JSON-ready)."""
    post = inference.postprocess
    return {
        'software_version': __version__,
        'model': {'folder': str(inference.model_dir), 'sha256': inference.model_sha256},
        'options': {
            'threshold': post.threshold,
            # None without growing: a new --threshold alone is one change, not two
            'grow_threshold': post.grow_threshold if post.grows else None,
            'min_lesion_mm3': post.min_lesion_mm3,
            'tta': inference.tta,
            'precision': inference.precision,
            'force_sequences': plan.keep_untrusted,
            'ignore': sorted(ignore),
            'providers': {str(slot): provider for slot, provider in plan.providers.items()},
            'sct_vertebrae': plan.sct_vertebrae,
        },
        'files': _inputs(plan),
    }


def make_record(
    plan: UnitPlan, inference: InferenceOptions, ignore: tuple[str, ...]
) -> dict[str, Any] | None:
    """The record of a unit about to run: :func:`settings` and each input's identity.

    None when an input cannot be read now (the unit fails on it; no record is written).
    """
    paths = {p for paths in _inputs(plan).values() for p in paths}
    try:
        identity = {p: {**_stat(Path(p)), 'sha256': sha256_file(Path(p))} for p in sorted(paths)}
    except OSError:
        return None
    return {**settings(plan, inference, ignore), 'identity': identity}


def write_record(output_dir: Path, plan: UnitPlan, record: Mapping[str, Any]) -> Path:
    """Write ``record`` with the unit's outputs (atomically)."""
    return write_json(record_path(output_dir, plan), record)


def _shown(value: Any) -> str:
    if value is None:
        return 'none'
    if isinstance(value, bool):
        return 'on' if value else 'off'
    if isinstance(value, dict):
        return ', '.join(f'{k}: {v}' for k, v in value.items()) or 'none'
    if isinstance(value, list):
        return ' '.join(map(str, value)) or 'none'
    return f'{value:g}' if isinstance(value, float) else str(value)


def _model(model: Mapping[str, str]) -> str:
    return f'{model["folder"]} (sha256 {model["sha256"][:12]})'


def _input_changes(old: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the images recorded and those the unit has now."""
    if old['files'] != now['files']:
        before = {Path(p).name for paths in old['files'].values() for p in paths}
        after = {Path(p).name for paths in now['files'].values() for p in paths}
        added, removed = sorted(after - before), sorted(before - after)
        parts = [f'{", ".join(added)} added'] * bool(added)
        parts += [f'{", ".join(removed)} left out'] * bool(removed)
        return [f'input images changed ({"; ".join(parts) or "other paths or slots"})']
    changed = []
    for path, identity in old['identity'].items():
        try:
            status = _stat(Path(path))
        except OSError:
            changed.append(f'{Path(path).name} cannot be read')
            continue
        same_stat = status == {k: identity[k] for k in ('size', 'mtime_ns')}
        if not same_stat and sha256_file(Path(path)) != identity['sha256']:
            changed.append(f'{Path(path).name} changed')
    return changed


def changes(old: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[str]:
    """Why outputs made as ``old`` records differ from what :func:`settings` gives ``now``.

    Examples
    --------
    >>> base = {'software_version': '0.1.0', 'model': {'folder': '/m/a', 'sha256': 'ab' * 32},
    ...         'options': {'threshold': 0.5, 'tta': False}, 'files': {}, 'identity': {}}
    >>> now = {**base, 'options': {'threshold': 0.95, 'tta': True}}
    >>> changes(base, now)
    ['--threshold changed (0.5 -> 0.95)', '--tta changed (off -> on)']
    >>> changes(None, base)
    ['no record of what made the outputs (an older sclesion, or an interrupted run)']
    """
    if old is None:
        return ['no record of what made the outputs (an older sclesion, or an interrupted run)']
    why = []
    if old['software_version'] != now['software_version']:
        why.append(f'sclesion changed ({old["software_version"]} -> {now["software_version"]})')
    if old['model'] != now['model']:
        why.append(f'--model changed ({_model(old["model"])} -> {_model(now["model"])})')
    for key, flag in _OPTIONS.items():
        before, after = old['options'].get(key), now['options'].get(key)
        if key in now['options'] and before != after:
            why.append(f'{flag} changed ({_shown(before)} -> {_shown(after)})')
    return why + _input_changes(old, now)


def read_record(output_dir: Path, plan: UnitPlan) -> dict[str, Any] | None:
    """The unit's record, or None when there is none (or it cannot be read)."""
    try:
        record = json.loads(record_path(output_dir, plan).read_text())
    except (OSError, ValueError):
        return None
    keys = {'software_version', 'model', 'options', 'files', 'identity'}
    return record if isinstance(record, dict) and keys <= set(record) else None
