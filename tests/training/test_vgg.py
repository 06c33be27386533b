"""VGG features: torchvision numbering, local weight loading, and the documented random fallback."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from core.errors import CheckpointError, WeightsNotFoundError
from tests.training.conftest import narrow_vgg
from training.vgg import (
    VGG16_LAYOUT,
    VGG19_LAYOUT,
    VGGFeatures,
    layer_names,
    load_vgg_weights,
    perceptual_vgg19,
)


def test_layer_indices_follow_torchvision_numbering():
    names = layer_names(VGG19_LAYOUT)
    assert [
        names[n]
        for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu5_2", "relu3_4", "relu4_4")
    ] == [
        1,
        6,
        11,
        20,
        29,
        31,
        17,
        26,
    ]
    assert layer_names(VGG16_LAYOUT)["relu5_3"] == 29
    model = VGGFeatures(VGG19_LAYOUT, ("relu5_1",))
    assert len(model.features) == 30 and model.min_input_size() == 16
    convs = [k for k in model.state_dict() if k.endswith("weight")]
    assert convs[0] == "features.0.weight" and convs[-1] == "features.28.weight"


def test_forward_shapes_and_unknown_layer():
    model = narrow_vgg()
    out = model(torch.zeros(1, 3, 32, 32))
    assert out["relu1_1"].shape == (1, 8, 32, 32) and out["relu5_1"].shape == (1, 64, 2, 2)
    with pytest.raises(CheckpointError, match="unknown VGG layers"):
        VGGFeatures(VGG19_LAYOUT, ("relu9_9",))


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_local_weights_load_in_torchvision_layout(tmp_path, fmt):
    source = narrow_vgg().random_init(7)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # a full torchvision file also holds the classifier
    path = tmp_path / f"vgg.{fmt}"
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    target = load_vgg_weights(narrow_vgg().random_init(0), path)
    assert target.pretrained
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for name, value in source(x).items():
        assert torch.equal(value, target(x)[name])


def test_wrong_file_is_refused(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3, 3, 3)}, path)
    with pytest.raises(CheckpointError, match="features.0.weight"):
        load_vgg_weights(narrow_vgg(), path)
    with pytest.raises(WeightsNotFoundError):
        load_vgg_weights(narrow_vgg(), tmp_path / "absent.pth")


def test_fallback_is_fixed_and_declared(tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.delenv("PIRENDER_VGG19_WEIGHTS", raising=False)
    a = perceptual_vgg19(("relu1_1",), seed=3)
    b = perceptual_vgg19(("relu1_1",), seed=3)
    assert not a.pretrained
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not all(p.requires_grad for p in a.parameters())
    with pytest.raises(WeightsNotFoundError, match="vgg19-dcbee923.pth"):
        perceptual_vgg19(("relu1_1",), require=True)
    with pytest.raises(WeightsNotFoundError):
        perceptual_vgg19(("relu1_1",), weights=tmp_path / "missing.pth")
