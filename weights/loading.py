"""The one way weight files are read and written: PyTorch files without code, safetensors, JSON configs.

Every reader turns a missing file into `WeightsNotFoundError` and any other failure (a truncated
download, a foreign format, a pickle that would need to run code) into `CheckpointError`; both
name the file and what needs it, so the CLI and the app can show the message as it is.
PyTorch files are read with `torch.load(weights_only=True)`: tensors and plain containers only,
never arbitrary objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.errors import CheckpointError, WeightsNotFoundError

__all__ = [
    "load_torch_state",
    "load_tensor_dict",
    "load_safetensors",
    "save_safetensors",
    "read_json",
    "write_json",
]


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist or is not a file (needed for {what})")
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load_torch_state(path: str | Path, what: str = "these weights") -> Any:
    """The content of a PyTorch file (a state dict or a dict holding state dicts), on the CPU.

    `what` says what needs the file ("the 'deep3d' backend"); it goes into the error messages.
    """
    path = _existing(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many unrelated types for truncated or foreign files
        raise CheckpointError(
            f"{path} could not be read as a PyTorch checkpoint for {what} ({type(exc).__name__}: "
            f"{_first_line(exc)}). It may be truncated (download it again), another kind of file, "
            "or hold objects other than tensors."
        ) from None


def load_tensor_dict(path: str | Path, what: str = "these weights") -> Mapping[str, torch.Tensor]:
    """`load_torch_state` for files that must hold a flat dict of tensors (e.g. torchvision's VGG)."""
    state = load_torch_state(path, what)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path} holds a {type(state).__name__}, not a state dict of tensors (for {what})"
        )
    return state


def load_safetensors(path: str | Path, what: str = "these weights") -> dict[str, torch.Tensor]:
    """All tensors of a .safetensors file, on the CPU."""
    path = _existing(path, what)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} could not be read as safetensors for {what} ({_first_line(exc)}); it may be truncated"
        ) from None


def save_safetensors(
    tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write tensors (moved to the CPU, made contiguous) as a .safetensors file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    save_file(state, str(path), metadata=dict(metadata) if metadata else None)
    return path


def read_json(path: str | Path, what: str = "this model") -> dict[str, Any]:
    """A JSON object (a model's config.json); CheckpointError when unreadable or not an object."""
    path = _existing(path, what)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); it is needed for {what}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} holds a JSON {type(data).__name__}, not an object (for {what})")
    return data


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as indented JSON with a final newline; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
