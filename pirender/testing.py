"""Deterministic conformance weights and inputs, for benchmarks and checks.

The filling rule gives every tensor of the original generator's state dict a seeded value, so that a
benchmark or a test can run the real-size network without the public checkpoint. The key tables
(`*_state_dict_keys.tsv`) fix the order in which tensors are seeded; they live in the project's
tests/data and in $PIRENDER_SHARED/conformance (default: ../shared beside the repository).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from core.errors import InputError
from pirender.checkpoint import from_original_keys
from pirender.config import GeneratorConfig
from pirender.generator import PIRenderer

__all__ = [
    "CONFORMANCE_SEEDS",
    "KEY_TABLES",
    "conformance_case",
    "conformance_model",
    "fill_original_weights",
    "find_conformance_file",
]

#: config name -> seed of the conformance weights
CONFORMANCE_SEEDS = {"released": 20211, "small": 3000}
#: config name -> key table file name
KEY_TABLES = {"released": "official_state_dict_keys.tsv", "small": "small_config_state_dict_keys.tsv"}
_CASES = {"released": "official_config_case.npz", "small": "small_config_case.npz"}
_REPO = Path(__file__).resolve().parents[1]


def fill_original_weights(key_table: str | Path, seed: int) -> dict[str, torch.Tensor]:
    """Original-format state dict filled by the conformance rule (float32 tensors, original key names).

    For the tensor at index i of the table: r = randn(shape) from a generator seeded with seed + i;
    conv/linear weights get r / sqrt(fan_in); biases and (C, 1, 1) layer-norm tensors 0.1 r,
    plus 1 for the layer-norm scales.
    """
    state = {}
    for line in Path(key_table).read_text().splitlines()[1:]:
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


def find_conformance_file(name: str) -> Path | None:
    """A conformance file from $PIRENDER_SHARED/conformance, ../shared/conformance or tests/data."""
    shared = Path(os.environ.get("PIRENDER_SHARED", _REPO.parent / "shared"))
    for folder in (shared / "conformance", _REPO / "tests" / "data"):
        if (folder / name).is_file():
            return folder / name
    return None


def _config(name: str) -> GeneratorConfig:
    if name not in CONFORMANCE_SEEDS:
        raise InputError(f"unknown config '{name}': expected one of {sorted(CONFORMANCE_SEEDS)}")
    return GeneratorConfig.released() if name == "released" else GeneratorConfig.small()


def conformance_model(name: str = "released", key_table: str | Path | None = None) -> PIRenderer:
    """The generator of config `name` ("released" or "small") with the conformance weights, in eval mode."""
    config = _config(name)
    table = Path(key_table) if key_table else find_conformance_file(KEY_TABLES[name])
    if table is None or not table.is_file():
        raise InputError(
            f"the key table {KEY_TABLES[name]} was not found (looked in $PIRENDER_SHARED/conformance, "
            f"../shared/conformance and tests/data): pass its path, or use real weights instead"
        )
    model = PIRenderer(config)
    model.load_state_dict(
        from_original_keys(fill_original_weights(table, CONFORMANCE_SEEDS[name])), strict=True
    )
    return model.eval()


def conformance_case(name: str = "released") -> tuple[torch.Tensor, torch.Tensor]:
    """The conformance inputs: source (1, 3, H, W) in [-1, 1] and descriptor (1, coeff_nc, window).

    Falls back to seeded random inputs of the right shapes when the case file is absent.
    """
    path = find_conformance_file(_CASES[name])
    if path is not None:
        with np.load(path) as case:
            return torch.from_numpy(case["source"]).float(), torch.from_numpy(case["descriptor"]).float()
    config = _config(name)
    g = torch.Generator().manual_seed(CONFORMANCE_SEEDS[name])
    size = config.image_size
    source = torch.rand(1, config.image_nc, size, size, generator=g) * 2 - 1
    return source, torch.randn(1, config.coeff_nc, config.window, generator=g)
