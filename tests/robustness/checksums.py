"""sha256 of every file of an input dataset: it must be the same after a run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def checksums(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``; a symlink by its target.

    Links are not followed (a broken DataLad link has no content, and it must stay a link).
    """
    sums = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                sums[relative] = f'link:{os.readlink(path)}'
                continue
            digest = hashlib.sha256()
            with path.open('rb') as handle:
                for block in iter(lambda: handle.read(1 << 20), b''):
                    digest.update(block)
            sums[relative] = digest.hexdigest()
    return sums


def changed(before: dict[str, str], after: dict[str, str], prefix: str = '') -> list[str]:
    """Files under ``prefix`` added, removed or altered between two :func:`checksums`."""
    keys = {k for k in before.keys() | after.keys() if k.startswith(prefix)}
    return sorted(k for k in keys if before.get(k) != after.get(k))
