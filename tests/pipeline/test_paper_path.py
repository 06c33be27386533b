"""The public weights without the BFM: the neural renderer runs, what needs the BFM says so, and the
network's output goes back into the photo only where it changed it (conformance-filled weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.coefficients import BFM_DEEP3D
from core.errors import FaceModelNotInstalledError
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.engines import GEOMETRIC, PUBLIC_NEURAL
from tests.reconstruction.test_deep3d import filled_weights
from weights.registry import REGISTRY


@pytest.fixture(scope="module")
def weights_without_bfm(
    tmp_path_factory: pytest.TempPathFactory, small_checkpoint: Path, test_data: Path
) -> Path:
    folder = tmp_path_factory.mktemp("paper-weights")
    shutil.copy(small_checkpoint, folder / REGISTRY[PUBLIC_NEURAL].filename)
    torch.save({"net_recon": filled_weights(test_data)}, folder / REGISTRY["deep3d-recon"].filename)
    return folder


@pytest.fixture()
def registry(weights_without_bfm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EngineRegistry:
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(weights_without_bfm))
    return EngineRegistry(own_dir=tmp_path / "no-renderer", fast=False)


@pytest.mark.slow
def test_neural_renderer_runs_without_the_bfm(registry: EngineRegistry, astronaut: np.ndarray) -> None:
    assert registry.available() == [GEOMETRIC, PUBLIC_NEURAL]
    state = prepare_photo(astronaut, backend="deep3d", registry=registry)
    assert state.face_model == BFM_DEEP3D
    offset = np.zeros_like(state.coefficients.expression)
    offset[:3] = 1.5
    result = edit(state, EditRequest(engine="neural", raw_expression_offset=offset), registry=registry)
    assert result.engine_used == PUBLIC_NEURAL and result.full_image.shape == astronaut.shape
    # The network's crop goes in only where it differs from the photo: outside the crop's box the
    # photo is untouched, pixel for pixel.
    x0, y0, x1, y1 = (int(v) for v in state.crop_transform.box)
    outside = np.ones(astronaut.shape[:2], bool)
    outside[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = False
    np.testing.assert_array_equal(result.full_image[outside], astronaut[outside])
    assert not np.array_equal(result.full_image, astronaut)


@pytest.mark.slow
def test_what_needs_the_bfm_says_so(registry: EngineRegistry, astronaut: np.ndarray) -> None:
    state = prepare_photo(astronaut, backend="deep3d", registry=registry)
    with pytest.raises(FaceModelNotInstalledError, match="BFM"):
        edit(state, EditRequest(values={"smile": 0.5}, engine="neural"), registry=registry)
    with pytest.raises(FaceModelNotInstalledError, match="BFM"):
        registry.select("preview", "deep3d", BFM_DEEP3D)
