"""Headless Chromium for the tests that render our HTML pages (they skip without it).

``.ci/run`` installs Debian's ``chromium`` when it is missing, as a user's machine would have a
browser; nothing is fetched from the network (the flags turn every background request off).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which('chromium')

#: Skips a test when ``chromium`` is not on PATH.
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason='chromium is not on PATH')

FLAGS = (
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
)


def chromium(tmp_path: Path, *args: str, window: str = '1280,2400') -> str:
    """Run headless Chromium with a fresh profile in ``tmp_path``; its stdout."""
    profile = tmp_path / f'profile-{len(list(tmp_path.glob("profile-*")))}'
    result = subprocess.run(
        [str(CHROMIUM), *FLAGS, f'--window-size={window}', f'--user-data-dir={profile}', *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout
