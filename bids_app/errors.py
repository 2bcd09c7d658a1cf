"""The one exception hierarchy of sclesion.

Every message is one line a user can act on: the file, what is wrong, what to do. The command
line catches :class:`SclesionError` and exits with its ``exit_code`` (CONVENTIONS section 1).
"""

from __future__ import annotations

#: Exit codes: success, one or more subjects failed, a usage error (CONVENTIONS section 1).
EXIT_OK, EXIT_SUBJECT_FAILED, EXIT_USAGE = 0, 1, 2


class SclesionError(Exception):
    """Base of every error sclesion raises on purpose."""

    exit_code = 1


class UsageError(SclesionError, ValueError):
    """The command line asks for something impossible (exit 2)."""

    exit_code = 2


class DatasetError(SclesionError, ValueError):
    """The input dataset cannot be used as a whole (exit 2)."""

    exit_code = 2


class InputNotFoundError(SclesionError, FileNotFoundError):
    """A file or folder that should exist does not (exit 2)."""

    exit_code = 2


class InputImageError(SclesionError, ValueError):
    """One image cannot be used; its subject fails, the others go on."""


class GeometryError(SclesionError, ValueError):
    """A geometric operation got inconsistent inputs (affines, grids, coverage)."""


class ModelCardError(SclesionError, ValueError):
    """A model folder, its card or its weights are missing, corrupted or inconsistent (exit 2)."""

    exit_code = 2


class OutputWriteError(SclesionError, OSError):
    """A file could not be written (a full disk, a read-only folder); its unit fails (exit 1)."""


class MissingDependencyError(SclesionError):
    """A required external command is not on PATH (exit 127)."""

    exit_code = 127
