"""DistributedDataParallel under torchrun, on CPU with two processes and gloo.

Two processes with batch 1 read samples ``2 t`` and ``2 t + 1`` at iteration ``t``, exactly the
batch of one process with batch 2; DDP averages their gradients, and the loss is a mean over the
batch, so without augmentation both runs must reach the same weights (up to float summation order).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from training_frames import make_frame, tiny_values

from bids_app.model.card import read_card
from bids_app.slots import Slot
from bids_app.training.checkpoint import CHECKPOINT_DIR, LATEST
from bids_app.training.options import TrainConfig
from bids_app.training.trainer import train

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {here!r})
from training_frames import make_frame, tiny_values
from bids_app.slots import Slot
from bids_app.training import TrainConfig, distributed_session, train

frames = {{f'sub-{{i}}': make_frame(i, (Slot.T2Sag, Slot.STIR)) for i in range(6)}}
config = TrainConfig(**tiny_values(batch_size=1, **{kwargs!r}))
with distributed_session('cpu') as context:
    train(frames, config, Path({out!r}), context=context)
"""


@pytest.mark.slow
def test_two_processes_match_one_process_with_twice_the_batch(tmp_path):
    kwargs = {'iterations': 4, 'val_interval': 2, 'augmentation': 'none', 'val_fraction': 0.34}
    script = tmp_path / 'run.py'
    script.write_text(
        textwrap.dedent(SCRIPT).format(here=str(HERE), kwargs=kwargs, out=str(tmp_path / 'ddp'))
    )
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone']
    done = subprocess.run(
        [*command, '--nproc-per-node', '2', str(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    frames = {f'sub-{i}': make_frame(i, (Slot.T2Sag, Slot.STIR)) for i in range(6)}
    train(frames, TrainConfig(**tiny_values(batch_size=2, **kwargs)), tmp_path / 'single')

    ddp = torch.load(tmp_path / 'ddp' / CHECKPOINT_DIR / LATEST, weights_only=True)
    single = torch.load(tmp_path / 'single' / CHECKPOINT_DIR / LATEST, weights_only=True)
    assert ddp['iteration'] == single['iteration'] == 4
    for key, value in single['model'].items():
        torch.testing.assert_close(ddp['model'][key], value, atol=2e-5, rtol=1e-4)
    card = read_card(tmp_path / 'ddp')
    assert card['training']['processes'] == 2
    assert len(card['training']['validation_units']) == 2  # one per process, then gathered
    assert card['validation']['dice'] == pytest.approx(
        read_card(tmp_path / 'single')['validation']['dice'], abs=1e-3
    )
