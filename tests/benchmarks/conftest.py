"""Benchmarks are scripts, not a package: tests load them by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / 'benchmarks'


@pytest.fixture(scope='session')
def load_benchmark():
    """``load_benchmark(name)``: ``benchmarks/<name>.py`` as a module."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f'bench_{name}', BENCHMARKS / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
