"""Turn the run configuration into Nipype workflows, run them, and report each unit's fate."""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import tomli_w
import yaml

from bids_app.cli import memory, reuse
from bids_app.cli.locks import unit_locks
from bids_app.config import RunConfig
from bids_app.derivatives import (
    check_writable,
    ensure_dataset_description,
    unit_folder,
)
from bids_app.discovery import Unit
from bids_app.errors import MissingDependencyError, OutputWriteError, SclesionError
from bids_app.interfaces.sct import available_sct_command
from bids_app.interfaces.vertebrae import sct_vertebrae_available
from bids_app.labels import find_cord_mask, find_disc_labels, find_lesion_label
from bids_app.model.card import CARD_NAME, load_model_dir, read_card
from bids_app.model.config import ModelConfig
from bids_app.model.registry import resolve_model_dir
from bids_app.postprocess import resolve_options
from bids_app.progress import progress
from bids_app.slots import Slot
from bids_app.workflows.base import (
    InferenceOptions,
    UnitPlan,
    init_sclesion_wf,
    init_unit_wf,
    workflow_name,
)

logger = logging.getLogger(__name__)

_ERROR_LINE = re.compile(r'^(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$')


def sct_provider(config: RunConfig) -> str | None:
    """The SCT command to use, or None; ``--centerline sct`` without SCT is exit 127."""
    command = available_sct_command() if config.centerline in ('auto', 'sct') else None
    if config.centerline == 'sct' and command is None:
        raise MissingDependencyError(
            '--centerline sct needs the Spinal Cord Toolbox on PATH (sct_deepseg or '
            'sct_deepseg_sc); install it, use the container, or choose --centerline builtin'
        )
    return command


def plan_unit(unit: Unit, config: RunConfig, sct_command: str | None) -> UnitPlan:
    """Choose each slot's centreline provider: masks given, else SCT, else built-in."""
    providers, masks = {}, {}
    for slot, files in unit.slots.items():
        found = [
            find_cord_mask(f, config.bids_dir, config.cord_masks) if config.cord_masks else None
            for f in files
        ]
        have_masks = all(found)
        if config.centerline == 'masks' and not have_masks:
            missing = ', '.join(f.name for f, m in zip(files, found, strict=True) if m is None)
            raise SclesionError(
                f'no cord mask for {missing} in {config.cord_masks or "(no --cord-masks given)"}; '
                'add <source>_label-SC_seg.nii.gz or use --centerline auto'
            )
        if have_masks and config.centerline in ('auto', 'masks'):
            providers[slot], masks[slot] = 'masks', [Path(m) for m in found]
        elif sct_command and config.centerline in ('auto', 'sct'):
            providers[slot] = sct_command
        else:
            providers[slot] = 'builtin'
    t2sag = unit.slots[Slot.T2Sag]
    discs = (
        find_disc_labels(t2sag[0], config.bids_dir, [config.cord_masks, config.labels])
        if len(t2sag) == 1
        else None  # fused slabs: labels of one slab are not on the fused grid
    )
    return UnitPlan(
        unit=unit,
        providers=providers,
        masks=masks,
        keep_untrusted=config.force_sequences,
        disc_labels=discs,
        sct_vertebrae=(
            discs is None
            and providers[Slot.T2Sag] != 'builtin'
            and config.centerline != 'builtin'
            and sct_vertebrae_available()
        ),
    )


def _plugin_settings(config: RunConfig) -> dict:
    if config.use_plugin:
        settings = yaml.safe_load(config.use_plugin.read_text()) or {}
        return {
            'plugin': settings.get('plugin', 'MultiProc'),
            'plugin_args': settings.get('plugin_args', {}),
        }
    if config.nprocs == 1:
        return {'plugin': 'Linear'}
    # forkserver, not fork: a worker forked after the parent touched torch (the model check)
    # inherits a broken OpenMP pool and hangs in its first parallel op (fMRIPrep does the same).
    args = {'n_procs': config.nprocs, 'raise_insufficient': False, 'mp_context': 'forkserver'}
    if config.mem_gb:
        args['memory_gb'] = config.mem_gb
    return {'plugin': 'MultiProc', 'plugin_args': args}


