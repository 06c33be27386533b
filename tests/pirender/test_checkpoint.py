"""Loading weights: the public checkpoint layout, a bare state dict, our safetensors format; rejections."""

from __future__ import annotations

import json

import pytest
import torch

from cli.main import main
from core.errors import CheckpointError, WeightsNotFoundError
from pirender import GeneratorConfig, PIRenderer, load_generator, load_pretrained, save_pretrained
from pirender.checkpoint import from_original_keys, infer_original_config, to_original_keys
from tests.conftest import write_code_pickle


def test_infer_config_of_small_case(small_original_state):
    cfg = infer_original_config(small_original_state)
    small = GeneratorConfig.small()
    assert (cfg.mapping, cfg.warping, cfg.editing, cfg.max_nc) == (
        small.mapping,
        small.warping,
        small.editing,
        32,
    )


def test_key_translation_round_trips(small_original_state):
    ours = from_original_keys(small_original_state)
    assert set(ours) == set(PIRenderer(GeneratorConfig.small()).state_dict())
    assert to_original_keys(ours).keys() == small_original_state.keys()


def test_bare_state_dict_and_net_g_are_accepted(small_original_state, tmp_path):
    torch.save(small_original_state, tmp_path / "bare.pt")
    torch.save({"net_G": small_original_state}, tmp_path / "net_g.pt")
    for name in ("bare.pt", "net_g.pt"):
        model = load_generator(tmp_path / name)
        assert model.config.coeff_nc == 73


def test_missing_and_unexpected_tensors_are_listed(small_original_state, tmp_path):
    state = dict(small_original_state)
    del state["editing_net.decoder.final.model.0.bias"]
    state["editing_net.extra.weight"] = torch.zeros(3)
    torch.save({"net_G_ema": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as info:
        load_generator(tmp_path / "bad.pt")
    text = str(info.value)
    assert "bad.pt" in text and "missing tensors: editing_net.final.0.bias" in text
    assert "unexpected tensors: editing_net.extra.weight" in text


def test_wrong_shape_against_a_given_config_is_listed(small_checkpoint):
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_generator(small_checkpoint, config=GeneratorConfig.released())


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_unreadable_files_name_the_file(tmp_path, content):
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="broken.pt"):
        load_generator(path)


def test_truncated_real_checkpoint(small_checkpoint, tmp_path):
    data = small_checkpoint.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_generator(path)


def test_other_model_checkpoint_is_refused(tmp_path):
    torch.save({"net_recon": {"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "epoch_20.pth")
    with pytest.raises(CheckpointError, match="not a PIRender generator checkpoint"):
        load_generator(tmp_path / "epoch_20.pth")


def test_arbitrary_objects_are_never_unpickled(tmp_path):
    evil = write_code_pickle(tmp_path / "evil.pt", "net_G_ema")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_generator(evil)


def test_missing_file_is_weights_not_found(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nothing.pt"):
        load_generator(tmp_path / "nothing.pt")


def test_config_of_a_removed_experiment_is_refused(tmp_path):
    save_pretrained(PIRenderer(GeneratorConfig.small()), tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    # files written before the experiment flags were removed carry them, "off": they still load
    meta["generator"].update(warp_source="network", edit_scale=1, motion_mask=0, colour_correction=True)
    meta["generator"]["editing"]["residual"] = False
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    assert load_pretrained(tmp_path / "m").config == GeneratorConfig.small()
    meta["generator"]["warp_source"] = "geometric"
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="49ad90b"):
        load_pretrained(tmp_path / "m")


def test_save_pretrained_round_trip(tmp_path):
    torch.manual_seed(3)
    model = PIRenderer(GeneratorConfig.small()).eval()
    save_pretrained(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["model_type"] == "pirender-generator" and meta["generator"]["face_model"] == "bfm09-deep3d"
    loaded = load_pretrained(tmp_path / "m")
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert loaded.config == model.config


def test_truncated_safetensors_is_refused(tmp_path):
    save_pretrained(PIRenderer(GeneratorConfig.small()), tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_generator(tmp_path / "m")


def test_convert_command(small_checkpoint, tmp_path, caplog):
    assert main(["convert", str(small_checkpoint), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert main(["convert", str(tmp_path / "missing.pt"), str(tmp_path / "o2")]) == 2
