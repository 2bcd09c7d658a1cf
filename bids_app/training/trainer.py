"""The training loop: cord frames in, a model folder out, resumable to the exact same weights.

:func:`train` is a library function: the ``train`` analysis level calls it once, a study of the
paper's variants calls it in a loop (a finished run returns at once, an interrupted one resumes).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from bids_app.device import bfloat16_supported
from bids_app.errors import UsageError
from bids_app.model.card import CARD_NAME, read_card, save_model_dir
from bids_app.model.losses import training_loss
from bids_app.model.network import MultiSequenceUNet
from bids_app.progress import progress
from bids_app.training.augment import AugmentParams, augment_batch
from bids_app.training.checkpoint import (
    BEST,
    CHECKPOINT_DIR,
    LATEST,
    iteration_seed,
    load_checkpoint,
    poly_lr,
    record_checkpoint,
)
from bids_app.training.curves import (
    CURVES_NAME,
    LOG_NAME,
    append_log,
    plot_curves,
    read_log,
    truncate_log,
)
from bids_app.training.data import IterationBatches, PatchDataset, make_loader, to_device
from bids_app.training.distributed import DistributedContext, single_process
from bids_app.training.initial import build_model
from bids_app.training.options import TrainConfig
from bids_app.training.postprocess_choice import any_lesion, choose_postprocess, predict_rows
from bids_app.training.subjects import (
    FrameSource,
    TrainingSubject,
    prepare_subjects,
    split_by_subject,
    write_split,
)
from bids_app.training.validation import summarise, validate

logger = logging.getLogger(__name__)

#: nnU-Net clips the gradient norm at 12.
GRAD_CLIP = 12.0
CONFIG_NAME = 'train_config.json'


@dataclass
class TrainResult:
    """What a call to :func:`train` did.

    Attributes
    ----------
    model_dir : Path
    iterations_done : int
        Optimiser steps done so far, over every call.
    finished : bool
        Whether ``iterations_done`` reached the configured iterations.
    validation : dict
        Mean ``dice``, ``f1`` and ``score`` of the weights in the model folder (nan without
        validation subjects), and ``iteration``, the iteration they come from.
    losses : list of float
        Training loss of each iteration this call ran (for quick checks; the log has them all).
    card : dict
        The model folder's card.
    """

    model_dir: Path
    iterations_done: int
    finished: bool
    validation: dict[str, float | None]
    losses: list[float] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)


def _finished_result(model_dir: Path, config: TrainConfig) -> TrainResult | None:
    """The result of a run already finished in ``model_dir`` with the same settings, if any."""
    latest = model_dir / CHECKPOINT_DIR / LATEST
    if not (latest.is_file() and (model_dir / CARD_NAME).is_file()):
        return None
    state = load_checkpoint(latest, config)
    if state['iteration'] < config.iterations:
        return None
    card = read_card(model_dir)
    logger.info('%s is already trained (%d iterations)', model_dir, state['iteration'])
    return TrainResult(model_dir, state['iteration'], True, card['validation'], card=card)


def train(
    frames: Mapping[str, FrameSource],
    config: TrainConfig,
    model_dir: Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    time_limit_s: float | None = None,
    context: DistributedContext | None = None,
    groups: Mapping[str, str] | None = None,
    choose_postprocessing: bool = True,
) -> TrainResult:
    """Train a model on cord frames with reference labels and write its model folder.

    Parameters
    ----------
    frames : mapping of str to CordFrame, Path or str
        Unit name ``sub-<s>[_ses-<t>]`` -> cord frame, its ``.npz`` file, or (str) why the unit
        has none; units without labels are listed in the log and left out.
    config : TrainConfig
    model_dir : Path
        The model folder: ``card.json`` + ``model.safetensors`` (best validation weights, or the
        last without validation subjects), ``training_log.tsv``, ``training_curves.png``,
        ``train_config.json``, ``split.tsv`` and ``checkpoints/``.
    resume : bool
        Continue the run in ``model_dir`` (from scratch when it has none; at once when it is
        finished). Without it, a folder that holds a run is refused.
    stop_after : int, optional
        Checkpoint and return once this many iterations are done (resume later).
    time_limit_s : float, optional
        Checkpoint and return after this many seconds of this call.
    context : DistributedContext, optional
        From :func:`~bids_app.training.distributed.distributed_session`; default one process
        on ``config.device``.
    groups : mapping of str to str, optional
        Subject -> person, for a validation split that holds out whole people
        (:func:`~bids_app.training.subjects.split_by_subject`).
    choose_postprocessing : bool
        Once finished, choose the card's ``"postprocess"`` on the validation units
        (:mod:`~bids_app.training.postprocess_choice`); a study that scores every run alike
        turns it off.

    Returns
    -------
    TrainResult

    Raises
    ------
    DatasetError
        No unit with labels, or slots the variant needs that no subject has.
    UsageError
        A run exists in ``model_dir`` without ``resume``, or with other settings.
    """
    start_time = time.monotonic()
    context = context or single_process(config.device)
    model_dir = Path(model_dir)
    latest = model_dir / CHECKPOINT_DIR / LATEST
    if latest.is_file() and not resume:
        raise UsageError(
            f'{model_dir} already holds a training run; add --resume to continue it or choose '
            'another output folder'
        )
    if resume and (finished := _finished_result(model_dir, config)) is not None:
        return finished
    device = context.device
    model_config, summary, subjects = prepare_subjects(frames, config)
    train_names, val_names = split_by_subject(
        sorted(subjects),
        val_fraction=config.val_fraction,
        seed=config.split_seed,
        val_subjects=config.val_subjects,
        groups=groups,
    )
    model = build_model(model_config, config, device)
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    state: dict[str, Any] = {'iteration': 0, 'best': None, 'wall_time_s': 0.0}
    if resume and latest.is_file():
        state = load_checkpoint(latest, config)
        if state['split'] != {'train': train_names, 'val': val_names}:
            raise UsageError(
                f'{latest}: the training/validation split changed since the run began (its '
                'subjects, or their people in participants.tsv); resume with the same labelled '
                'dataset or train into another folder'
            )
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        logger.info('resuming %s at iteration %d', model_dir, state['iteration'])
    start = state['iteration']
    stop = min(config.iterations, stop_after or config.iterations)
    bf16 = config.bf16 and bfloat16_supported(device)
    if config.bf16 and not bf16:
        logger.warning('bfloat16 is not supported natively on %s; training in float32', device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True

    if context.is_main:
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / CONFIG_NAME).write_text(config.to_json())
        write_split(model_dir / 'split.tsv', train_names, val_names)
        truncate_log(model_dir / LOG_NAME, start)
    network = model
    if context.enabled:
        network = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == 'cuda' else None,
            find_unused_parameters=len(model_config.slots) > 1,
        )
    dataset = PatchDataset(
        [subjects[n] for n in train_names],
        len(model_config.slots),
        config.patch_size[2],
        config.oversample,
        config.seed,
    )
    batches = IterationBatches(
        start,
        stop,
        batch_size=config.batch_size,
        rank=context.rank,
        world_size=context.world_size,
    )
    loader = make_loader(
        dataset, batches, num_workers=config.num_workers, pin_memory=device.type == 'cuda'
    )
    val_subjects = [subjects[n] for n in val_names][context.rank :: context.world_size]
    split = {'train': train_names, 'val': val_names}
    previous_wall_s = state['wall_time_s']
    losses: list[float] = []
    window: list[dict[str, float]] = []
    shown: dict[str, str] = {}
    augment_params = AugmentParams(p_view_cut=config.view_cut)
    model.train()
    bar = progress(range(start, stop), desc='train', total=config.iterations, initial=start)
    ready = time.perf_counter()
    for iteration, batch in zip(bar, loader, strict=True):
        torch.manual_seed(iteration_seed(config.seed, iteration, context.rank))
        generator = torch.Generator(device).manual_seed(
            iteration_seed(config.seed + 1, iteration, context.rank)
        )
        lr = poly_lr(config.lr, iteration, config.iterations, config.lr_exponent)
        for group in optimizer.param_groups:
            group['lr'] = lr
        batch = augment_batch(
            to_device(batch, device),
            config.augmentation,
            model_config.slots,
            generator,
            augment_params,
        )
        augmented = _synchronised(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            output = network(batch['images'], batch['presence'], batch['coverage'])
        loss, parts = training_loss(
            output, batch['labels'], model_config, lesion_weight=config.lesion_weight
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        done = iteration + 1
        losses.append(loss.detach().item())
        stepped = _synchronised(device)
        timing = {'data_s': augmented - ready, 'network_s': stepped - augmented}
        window.append({'loss': losses[-1], **parts, **timing})
        elapsed = time.monotonic() - start_time
        stopping = done == stop or (
            time_limit_s is not None and context.any(elapsed > time_limit_s)
        )
        validating = done % config.val_interval == 0 or stopping
        metrics: dict[str, float] = {}
        if validating:
            metrics = _validate(model, val_subjects, device, bf16, context)
            state = record_checkpoint(
                model_dir,
                model,
                optimizer,
                config,
                state,
                done,
                metrics,
                context.is_main,
                wall_time_s=previous_wall_s + elapsed,
                split=split,
            )
        if validating or done % config.log_interval == 0:
            if context.is_main:
                _log(model_dir, done, lr, window, metrics, previous_wall_s + elapsed)
            window = []
        if metrics:
            shown = {'dice': f'{metrics["dice"]:.3f}', 'f1': f'{metrics["f1"]:.3f}'}
        bar.set_postfix(loss=f'{losses[-1]:.3f}', **shown, refresh=False)
        if stopping:
            break
        ready = time.perf_counter()
    bar.close()
    val_all = [subjects[n] for n in val_names] if choose_postprocessing else []
    return _finish(model_dir, model, config, state, summary, split, losses, context, val_all)


def _synchronised(device: torch.device) -> float:
    """``time.perf_counter()`` once the device's queued work is done (CUDA runs asynchronously)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _validate(
    model: MultiSequenceUNet,
    subjects: list,
    device: torch.device,
    bf16: bool,
    context: DistributedContext,
) -> dict[str, float]:
    """Mean scores over every process's share of the validation subjects ({} without any)."""
    rows = validate(model, subjects, device, bf16=bf16)
    everyone = [row for share in context.all_gather(rows) for row in share]
    return summarise(everyone) if everyone else {}


