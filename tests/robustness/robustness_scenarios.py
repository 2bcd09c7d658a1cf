"""The robustness cases that need a run of their own: each a context manager yielding a
:class:`Scenario` (``make(tmp, good, model)``), cleaned up when the test is done."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from robustness_inputs import GOOD, Good


@dataclass
class Scenario:
    """A run of its own: the command line, the dataset, and what must come out.

    Attributes
    ----------
    bids : Path
        The input dataset (checksummed before and after).
    argv : list of str
        ``sclesion`` arguments.
    names : str
        What the user's line must name (a path, a file name, a query).
    unit : str
        The unit the line is about (``sub-<label>``), or '' for the whole run.
    processed : list of Path
        Outputs of the other subjects that must exist afterwards.
    before : dict, optional
        Checksums of ``bids`` taken before an earlier run of the scenario itself.
    expect : list of str
        More regular expressions that some output line must match (what ``--dry-run`` lists).
    """

    bids: Path
    argv: list[str]
    names: str
    unit: str = ''
    processed: list[Path] = field(default_factory=list)
    before: dict[str, str] | None = None
    expect: list[str] = field(default_factory=list)


def participant_argv(bids: Path, tmp: Path, model: Path, *extra: str) -> list[str]:
    return [
        str(bids),
        str(tmp / 'out'),
        'participant',
        '-w',
        str(tmp / 'work'),
        '--nprocs',
        '1',
        '--model',
        str(model),
        '--skip-bids-validation',
        *extra,
    ]


def summary(out: Path, label: str) -> Path:
    """The file a unit writes last: its presence means the unit was processed."""
    return out / f'sub-{label}' / 'anat' / f'sub-{label}_desc-lesions_summary.tsv'


def copy_dataset(good: Good, tmp: Path) -> Path:
    """A copy of the good dataset at ``tmp/bids`` (links kept as links)."""
    return Path(shutil.copytree(good.root, tmp / 'bids', symlinks=True))


@contextmanager
def no_description(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    bids = copy_dataset(good, tmp)
    (bids / 'dataset_description.json').unlink()
    yield Scenario(
        bids, participant_argv(bids, tmp, model), str(bids / 'dataset_description.json')
    )


@contextmanager
def empty_dataset(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    bids = tmp / 'bids'
    bids.mkdir()
    shutil.copyfile(good.root / 'dataset_description.json', bids / 'dataset_description.json')
    yield Scenario(bids, participant_argv(bids, tmp, model), str(bids))


@contextmanager
def unknown_participant(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    bids = copy_dataset(good, tmp)
    argv = participant_argv(bids, tmp, model, '--participant-label', 'sub-99')
    yield Scenario(bids, argv, str(bids))


@contextmanager
def filter_nothing(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """A typo in the filter file: ``sagital``."""
    bids = copy_dataset(good, tmp)
    filters = tmp / 'filters.json'
    filters.write_text(json.dumps({'T2Sag': {'acquisition': 'sagital'}}))
    argv = participant_argv(bids, tmp, model, '--bids-filter-file', str(filters))
    yield Scenario(bids, argv, '{"acquisition": "sagital"}')


@contextmanager
def sessions_differ(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """ses-01 has a sagittal T2w and a STIR, ses-02 the sagittal T2w only."""
    bids = copy_dataset(good, tmp)
    for session in ('01', '02'):
        folder = bids / 'sub-ms' / f'ses-{session}' / 'anat'
        folder.mkdir(parents=True)
        shutil.copyfile(good.t2sag, folder / f'sub-ms_ses-{session}_acq-sag_T2w.nii.gz')
    stir = bids / 'sub-ms' / 'ses-01' / 'anat' / 'sub-ms_ses-01_acq-stir_T2w.nii.gz'
    shutil.copyfile(good.t2sag, stir)
    argv = participant_argv(bids, tmp, model, '--dry-run')
    expect = [r'ms\s+02\s+T2Sag', 'would run participant on 3 of 3']
    yield Scenario(bids, argv, str(stir.relative_to(bids)), expect=expect)


def bad_label(folder: str):
    """A subject folder whose label BIDS does not allow, beside the good subject."""

    @contextmanager
    def scenario(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
        bids = copy_dataset(good, tmp)
        anat = bids / folder / 'anat'
        anat.mkdir(parents=True)
        shutil.copyfile(good.t2sag, anat / f'{folder}_acq-sag_T2w.nii.gz')
        argv = participant_argv(bids, tmp, model)
        processed = [summary(tmp / 'out', GOOD)]
        yield Scenario(bids, argv, str(bids / folder), unit=folder, processed=processed)

    scenario.__name__ = f'bad_label({folder!r})'
    return scenario


@contextmanager
def output_read_only(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """OUTPUT_DIR without write permission (immutable for root, whom permissions do not stop)."""
    import pytest

    bids = copy_dataset(good, tmp)
    out = tmp / 'out'
    out.mkdir()
    undo = make_read_only(out)
    if undo is None:
        pytest.skip('cannot make a folder read-only here (root without chattr)')
    try:
        yield Scenario(bids, participant_argv(bids, tmp, model), str(out))
    finally:
        undo()


def make_read_only(folder: Path):
    """Make ``folder`` unwritable; return the function that undoes it, or None if impossible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    chattr = shutil.which('chattr')
    if chattr is None or subprocess.run([chattr, '+i', str(folder)], check=False).returncode:
        return None
    return lambda: subprocess.run([chattr, '-i', str(folder)], check=True)


