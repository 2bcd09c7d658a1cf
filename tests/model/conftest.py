"""Tiny model configs so that every model test runs in well under a second."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from bids_app.model.config import ModelConfig, variant_config

TINY_WIDTHS = (4, 8, 8, 8, 8)
TINY_PATCH = (16, 16, 32)  # (x, y, z); bottleneck (z, x, y) = (2, 2, 2)


@pytest.fixture
def tiny_config() -> Callable[..., ModelConfig]:
    """Factory: a paper-shaped config (five levels, same strides) with 4-8 channels."""

    def make(variant: str = 'mean-imputation', **kwargs) -> ModelConfig:
        return variant_config(variant, widths=TINY_WIDTHS, patch_size=TINY_PATCH, **kwargs)

    return make


@pytest.fixture(autouse=True)
def _seed_and_one_thread() -> Iterator[None]:
    """Seed torch, and use one thread: tiny convolutions gain nothing from two, and on a shared
    machine a second OpenMP thread waiting for a busy core made them 20x slower."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
