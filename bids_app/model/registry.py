"""Where model folders are found: a path, or the name of a shipped model."""

from __future__ import annotations

import os
from pathlib import Path

from bids_app.errors import ModelCardError

#: The model ``participant`` uses without ``--model``.
DEFAULT_MODEL = 'sclesion-mi-cpu'

#: The repository's ``models/`` (an editable install or a source checkout).
REPO_MODELS = Path(__file__).resolve().parents[2] / 'models'


def model_search_path() -> list[Path]:
    """Folders holding shipped models: ``$SCLESION_MODELS`` (the containers set it), the repo's."""
    paths = [Path(p) for p in os.environ.get('SCLESION_MODELS', '').split(os.pathsep) if p]
    return [*paths, REPO_MODELS]


def resolve_model_dir(name_or_path: str | None) -> Path:
    """The model folder for ``--model``: an existing folder, else a shipped model's name.

    Raises
    ------
    ModelCardError
        When neither exists; the message lists the shipped models.
    """
    wanted = name_or_path or DEFAULT_MODEL
    path = Path(wanted).expanduser()
    if path.is_dir():
        return path.resolve()
    for folder in model_search_path():
        if (folder / wanted).is_dir():
            return (folder / wanted).resolve()
    shipped = sorted(
        p.name
        for folder in model_search_path()
        if folder.is_dir()
        for p in folder.iterdir()
        if (p / 'card.json').is_file()
    )
    raise ModelCardError(
        f'model {wanted!r} is neither a folder nor a shipped model (shipped: '
        f'{", ".join(shipped) or "none"}); give --model a model folder, e.g. one written by '
        '`sclesion ... train`'
    )
