"""The one loader path: every failure is a typed error naming the file and what needs it."""

from __future__ import annotations

import pytest
import torch

from core.errors import CheckpointError, WeightsNotFoundError
from tests.conftest import write_code_pickle
from weights.loading import (
    load_safetensors,
    load_tensor_dict,
    load_torch_state,
    read_json,
    save_safetensors,
    write_json,
)
from weights.registry import own_renderer_dir, weights_dir


def test_torch_state_round_trip_and_failures(tmp_path):
    state = {"a.weight": torch.arange(6.0).view(2, 3)}
    torch.save({"net": state, "step": 3}, tmp_path / "ok.pt")
    loaded = load_torch_state(tmp_path / "ok.pt", "a test")
    assert loaded["step"] == 3 and torch.equal(loaded["net"]["a.weight"], state["a.weight"])
    with pytest.raises(WeightsNotFoundError, match=r"absent\.pt.*a test"):
        load_torch_state(tmp_path / "absent.pt", "a test")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"cut\.pt.*a test.*truncated"):
        load_torch_state(tmp_path / "cut.pt", "a test")
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_tensor_dict(tmp_path / "ok.pt", "a test")


def test_pickled_code_is_never_run(tmp_path):
    evil = write_code_pickle(tmp_path / "evil.pt", "x")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_torch_state(evil)


def test_safetensors_and_json_round_trip(tmp_path):
    tensors = {"w": torch.randn(3, 4).t()}  # not contiguous: written contiguous
    path = save_safetensors(tensors, tmp_path / "m" / "model.safetensors", metadata={"kind": "test"})
    assert torch.equal(load_safetensors(path)["w"], tensors["w"])
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_safetensors(path)
    write_json(tmp_path / "m" / "config.json", {"a": [1, 2]})
    assert read_json(tmp_path / "m" / "config.json") == {"a": [1, 2]}
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(CheckpointError, match="bad.json"):
        read_json(tmp_path / "bad.json")


def test_own_renderer_goes_in_the_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path))
    assert own_renderer_dir() == weights_dir() / "renderer" == tmp_path / "renderer"
