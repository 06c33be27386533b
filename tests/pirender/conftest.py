"""Conformance weights: the filling rule of shared/conformance/README.md, saved as a user's checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).resolve().parents[1] / "data"


def fill_original_weights(tsv: Path, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic weights for every tensor of the key table, by the conformance rule."""
    state = {}
    for line in tsv.read_text().splitlines()[1:]:
        index, key, shape_text = line.split("\t")[:3]
        shape = tuple(int(s) for s in shape_text.split("x"))
        g = torch.Generator().manual_seed(seed + int(index))
        r = torch.randn(shape, generator=g, dtype=torch.float32)
        if len(shape) >= 2 and not (len(shape) == 3 and shape[1:] == (1, 1)):
            value = r / math.sqrt(math.prod(shape[1:]))
        else:
            value = 0.1 * r
            if key.endswith("weight") and len(shape) == 3:
                value = 1.0 + value
        state[key] = value
    return state


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
