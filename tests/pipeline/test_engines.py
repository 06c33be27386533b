"""Engines: every renderer fulfils the `Renderer` contract; the registry's availability, lazy loading and status."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from core.errors import FaceModelMismatchError, InputError, WeightsNotFoundError
from pipeline import (
    GEOMETRIC,
    OWN_NEURAL,
    PUBLIC_NEURAL,
    EngineRegistry,
    GeometricEngine,
    NeuralEngine,
    Renderer,
)
from pipeline.renderer import RenderedFrame, crops
from pirender import GeneratorConfig, PIRenderer, save_pretrained
from tests.pipeline.conftest import tiny_renderer
from weights.registry import REGISTRY


def _coeffs(face_model: str = BFM_DEEP3D, e: int = 64, yaw: float = 0.0) -> FaceCoefficients:
    return FaceCoefficients(face_model, np.zeros(e), [0.0, yaw, 0.0], [0.0, 0.0, 1.0], [1.0, 112.0, 112.0])


def _crop() -> np.ndarray:
    y, x = np.mgrid[0:256, 0:256]
    return np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)


class _ShiftRenderer:
    """Stand-in for GeometricRenderer: shifts the crop by the yaw (a pure function of its inputs)."""

    def prepare(
        self, crop: np.ndarray, source: FaceCoefficients, transform: object = None
    ) -> tuple[np.ndarray, FaceCoefficients]:
        return crop, source

    def render(self, state: tuple[np.ndarray, FaceCoefficients], target: FaceCoefficients) -> np.ndarray:
        crop, source = state
        return np.roll(crop, int(round(np.degrees(target.angles[1] - source.angles[1]))), axis=1)

    def render_frame(
        self, state: tuple[np.ndarray, FaceCoefficients], target: FaceCoefficients
    ) -> RenderedFrame:
        return RenderedFrame(crop=self.render(state, target))


def test_geometric_engine_call_shape() -> None:
    engine = GeometricEngine(DEFAULT_FACE_MODEL, renderer=_ShiftRenderer())
    assert (
        isinstance(engine, Renderer) and engine.name == GEOMETRIC and engine.face_model == DEFAULT_FACE_MODEL
    )
    src = _coeffs(DEFAULT_FACE_MODEL, 32)
    state = engine.prepare(_crop(), src)
    np.testing.assert_array_equal(engine.render(state, src), _crop())
    motion = MotionSequence.from_frames([_coeffs(DEFAULT_FACE_MODEL, 32, np.radians(d)) for d in range(5)])
    calls: list[tuple[int, int]] = []
    frames = list(
        crops(engine.render_frames(state, motion, batch_size=2, progress=lambda d, t: calls.append((d, t))))
    )
    assert len(frames) == 5 and calls == [(2, 5), (4, 5), (5, 5)]
    np.testing.assert_array_equal(frames[3], np.roll(_crop(), 3, axis=1))
    chosen = crops(engine.render_frames(state, motion, frames=[4, 1]))
    np.testing.assert_array_equal(chosen[0], frames[4])
    np.testing.assert_array_equal(chosen[1], frames[1])
    with pytest.raises(FaceModelMismatchError):
        engine.render(state, _coeffs(BFM_DEEP3D))
    with pytest.raises(InputError):
        engine.prepare(_crop().astype(np.float32), src)


@pytest.fixture(scope="module")
def small_model() -> PIRenderer:
    torch.manual_seed(0)
    return PIRenderer(GeneratorConfig.small()).eval()


def test_neural_engine_call_shape(small_model: PIRenderer) -> None:
    engine = NeuralEngine(small_model, PUBLIC_NEURAL)
    assert isinstance(engine, Renderer) and engine.face_model == BFM_DEEP3D
    state = engine.prepare(_crop(), _coeffs())
    out = engine.render(state, _coeffs(yaw=0.2))
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8  # 64-px generator, resized back
    motion = MotionSequence.from_frames([_coeffs(yaw=0.05 * i) for i in range(3)])
    calls: list[tuple[int, int]] = []
    frames = list(
        crops(engine.render_frames(state, motion, batch_size=2, progress=lambda d, t: calls.append((d, t))))
    )
    assert len(frames) == 3 and all(f.shape == (256, 256, 3) for f in frames) and calls[-1] == (3, 3)
    # chosen frames are driven by their windows of the whole motion: the same pictures
    chosen = crops(engine.render_frames(state, motion, frames=[2, 0], batch_size=2))
    np.testing.assert_allclose(chosen[0].astype(int), frames[2].astype(int), atol=1)
    np.testing.assert_allclose(chosen[1].astype(int), frames[0].astype(int), atol=1)
    with pytest.raises(FaceModelMismatchError, match="deep3d"):
        engine.prepare(_crop(), _coeffs(DEFAULT_FACE_MODEL, 32))
    with pytest.raises(FaceModelMismatchError):
        engine.render(state, _coeffs(DEFAULT_FACE_MODEL, 32))
    with pytest.raises(FaceModelMismatchError):
        crops(engine.render_frames(state, MotionSequence.still(_coeffs(DEFAULT_FACE_MODEL, 32))))


@pytest.fixture()
def empty_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(folder))
    monkeypatch.delenv("PIRENDER_HUB_REPO_PIRENDER_VOX", raising=False)
    return folder


def test_registry_without_weights(empty_weights: Path, tmp_path: Path) -> None:
    registry = EngineRegistry(own_dir=tmp_path / "no-renderer", fast=False)
    assert registry.available() == [GEOMETRIC]
    rows = {r.name: r for r in registry.status()}
    assert set(rows) == {GEOMETRIC, PUBLIC_NEURAL, OWN_NEURAL}
    geo, vox, own = rows[GEOMETRIC], rows[PUBLIC_NEURAL], rows[OWN_NEURAL]
    assert geo.available and geo.missing is None and not geo.loaded
    assert not vox.available and not vox.loaded and vox.face_model == BFM_DEEP3D
    assert REGISTRY[PUBLIC_NEURAL].filename in vox.missing and str(empty_weights) in vox.missing
    assert "epoch_20.pth" in vox.missing  # the deep3d backend's files are needed too
    assert "CC BY-NC" in vox.licence
    assert not own.available and "config.json" in own.missing
    with pytest.raises(WeightsNotFoundError, match=REGISTRY[PUBLIC_NEURAL].filename):
        registry.neural(PUBLIC_NEURAL)
    with pytest.raises(WeightsNotFoundError, match="No neural renderer is installed"):
        registry.select("neural", "deep3d", BFM_DEEP3D)
    with pytest.raises(InputError):
        registry.select("best", "default", DEFAULT_FACE_MODEL)
    assert all(isinstance(r.to_dict(), dict) for r in registry.status())


def test_own_renderer_is_looked_up_in_the_users_weights_folder(empty_weights: Path) -> None:
    registry = EngineRegistry(fast=False)
    assert registry.own_dir == empty_weights / "renderer"
    assert str(empty_weights / "renderer") in {r.name: r for r in registry.status()}[OWN_NEURAL].missing
    save_pretrained(tiny_renderer(32), empty_weights / "renderer")
    assert OWN_NEURAL in registry.available()  # seen without a new registry
    engine = registry.neural(OWN_NEURAL)
    assert isinstance(engine, NeuralEngine) and isinstance(engine.renderer, PIRenderer)


@pytest.fixture()
def public_weights(empty_weights: Path, small_checkpoint: Path) -> Path:
    """The weights folder with the (small) public-format checkpoint and placeholder deep3d files."""
    shutil.copy(small_checkpoint, empty_weights / REGISTRY[PUBLIC_NEURAL].filename)
    for name in ("deep3d-recon", "bfm-front"):
        (empty_weights / REGISTRY[name].filename).write_bytes(b"present")
    return empty_weights


def test_registry_loads_public_weights_once(public_weights: Path, tmp_path: Path) -> None:
    registry = EngineRegistry(own_dir=tmp_path / "no-renderer", fast=False)
    assert registry.available() == [GEOMETRIC, PUBLIC_NEURAL]
    assert not {r.name: r for r in registry.status()}[PUBLIC_NEURAL].loaded

    barrier = threading.Barrier(4)

    def load(_: int) -> NeuralEngine:
        barrier.wait()
        return registry.neural(PUBLIC_NEURAL)

    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(load, range(4)))
    assert all(e is engines[0] for e in engines)  # loaded once, shared
    assert engines[0].face_model == BFM_DEEP3D and isinstance(engines[0].renderer, PIRenderer)
    assert {r.name: r for r in registry.status()}[PUBLIC_NEURAL].loaded
    assert registry.select("neural", "deep3d", BFM_DEEP3D) is engines[0]
    assert registry.select("auto", "deep3d", BFM_DEEP3D) is engines[0]
    with pytest.raises(FaceModelMismatchError, match="backend 'deep3d'"):
        registry.select("neural", "default", DEFAULT_FACE_MODEL)

    registry.reload()
    assert not {r.name: r for r in registry.status()}[PUBLIC_NEURAL].loaded
    assert registry.neural(PUBLIC_NEURAL) is not engines[0]
    (public_weights / REGISTRY[PUBLIC_NEURAL].filename).unlink()  # removed: unavailable after reload
    registry.reload()
    assert registry.available() == [GEOMETRIC]


def test_registry_own_renderer(empty_weights: Path, tmp_path: Path) -> None:
    own_dir = tmp_path / "renderer"
    save_pretrained(tiny_renderer(32, seed=1), own_dir)
    registry = EngineRegistry(own_dir=own_dir, fast=False)
    rows = {r.name: r for r in registry.status()}
    assert rows[OWN_NEURAL].available and rows[OWN_NEURAL].face_model == DEFAULT_FACE_MODEL
    engine = registry.select("neural", "default", DEFAULT_FACE_MODEL)
    assert engine.name == OWN_NEURAL and engine is registry.neural(OWN_NEURAL)
    state = engine.prepare(_crop(), _coeffs(DEFAULT_FACE_MODEL, 32))
    assert engine.render(state, _coeffs(DEFAULT_FACE_MODEL, 32, 0.1)).shape == (256, 256, 3)
