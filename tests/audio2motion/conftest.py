"""Fixtures of the audio2motion tests: one torch thread (small ops on 2 shared cores run faster
that way) and a tiny model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from audio2motion.model import AudioToMotion

from .helpers import randomize, tiny_config


@pytest.fixture(autouse=True, scope="package")
def one_torch_thread() -> Iterator[None]:
    """Package scope, so that module-scoped fixtures (the trained model) also run single-threaded."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture()
def tiny_model() -> AudioToMotion:
    return randomize(AudioToMotion(tiny_config())).eval()
