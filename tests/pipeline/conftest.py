"""Helpers and fixtures of the use-case tests: speech-like wav files, decoded videos, a tiny neural
renderer, and a registry that sees no weights at all."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from core.coefficients import DEFAULT_FACE_MODEL, descriptor_size
from pipeline import EngineRegistry, SourceState, prepare_photo
from pirender import GeneratorConfig, PIRenderer
from tests.conftest import write_pcm


def write_tone(path: Path, seconds: float, hz: float = 220.0, rate: int = 16000) -> Path:
    """A mono 16-bit wav of a sine tone (amplitude 0.3)."""
    t = np.arange(int(seconds * rate)) / rate
    return write_pcm(path, 0.3 * np.sin(2 * np.pi * hz * t), rate)


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of a video, (H, W, 3) uint8 RGB."""
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def tiny_renderer(num_expression: int, face_model: str = DEFAULT_FACE_MODEL, seed: int = 0) -> PIRenderer:
    """The small test architecture (64 px) with random weights, for `face_model` coefficients."""
    base = GeneratorConfig.small()
    config = dataclasses.replace(
        base,
        mapping=dataclasses.replace(base.mapping, coeff_nc=descriptor_size(num_expression)),
        face_model=face_model,
    )
    torch.manual_seed(seed)
    return PIRenderer(config).eval()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> EngineRegistry:
    """A registry that sees no weights at all (an empty weights folder, no own renderer)."""
    empty = tmp_path_factory.mktemp("no-weights")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(empty))
        yield EngineRegistry(own_dir=empty / "renderer", fast=False)


@pytest.fixture(scope="module")
def state(astronaut: np.ndarray, registry: EngineRegistry) -> SourceState:
    return prepare_photo(astronaut, registry=registry)