def _configure_nipype(config: RunConfig, verbosity: int) -> None:
    from nipype import config as nipype_config
    from nipype import logging as nipype_logging

    nipype_config.update_config(
        {
            'execution': {
                'crashfile_format': 'txt',
                'stop_on_first_crash': config.stop_on_first_crash,
                'remove_unnecessary_outputs': False,
                'check_version': False,
                'create_report': False,
                # Nipype's default 2 s between scheduling rounds dominates short nodes.
                'poll_sleep_duration': 0.1,
            },
            'monitoring': {'enabled': config.resource_monitor},
        }
    )
    # By default a failed node's traceback stays in its crash file: the user gets one line per
    # failed unit at the end (report_outcomes), and the traceback with -v.
    level = (logging.CRITICAL, logging.WARNING)[verbosity] if verbosity < 2 else logging.INFO
    # Workers start from a fresh interpreter (forkserver) and read Nipype's logging levels from
    # its config file: one in the work folder, so HOME is never touched.
    config_dir = config.work_dir / '.nipype'
    config_dir.mkdir(parents=True, exist_ok=True)
    name = logging.getLevelName(level)
    levels = ''.join(f'{kind}_level = {name}\n' for kind in ('workflow', 'interface', 'utils'))
    (config_dir / 'nipype.cfg').write_text(f'[logging]\n{levels}')
    os.environ['NIPYPE_CONFIG_DIR'] = str(config_dir)
    for name in ('nipype.workflow', 'nipype.interface', 'nipype.utils'):
        nipype_logging.getLogger(name).setLevel(level)


def crash_reason(crash_file: Path) -> str:
    """The last exception line of a Nipype crash file, for a one-line failure report."""
    reason = ''
    for line in crash_file.read_text(errors='replace').splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match:
            reason = f'{match.group(1)}: {match.group(2)}'
    return reason or f'see {crash_file}'


def _unit_log_dir(plan: UnitPlan, config: RunConfig) -> Path:
    folder = unit_folder(plan.unit.subject, plan.unit.session).parent
    return config.output_dir / folder / 'log' / config.run_uuid


def _participant_output(plan: UnitPlan, config: RunConfig) -> Path:
    """The summary TSV, written last: its presence means the unit's outputs are complete."""
    folder = config.output_dir / unit_folder(plan.unit.subject, plan.unit.session)
    return folder / f'{plan.unit.name}_desc-lesions_summary.tsv'


def unit_outcomes(
    plans: Sequence[UnitPlan],
    log_dir: Callable[[UnitPlan], Path],
    expected: Callable[[UnitPlan], Path],
) -> dict[str, str | None]:
    """Unit name -> None when its expected output exists and it left no crash file, else why."""
    outcomes: dict[str, str | None] = {}
    for plan in plans:
        crashes = sorted(log_dir(plan).glob('crash-*.txt'))
        if crashes:
            outcomes[plan.unit.name] = crash_reason(crashes[0])
        elif not expected(plan).exists():
            outcomes[plan.unit.name] = 'did not run (an earlier failure stopped the run)'
        else:
            outcomes[plan.unit.name] = None
    return outcomes


def write_settings(paths: Sequence[Path], config: RunConfig) -> None:
    """The settings of this run (``sclesion.toml``) at each of ``paths``."""
    content = tomli_w.dumps(config.to_dict())
    for path in [config.work_dir / config.run_uuid / 'config.toml', *paths]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def plans_of(
    units: Sequence[Unit], config: RunConfig, outcomes: dict[str, str | None], *, labels: bool
) -> list[UnitPlan]:
    sct_command = sct_provider(config)
    plans = []
    for unit in (u for u in units if u.runnable):
        try:
            plan = plan_unit(unit, config, sct_command)
            if labels:
                plan = replace(plan, labels=unit_labels(unit, config))
            plans.append(plan)
        except SclesionError as exc:
            outcomes[unit.name] = str(exc)
    return plans


def unit_labels(unit: Unit, config: RunConfig) -> list[Path]:
    """Reference lesion label of each T2Sag chunk; ``SclesionError`` when one is missing."""
    found = [
        find_lesion_label(f, config.bids_dir, config.labels, config.lesion_label_suffix)
        for f in unit.slots[Slot.T2Sag]
    ]
    missing = [f.name for f, label in zip(unit.slots[Slot.T2Sag], found, strict=True) if not label]
    if missing:
        raise SclesionError(
            f'no reference lesion label for {", ".join(missing)} in {config.labels} '
            '(expected <source>_label-lesion_seg.nii.gz); left out'
        )
    return [Path(label) for label in found]


