"""Run Nipype graphs of many subjects/sessions: plugin, logging levels, batches, progress.

Nipype is configured once per run (crash files as text in each unit's log folder, no version
check, its loggers quiet unless ``-v``); the units run as consecutive graphs of a few units.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import tomli_w
import yaml

from bids_app.config import RunConfig
from bids_app.progress import progress
from bids_app.workflows.base import UnitPlan, init_sclesion_wf

logger = logging.getLogger(__name__)


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


def write_settings(paths: Sequence[Path], config: RunConfig) -> None:
    """The settings of this run (``sclesion.toml``) at each of ``paths``."""
    content = tomli_w.dumps(config.to_dict())
    for path in [config.work_dir / config.run_uuid / 'config.toml', *paths]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


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
