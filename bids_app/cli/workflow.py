"""Turn the run configuration into Nipype workflows, run them, and report each unit's fate."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bids_app.cli import memory, reuse
from bids_app.cli.locks import unit_locks
from bids_app.config import RunConfig
from bids_app.derivatives import (
    check_writable,
    ensure_dataset_description,
    summary_path,
    unit_folder,
)
from bids_app.discovery import Unit
from bids_app.errors import MissingDependencyError, OutputWriteError, SclesionError
from bids_app.execution import run_graphs, start_run, write_settings
from bids_app.interfaces.sct import available_sct_command
from bids_app.interfaces.vertebrae import sct_vertebrae_available
from bids_app.labels import find_cord_mask, find_disc_labels, find_lesion_label
from bids_app.model.card import CARD_NAME, card_frame, load_model_dir, read_card
from bids_app.model.config import ModelConfig
from bids_app.model.registry import resolve_model_dir
from bids_app.outcomes import unit_outcomes, warn_dropped
from bids_app.postprocess import resolve_options, resolve_tta
from bids_app.slots import Slot
from bids_app.workflows.base import (
    InferenceOptions,
    UnitPlan,
    init_unit_wf,
    workflow_name,
)

logger = logging.getLogger(__name__)


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


def _unit_log_dir(plan: UnitPlan, config: RunConfig) -> Path:
    folder = unit_folder(plan.unit.subject, plan.unit.session).parent
    return config.output_dir / folder / 'log' / config.run_uuid


def _participant_output(plan: UnitPlan, config: RunConfig) -> Path:
    return summary_path(config.output_dir, plan.unit.subject, plan.unit.session)


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


def inference_options(config: RunConfig) -> InferenceOptions:
    """The model folder (checked once, before any work) and how to run it.

    The thresholds and minimum lesion size are the command line's, else the model card's, else
    the built-in defaults (:func:`bids_app.postprocess.resolve_options`).
    """
    model_dir = resolve_model_dir(config.model)
    _, card = load_model_dir(model_dir)
    frame = card_frame(card, model_dir / CARD_NAME)
    postprocess = resolve_options(
        card,
        threshold=config.threshold,
        min_lesion_mm3=config.min_lesion_mm3,
        grow_threshold=config.grow_threshold,
    )
    tta = resolve_tta(card, config.tta)
    logger.info(
        'post-processing: threshold %g%s, lesions of at least %g mm^3, mirroring TTA %s',
        postprocess.threshold,
        f' grown to {postprocess.grow_threshold:g}' if postprocess.grows else '',
        postprocess.min_lesion_mm3,
        'on' if tta else 'off',
    )
    return InferenceOptions(
        model_dir=model_dir,
        model_sha256=card['weights']['sha256'],
        device=config.device,
        tta=tta,
        precision='bfloat16' if config.bf16 else 'float32',
        num_threads=config.omp_nthreads,
        postprocess=postprocess,
        frame=frame,
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