def _log(
    model_dir: Path,
    done: int,
    lr: float,
    window: list[dict[str, float]],
    metrics: dict[str, float],
    wall_time_s: float,
) -> None:
    """One log row: mean losses since the last row, validation when there was one."""
    row: dict[str, float | int | None] = {
        'iteration': done,
        'lr': lr,
        'elapsed_s': round(wall_time_s, 3),
        **{k: sum(w[k] for w in window) / len(window) for k in window[0]},
        **{f'val_{k}': v for k, v in metrics.items()},
    }
    append_log(model_dir / LOG_NAME, row)
    if metrics:
        logger.info(
            'iteration %d: loss %.4f, validation Dice %.3f, lesion F1 %.3f',
            done,
            row['loss'],
            metrics['dice'],
            metrics['f1'],
        )
        plot_curves(read_log(model_dir / LOG_NAME), model_dir / CURVES_NAME, model_dir.name)


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _finish(
    model_dir: Path,
    model: MultiSequenceUNet,
    config: TrainConfig,
    state: dict[str, Any],
    summary: dict[str, Any],
    split: dict[str, list[str]],
    losses: list[float],
    context: DistributedContext,
    val_subjects: list[TrainingSubject],
) -> TrainResult:
    """Write the model folder (best validation weights, else the last) and the curves.

    A finished run's card also gets the post-processing chosen on ``val_subjects``
    (:mod:`bids_app.training.postprocess_choice`); an interrupted one, or one without them,
    keeps the defaults.
    """
    frame = summary['cord_frame']
    done, best = state['iteration'], state['best']
    finished = done >= config.iterations
    validation: dict[str, Any] = {'iteration': done, 'dice': None, 'f1': None, 'score': None}
    if best is not None:
        validation = {k: _json_number(v) for k, v in best.items()}
    if context.is_main:
        weights = model
        if best is not None and best['iteration'] != done:
            weights = MultiSequenceUNet(model.config)
            best_state = torch.load(
                model_dir / CHECKPOINT_DIR / BEST, map_location='cpu', weights_only=True
            )
            weights.load_state_dict(best_state['model'])
        chosen = {}
        if finished and val_subjects:
            chosen = _chosen_postprocess(weights, val_subjects, config, context)
        training = {
            'variant': config.variant,
            'config': config.to_dict(),
            'iterations_done': done,
            'finished': finished,
            'wall_time_s': round(state['wall_time_s'], 1),
            'processes': context.world_size,
            'device': str(context.device),
            **{k: v for k, v in summary.items() if k != 'cord_frame'},
            'train_units': split['train'],
            'validation_units': split['val'],
        }
        card_extra = {'training': training, 'validation': validation, **chosen}
        save_model_dir(model_dir, weights, model.config, card_extra, frame=frame)
        plot_curves(read_log(model_dir / LOG_NAME), model_dir / CURVES_NAME, model_dir.name)
    context.barrier()
    card = read_card(model_dir)
    return TrainResult(model_dir, done, finished, validation, losses, card)


def _chosen_postprocess(
    weights: MultiSequenceUNet,
    val_subjects: list[TrainingSubject],
    config: TrainConfig,
    context: DistributedContext,
) -> dict[str, Any]:
    """Card entries ``postprocess`` and ``postprocess_choice``, or {} when nothing can judge."""
    if not any_lesion(val_subjects):
        logger.warning(
            'no validation unit has a lesion: the model card keeps the built-in post-processing'
        )
        return {}
    bf16 = config.bf16 and bfloat16_supported(context.device)
    weights = weights.to(context.device)
    predictions = predict_rows(weights, val_subjects, context.device, tta=True, bf16=bf16)
    entry, record = choose_postprocess(predictions, tta=True)
    return {'postprocess': entry, 'postprocess_choice': record}
