"""One process per unit: locks on its output folder and on its Nipype folder in ``-w``.

Two sclesion processes on the same subject/session would write the same files. With one
OUTPUT_DIR, the output lock (``sub-<s>/.sclesion.lock``) refuses the second. With two output
folders but one ``-w``, both would run the same Nipype nodes in the same folders (and crash on
each other's ``_unfinished.json``): the work lock (``<-w>/sclesion_X_Y_wf/sub_<s>_wf.lock``)
refuses the second cleanly.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from bids_app.config import RunConfig
from bids_app.derivatives import remove_interrupted_writes, unit_lock
from bids_app.workflows.base import UnitPlan, workflow_name

logger = logging.getLogger(__name__)


def work_lock(work_dir: Path, plan: UnitPlan) -> Path:
    """The lock beside the unit's Nipype folder in the work folder."""
    return work_dir / workflow_name() / f'{plan.workflow_name}.lock'


def _try_lock(path: Path) -> IO[str] | None:
    """The open, locked file; None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open('a')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextmanager
def unit_locks(
    plans: Sequence[UnitPlan], config: RunConfig, *, output: bool = True
) -> Iterator[tuple[list[UnitPlan], dict[str, str]]]:
    """Hold each unit's locks for the run: a second process on the same unit refuses it cleanly.

    Parameters
    ----------
    plans : sequence of UnitPlan
    config : RunConfig
    output : bool
        Also lock the unit's output folder (the participant level; training writes none), and
        remove what interrupted writes left there.

    Yields
    ------
    held : list of UnitPlan
        The plans this process holds.
    busy : dict
        Unit name -> why the others were refused (one line: the lock and what to do).
    """
    held, busy = [], {}
    with ExitStack() as stack:
        for plan in plans:
            name = plan.unit.name
            out_path = unit_lock(config.output_dir, plan.unit.subject, plan.unit.session)
            wanted = {
                out_path: f'another sclesion process is working on {name} (lock {out_path}); '
                'let it finish, then rerun',
                work_lock(config.work_dir, plan): f'another sclesion process is working on '
                f'{name} in the work folder {config.work_dir}, for another output folder (lock '
                f'{work_lock(config.work_dir, plan)}); let it finish, or give each run its own -w',
            }
            if not output:
                del wanted[out_path]
            handles = []
            for path, why in wanted.items():
                handle = _try_lock(path)
                if handle is None:
                    busy[name] = why
                    break
                handles.append(handle)
            if name in busy:
                for handle in handles:
                    handle.close()
                continue
            for handle in handles:
                stack.enter_context(handle)
            held.append(plan)
            if output:
                for leftover in remove_interrupted_writes(out_path.parent):
                    logger.info('removed %s, left by an interrupted run', leftover)
        yield held, busy
