"""The lid warping network (`pipeline.lid_flow`, docs/LID_FLOW.md): safe loading, confinement to
the lid mask (outside it the geometric output, flow and paint exactly), the flag, and a real photo."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from core.errors import CheckpointError, WeightsNotFoundError
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.geometric import PreviewSettings
from pipeline.lid_flow import LidFlowConfig, LidFlowNet, bundled_lid_flow, retouch_shut_lids
from pipeline.lid_flow_geometry import PATCH, closure, condition, net_inputs


def _lids(cx: float, cy: float, half: float, open_gap: float) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(cx - half, cx + half, 9)
    arc = np.sin(np.linspace(0.0, np.pi, 9))
    return np.stack([xs, cy - open_gap * arc], 1), np.stack([xs, cy + 0.3 * open_gap * arc], 1)


def _scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    size = 128
    source = rng.integers(60, 200, (size, size, 3), dtype=np.uint8)
    out = rng.integers(60, 200, (size, size, 3), dtype=np.uint8)
    source_lids, target_lids = _lids(64, 64, 16, 8.0), _lids(64, 66, 16, 0.5)
    hidden = np.zeros((size, size), np.float32)
    hidden[58:66, 50:78] = 1.0
    flow = np.zeros((size, size, 2), np.float32)
    flow[50:68, 44:84, 1] = -6.0  # the lid drawn down: its pixels read above
    return source, out, flow, hidden, source_lids, target_lids


def _busy_model() -> LidFlowNet:
    torch.manual_seed(0)
    model = LidFlowNet(LidFlowConfig())
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.3)
        model.head.bias.fill_(0.5)
    return model.eval()


def test_save_and_load_round_trip(tmp_path) -> None:
    model = _busy_model()
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = LidFlowNet.from_pretrained(tmp_path)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    assert bundled_lid_flow("another-model", tmp_path) is None


def test_loading_refuses_broken_or_missing_files(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError):
        bundled_lid_flow("pirender-mesh-v1", tmp_path)
    LidFlowNet(LidFlowConfig(channels=8)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"channels": 16}))
    with pytest.raises(CheckpointError):
        LidFlowNet.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config | {"unknown": 1}))
    with pytest.raises(CheckpointError):
        LidFlowNet.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        LidFlowNet.from_pretrained(tmp_path)


def test_offsets_are_bounded_and_coarse() -> None:
    model = _busy_model()
    x = torch.randn(3, LidFlowConfig.input_nc, PATCH[1], PATCH[0])
    with torch.no_grad():
        offset, gate, coarse = model(x, torch.rand(3, 2))
    assert offset.shape == (3, 2, PATCH[1], PATCH[0]) and coarse.shape == (3, 2, 10, 16)
    assert float(offset.abs().max()) <= model.config.bound + 1e-5
    assert 0.0 <= float(gate.min()) and float(gate.max()) <= 1.0


def test_a_fresh_network_keeps_the_geometric_flow() -> None:
    with torch.no_grad():
        offset, _, _ = LidFlowNet()(torch.randn(2, LidFlowConfig.input_nc, 40, 64), torch.rand(2, 2))
    assert float(offset.abs().max()) == 0.0


def test_retouch_changes_nothing_outside_the_lid_mask() -> None:
    source, out, flow, hidden, source_lids, target_lids = _scene()
    eye = net_inputs(out, source, flow, hidden, source_lids, target_lids)
    assert eye is not None and eye.inputs.shape == (PATCH[1], PATCH[0], 11)
    cover = np.full(out.shape[:2], 0.5, np.float32)
    skin = np.ones(out.shape[:2], np.float32)
    new_out, new_cover = out.copy(), cover.copy()
    cond = condition(closure(source_lids, target_lids), 1.0)
    new_flow, new_skin = retouch_shut_lids(
        _busy_model(), new_out, new_cover, flow, source, [(eye, cond)], skin
    )
    weight = np.zeros(out.shape[:2], np.float32)
    x0, y0, x1, y1 = eye.box
    weight[y0:y1, x0:x1] = eye.weight
    outside = weight == 0.0
    assert np.array_equal(new_out[outside], out[outside])
    assert np.array_equal(new_flow[outside], flow[outside])
    assert np.array_equal(new_cover[outside], cover[outside])
    assert np.array_equal(new_skin[outside], skin[outside])
    inside = weight > 0.5
    assert inside.any() and np.abs(new_flow[inside] - flow[inside]).max() > 0.1
    assert np.all(new_cover[inside] < 0.5)


def test_the_flag_is_off_by_default() -> None:
    assert PreviewSettings().lid_flow is False


@pytest.mark.realdata
@pytest.mark.slow
def test_a_real_photo_changes_only_its_shut_lids(shared_data, registry: EngineRegistry) -> None:
    """SadTalker people_0 (made-up lids, a painted disc today), close_eyes 1: with the flag the
    lids are read from the photo, so pixels change there and nowhere else (main: nothing changes)."""
    state = prepare_photo(shared_data / "images" / "OpenTalker__SadTalker__people_0.png", registry=registry)
    engine = registry.geometric(state.backend)
    renderer, settings = engine.renderer, engine.renderer.settings
    request = EditRequest({"close_eyes": 1.0}, engine="preview")
    try:
        outs = []
        for on in (False, True):
            renderer.settings = dataclasses.replace(settings, lid_flow=on)
            outs.append(edit(state, request, registry=registry).full_image)
    finally:
        renderer.settings = settings
    changed = np.any(outs[0] != outs[1], axis=2)
    points = state.engine_state(engine).points
    lids = np.concatenate([points[np.concatenate(eye), :2] for eye in renderer.projector.layout.eyes])
    lids = state.crop_transform.inverse_points(lids)
    width = float(np.ptp(lids[:, 0])) / 2.6
    (x0, y0), (x1, y1) = lids.min(0) - [0.3 * width, 0.8 * width], lids.max(0) + [0.3 * width, 0.4 * width]
    near = np.zeros_like(changed)
    near[max(int(y0), 0) : int(y1) + 1, max(int(x0), 0) : int(x1) + 1] = True
    assert changed.sum() > 300  # the lids are read anew
    assert not changed[~near].any()  # and nothing else moved