#: Subjects/sessions per Nipype graph: MultiProc's scheduler slows down with thousands of nodes,
#: so large datasets run as consecutive graphs of a few units (each still uses every process).
UNITS_PER_GRAPH = 8


def run_graphs(
    plans: Sequence[UnitPlan],
    build: Callable[[UnitPlan, Path], object],
    log_dir: Callable[[UnitPlan], Path],
    config: RunConfig,
) -> None:
    for plan in plans:
        slots = ', '.join(f'{slot} ({plan.providers[slot]})' for slot in plan.unit.slots)
        logger.log(25, '%s: %s', plan.unit.name, slots)
    size = max(UNITS_PER_GRAPH, 2 * config.nprocs)
    with progress(None, desc='subjects', total=len(plans), unit='unit') as bar:
        for start in range(0, len(plans), size):
            batch = plans[start : start + size]
            workflow = init_sclesion_wf(batch, build, work_dir=config.work_dir, log_dir=log_dir)
            if config.write_graph and start == 0:
                workflow.write_graph(graph2use='colored', format='svg', simple_form=True)
            try:
                workflow.run(**_plugin_settings(config))
            except RuntimeError as exc:
                logger.debug('workflow finished with errors: %s', exc)
            bar.update(len(batch))
            crashed = any(any(log_dir(p).glob('crash-*.txt')) for p in batch)
            if config.stop_on_first_crash and crashed:
                logger.error('stopping at the first failure (--stop-on-first-crash)')
                break


def start_run(config: RunConfig, verbosity: int) -> None:
    if config.clean_workdir and config.work_dir.exists():
        shutil.rmtree(config.work_dir)
    _configure_nipype(config, verbosity)


def inference_options(config: RunConfig) -> InferenceOptions:
    """The model folder (checked once, before any work) and how to run it.

    The threshold and minimum lesion size are the command line's, else the model card's, else
    the built-in defaults (:func:`bids_app.postprocess.resolve_options`).
    """
    model_dir = resolve_model_dir(config.model)
    _, card = load_model_dir(model_dir)
    postprocess = resolve_options(
        card, threshold=config.threshold, min_lesion_mm3=config.min_lesion_mm3
    )
    logger.info(
        'post-processing: threshold %g, lesions of at least %g mm^3',
        postprocess.threshold,
        postprocess.min_lesion_mm3,
    )
    return InferenceOptions(
        model_dir=model_dir,
        model_sha256=card['weights']['sha256'],
        device=config.device,
        tta=config.tta,
        precision='bfloat16' if config.bf16 else 'float32',
        num_threads=config.omp_nthreads,
        postprocess=postprocess,
    )


def lacking_slots(
    units: Sequence[Unit], model_dir: Path, ignored: Sequence[Slot] = ()
) -> dict[str, str]:
    """Unit name -> why, for the runnable units that lack a sequence the model cannot do without.

    A model without imputation needs every one of its slots; the others need the T2Sag only
    (always there in a runnable unit). Slots a unit has and the model lacks are left out, said.
    """
    card = read_card(model_dir)
    model = ModelConfig.from_dict(card['model_config'])
    why = {}
    for unit in (u for u in units if u.runnable):
        extra = [str(s) for s in unit.slots if s not in model.slots]
        if extra:
            logger.log(25, '%s: model %s has no encoder for %s; left out', unit.name,
                       card.get('name', model_dir.name), ', '.join(extra))  # fmt: skip
        missing = [
            f'{s} (left out by --ignore)' if s in ignored else str(s)
            for s in model.slots
            if s not in unit.slots
        ]
        if missing and model.imputation == 'none':
            why[unit.name] = (
                f'no {", ".join(missing)}, which model {model_dir / CARD_NAME} needs (trained on '
                f'{", ".join(map(str, model.slots))} without imputation); use a mean-imputation '
                'model (the shipped one) or one trained on the sequences this subject has'
            )
    return why


