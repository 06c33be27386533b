"""Fixtures for the training and evaluation tests: a tiny synthetic dataset, a narrow random VGG, a
tiny generator config, and one intra-op thread for every test of this folder and below."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pirender.config import GeneratorConfig
from tests.training.synthetic import FACE_MODEL, make_dataset
from training.config import LossConfig
from training.vgg import VGG19_LAYOUT, VGGFeatures


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Every test here runs small models (tests/conftest.py's `one_thread`)."""


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 synthetic videos x 8 frames, 32 px: videos 0-1 train, video 2 test."""
    root = tmp_path_factory.mktemp("synthetic") / "dataset"
    make_dataset(root, videos=3, frames=8, size=32)
    return root


@pytest.fixture(scope="session")
def tiny_generator_config() -> GeneratorConfig:
    return dataclasses.replace(GeneratorConfig.small(), face_model=FACE_MODEL, image_size=32)


def narrow_vgg(divisor: int = 8) -> VGGFeatures:
    """A VGG-19 with 1/divisor of the channels (random, fixed): the loss code path at a fraction of the cost."""
    layout = tuple(c if c == "M" else int(c) // divisor for c in VGG19_LAYOUT)
    cfg = LossConfig()
    return VGGFeatures(layout, dict.fromkeys(cfg.perceptual_layers + cfg.style_layers)).random_init(0)


@pytest.fixture
def small_vgg() -> VGGFeatures:
    return narrow_vgg()
