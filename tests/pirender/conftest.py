"""Conformance weights: the filling rule of shared/conformance/README.md, saved as a user's checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pirender.testing import fill_original_weights

DATA = Path(__file__).resolve().parents[1] / "data"

__all__ = ["DATA", "fill_original_weights"]


@pytest.fixture(scope="session")
def small_original_state() -> dict[str, torch.Tensor]:
    return fill_original_weights(DATA / "small_config_state_dict_keys.tsv", 3000)


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory, small_original_state) -> Path:
    """A file shaped like the public checkpoint (net_G_ema + net_G + optimiser state), small config."""
    path = tmp_path_factory.mktemp("ckpt") / "small_checkpoint.pt"
    torch.save(
        {
            "net_G": small_original_state,
            "net_G_ema": small_original_state,
            "opt_G": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.5, 0.999), "params": [0, 1]}]},
            "current_epoch": 190,
            "current_iteration": 400000,
        },
        path,
    )
    return path
