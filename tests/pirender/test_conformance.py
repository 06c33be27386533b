"""Our generator reproduces the original's outputs for the same weights (shared/conformance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pirender import PIRenderer, load_generator
from pirender.checkpoint import convert_checkpoint
from pirender.testing import fill_original_weights
from tests.conftest import TEST_DATA as DATA
from tests.conftest import shared_dir


def _check_case(model: PIRenderer, case: np.lib.npyio.NpzFile) -> None:
    with torch.no_grad():
        out = model(torch.from_numpy(case["source"]), torch.from_numpy(case["descriptor"]))
    for key in ("flow_field", "warp_image", "fake_image"):
        err = (out[key] - torch.from_numpy(case[key])).abs().max().item()
        assert err < 1e-4, f"{key} differs from the original by {err}"


def test_small_config_matches_original(small_checkpoint):
    model = load_generator(small_checkpoint)
    _check_case(model, np.load(DATA / "small_config_case.npz"))


def test_small_config_matches_after_conversion(small_checkpoint, tmp_path):
    convert_checkpoint(small_checkpoint, tmp_path / "converted")
    model = load_generator(tmp_path / "converted")
    _check_case(model, np.load(DATA / "small_config_case.npz"))


@pytest.mark.slow
def test_released_config_matches_original(tmp_path):
    case_path = shared_dir() / "conformance" / "official_config_case.npz"
    if not case_path.is_file():
        pytest.skip(f"{case_path} not present")
    state = fill_original_weights(DATA / "official_state_dict_keys.tsv", 20211)
    torch.save({"net_G_ema": state}, tmp_path / "released.pt")
    model = load_generator(tmp_path / "released.pt")
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(22.5e6, rel=0.02)
    _check_case(model, np.load(case_path))