def _broken_model(tmp: Path, model: Path) -> Path:
    return Path(shutil.copytree(model, tmp / 'model'))


@contextmanager
def weights_missing(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    bids, broken = copy_dataset(good, tmp), _broken_model(tmp, model)
    (broken / 'model.safetensors').unlink()
    argv = participant_argv(bids, tmp, broken)
    yield Scenario(bids, argv, str(broken / 'model.safetensors'))


@contextmanager
def weights_corrupted(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """Bytes flipped in the middle of the weights (a bad copy)."""
    bids, broken = copy_dataset(good, tmp), _broken_model(tmp, model)
    weights = broken / 'model.safetensors'
    content = bytearray(weights.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 64] = bytes(b ^ 0xFF for b in content[middle : middle + 64])
    weights.write_bytes(bytes(content))
    yield Scenario(bids, participant_argv(bids, tmp, broken), str(weights))


@contextmanager
def card_mismatch(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """The card of a wider model beside these weights (its checksum updated to match them)."""
    bids, broken = copy_dataset(good, tmp), _broken_model(tmp, model)
    card_path = broken / 'card.json'
    card = json.loads(card_path.read_text())
    card['model_config']['widths'] = [2 * w for w in card['model_config']['widths']]
    card_path.write_text(json.dumps(card))
    yield Scenario(bids, participant_argv(bids, tmp, broken), str(broken / 'model.safetensors'))


def _card_edited(edit, label: str):
    """A scenario whose model card is changed by ``edit(model_config)`` (checksum still right)."""

    @contextmanager
    def scenario(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
        bids, broken = copy_dataset(good, tmp), _broken_model(tmp, model)
        card_path = broken / 'card.json'
        card = json.loads(card_path.read_text())
        edit(card['model_config'])
        card_path.write_text(json.dumps(card))
        yield Scenario(bids, participant_argv(bids, tmp, broken), str(card_path))

    scenario.__name__ = label
    return scenario


card_unknown_slot = _card_edited(lambda config: config.update(slots=['T2Sag', 'FLAIR']), 'slot')
card_widths_text = _card_edited(lambda config: config.update(widths='abc'), 'widths')


@contextmanager
def nan_weights(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """The tiny model with one NaN weight, saved as usual (its checksum matches the card)."""
    import torch

    from bids_app.model.card import load_model_dir, save_model_dir
    from bids_app.model.config import ModelConfig

    bids = copy_dataset(good, tmp)
    network, card = load_model_dir(model)
    with torch.no_grad():
        next(iter(network.parameters())).view(-1)[0] = float('nan')
    diverged = tmp / 'model-nan'
    config = ModelConfig.from_dict(card['model_config'])
    save_model_dir(diverged, network, config, {'training': {'note': 'diverged'}})
    argv = participant_argv(bids, tmp, diverged)
    yield Scenario(bids, argv, str(diverged / 'model.safetensors'))


@contextmanager
def other_slots(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """A model trained on T2Sag + STIR without imputation; sub-good has no STIR, sub-ms has."""
    import torch

    from bids_app.model.card import save_model_dir
    from bids_app.model.config import variant_config
    from bids_app.model.network import MultiSequenceUNet

    bids = copy_dataset(good, tmp)
    folder = bids / 'sub-ms' / 'anat'
    folder.mkdir(parents=True)
    shutil.copyfile(good.t2sag, folder / 'sub-ms_acq-sag_T2w.nii.gz')
    shutil.copyfile(good.t2sag, folder / 'sub-ms_acq-stir_T2w.nii.gz')
    torch.manual_seed(0)
    config = variant_config(
        'combination', slots=['T2Sag', 'STIR'], widths=(4, 8, 8, 8, 8), patch_size=(48, 48, 64)
    )
    pair = tmp / 'model-t2sag-stir'
    save_model_dir(pair, MultiSequenceUNet(config), config, {'training': {'note': 'random'}})
    yield Scenario(
        bids,
        participant_argv(bids, tmp, pair),
        str(pair / 'card.json'),
        unit=f'sub-{GOOD}',
        processed=[summary(tmp / 'out', 'ms')],
    )


@contextmanager
def disk_full_tmpfs(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """OUTPUT_DIR on a real 256 KiB tmpfs: the outputs do not fit (root only)."""
    import pytest

    bids = copy_dataset(good, tmp)
    out = tmp / 'out'
    out.mkdir()
    mounted = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(out)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f'cannot mount a small tmpfs here ({mounted.stderr.decode().strip()})')
    try:
        yield Scenario(bids, participant_argv(bids, tmp, model), str(out), unit=f'sub-{GOOD}')
    finally:
        subprocess.run(['umount', str(out)], check=True)


@contextmanager
def killed_rerun(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
    """A first run killed (SIGKILL, its whole process group) once the cord frame exists.

    The scenario is the rerun: the same command line.
    """
    import signal
    import time

    from checksums import checksums

    bids = copy_dataset(good, tmp)
    before = checksums(bids)
    argv = participant_argv(bids, tmp, model)
    first = subprocess.Popen(
        [sys.executable, '-m', 'bids_app', *argv],
        env={**os.environ, 'SCLESION_PROGRESS': 'off'},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((tmp / 'work').rglob('cordframe.npz')):
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    if summary(tmp / 'out', GOOD).exists():
        raise RuntimeError('the first run finished before it was killed')
    yield Scenario(bids, argv, '', processed=[summary(tmp / 'out', GOOD)], before=before)


def dry_run_beside_good(make, label: str):
    """``--dry-run`` of subject ``label``, made by a shared-case ``make``, beside the good one.

    For cases whose behaviour shows at discovery, before any work.
    """

    @contextmanager
    def scenario(tmp: Path, good: Good, model: Path) -> Iterator[Scenario]:
        bids = copy_dataset(good, tmp)
        names = make(bids, label, good)
        argv = participant_argv(bids, tmp, model, '--dry-run')
        expect = ['would run participant on 2 of 2']
        yield Scenario(bids, argv, names, f'sub-{label}', expect=expect)

    scenario.__name__ = f'dry_run_beside_good({make.__name__})'
    return scenario
