"""Fixtures for the tests on tiny random-weight image models, taken in explicitly by the modules
that use them (``one_torch_thread = tiny_models.one_torch_thread``: pytest finds a fixture among a
test module's names, and a module-scoped one is set up once per module that names it)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import torch

from engine.images.ip_adapter import DEFAULT_NAME
from engine.images.random_ip_adapter import build_random_ip_adapter
from engine.images.random_sdxl import build_random_sdxl


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; on a busy 2-core machine two threads spin-wait ~20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/ with a tiny SDXL and a tiny IP-Adapter where the downloader puts them."""
    root = tmp_path_factory.mktemp("tiny") / "models"
    sdxl = build_random_sdxl(root / "sdxl" / "tiny")
    build_random_ip_adapter(root / "ip_adapter" / DEFAULT_NAME, sdxl / "unet")
    return root