def run_participant(
    units: Sequence[Unit], config: RunConfig, verbosity: int = 0
) -> tuple[dict[str, str | None], set[str]]:
    """Run the participant level on every runnable unit.

    A unit whose outputs are complete is reused when the record of what made them matches what
    this run would use (:mod:`bids_app.cli.reuse`); otherwise it is recomputed, and one line says
    why. ``--overwrite`` recomputes every unit.

    Returns
    -------
    outcomes : dict
        Unit name -> why it failed, or None.
    reused : set of str
        The units whose outputs were reused as they were.
    """
    check_writable(config.output_dir, 'output folder')
    check_writable(config.work_dir, 'work folder (-w)')
    outcomes: dict[str, str | None] = {u.name: u.error for u in units if u.error}
    inference = inference_options(config)
    outcomes.update(lacking_slots(units, inference.model_dir, config.ignore))
    ignore = tuple(str(s) for s in config.ignore)
    plans, reused = [], set()
    for plan in plans_of(
        [u for u in units if u.name not in outcomes], config, outcomes, labels=False
    ):
        if _participant_output(plan, config).exists() and not config.overwrite:
            record = reuse.read_record(config.output_dir, plan)
            why = reuse.changes(record, reuse.settings(plan, inference, ignore))
            if not why:
                logger.log(25, '%s: outputs made from the same inputs, model and options, '
                           'reused (--overwrite recomputes)', plan.unit.name)  # fmt: skip
                outcomes[plan.unit.name] = None
                reused.add(plan.unit.name)
                continue
            logger.log(25, '%s: %s, recomputing', plan.unit.name, '; '.join(why))
        plans.append(plan)
    if config.mem_gb:
        outcomes.update(memory.over_budget(plans, config.mem_gb))
        plans = [p for p in plans if p.unit.name not in outcomes]
    if not plans:
        return outcomes, reused
    start_run(config, verbosity)  # before the locks: --clean-workdir empties their folder
    with unit_locks(plans, config) as (plans, busy):
        outcomes.update(busy)
        if plans:
            records = {p.unit.name: reuse.make_record(p, inference, ignore) for p in plans}
            for plan in plans:  # a run that stops half-way leaves no record: recomputed later
                reuse.record_path(config.output_dir, plan).unlink(missing_ok=True)
            _run_participant_workflows(plans, config, inference)
            outcomes.update(
                unit_outcomes(
                    plans,
                    lambda p: _unit_log_dir(p, config),
                    lambda p: _participant_output(p, config),
                )
            )
            for plan in plans:
                if outcomes.get(plan.unit.name) is None:
                    _keep_record(plan, records[plan.unit.name], config, outcomes)
                    warn_dropped(plan, _participant_output(plan, config))
    return outcomes, reused


def _keep_record(
    plan: UnitPlan,
    record: dict | None,
    config: RunConfig,
    outcomes: dict[str, str | None],
) -> None:
    """Write the unit's record; a write that fails (a full disk) fails the unit, saying so."""
    if record is None:
        return
    try:
        reuse.write_record(config.output_dir, plan, record)
    except OutputWriteError as error:
        outcomes[plan.unit.name] = str(error)


def warn_dropped(plan: UnitPlan, summary: Path) -> None:
    """One warning per slot left out of inference, naming its files and the way to keep it."""
    with summary.open(newline='') as handle:
        (row,) = list(csv.DictReader(handle, delimiter='\t'))
    dropped = row.get('slots_dropped') or 'n/a'
    for item in filter(None, dropped.removeprefix('n/a').split('; ')):
        slot, _, why = item.partition(': ')
        files = ', '.join(p.name for p in plan.unit.slots.get(Slot(slot), []))
        logger.warning(
            '%s: %s (%s) left out of inference: %s; --force-sequences uses it anyway',
            plan.unit.name,
            slot,
            files,
            why,
        )


def _run_participant_workflows(
    plans: Sequence[UnitPlan], config: RunConfig, inference: InferenceOptions
) -> None:
    ensure_dataset_description(config.output_dir, config.bids_dir)
    write_settings([_unit_log_dir(p, config) / 'sclesion.toml' for p in plans], config)

    def build(plan: UnitPlan, crashdump_dir: Path):
        workflow = init_unit_wf(
            plan,
            bids_dir=config.bids_dir,
            output_dir=config.output_dir,
            crashdump_dir=crashdump_dir,
            inference=inference,
        )
        return memory.declare_memory(workflow, plan) if config.mem_gb else workflow

    def log_dir(plan: UnitPlan) -> Path:
        return _unit_log_dir(plan, config)

    run_graphs(plans, build, log_dir, config)


def unit_work_dirs(units: Sequence[Unit], config: RunConfig) -> dict[str, Path]:
    """Each unit's Nipype folder in the work directory (it may no longer exist)."""
    root = config.work_dir / workflow_name()
    return {u.name: root / (u.name.replace('-', '_') + '_wf') for u in units}
