"""The ``train`` analysis level: cord frames with reference labels in, a model folder out.

Modules, in data-flow order: :mod:`.options` (``TrainConfig``, ``TrainStop``; their flags live in
``cli/train_args``), :mod:`.subjects` (frames -> normalised training subjects, the subject split),
:mod:`.data` (patches, oversampling, the loader), :mod:`.intensity`, :mod:`.synth` and
:mod:`.augment` (batched augmentation on the training device), :mod:`.validation`,
:mod:`.checkpoint`, :mod:`.curves` (log and figure), :mod:`.distributed` (``torchrun``),
:mod:`.initial` (the starting weights), :mod:`.trainer` and :mod:`.entry` (what the command line
calls).
"""

from __future__ import annotations

from bids_app.training.distributed import DistributedContext, distributed_session
from bids_app.training.entry import run_training
from bids_app.training.options import TrainConfig, TrainStop
from bids_app.training.trainer import TrainResult, train

__all__ = [
    'DistributedContext',
    'TrainConfig',
    'TrainResult',
    'TrainStop',
    'distributed_session',
    'run_training',
    'train',
]
