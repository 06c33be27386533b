"""Which weight files this installation has, what each enables, and fetching one (for the app's status panel).

A thin view of `weights.registry` for the user interfaces, which see only the use-case layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from weights.registry import (
    REGISTRY,
    downloads_allowed,
    hub_repo_id,
    local_path,
    resolve_weights,
    weights_dir,
)

__all__ = ["WeightFile", "weight_files", "weight_file_names", "install_weights", "weights_dir", "downloads_allowed"]


@dataclass(frozen=True)
class WeightFile:
    """One registered weight file: where it goes, whether it is there, its licence, what it enables
    and its Hugging Face Hub mirror ("repo / file", empty when there is none)."""

    name: str
    file: str
    installed: bool
    path: str
    licence: str
    enables: str
    mirror: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def weight_file_names() -> list[str]:
    """Names of the registered weight files, in registry order."""
    return list(REGISTRY)


def weight_files() -> list[WeightFile]:
    """One record per registered weight file (cheap: checks files only)."""
    rows = []
    for name, entry in REGISTRY.items():
        path = local_path(name)
        repo = hub_repo_id(entry)
        mirror = f"{repo} / {entry.repo_filename}" if repo else ""
        rows.append(
            WeightFile(name, entry.filename, path.is_file(), str(path), entry.licence, entry.needed_for, mirror)
        )
    return rows


def install_weights(name: str, *, accept_licence: bool) -> Path:
    """Fetch weight file `name` from its hub mirror into the weights folder (after licence acceptance).

    Raises the registry's errors: licence not accepted, offline mode, no mirror, download failure.
    """
    return resolve_weights(name, allow_download=True, accept_licence=accept_licence)
