"""Which weight files this installation has, what each enables, and fetching one (for the app's status panel).

A thin view of `weights.registry` for the user interfaces, which see only the use-case layer.
"""

from __future__ import annotations

from pathlib import Path

from weights.bundles import (
    BundleResult,
    PaperPathStatus,
    StartupFetch,
    bundle_licences,
    download_bundle,
    fetch_paper_weights_on_startup,
    paper_path_status,
)
from weights.registry import (
    REGISTRY,
    downloads_allowed,
    hub_repo_id,
    local_path,
    resolve_weights,
    weights_dir,
)

__all__ = [
    "BundleResult",
    "PaperPathStatus",
    "StartupFetch",
    "weight_files",
    "weight_file_names",
    "install_weights",
    "install_paper_bundle",
    "paper_bundle_licences",
    "paper_path_status",
    "fetch_paper_weights_on_startup",
    "weights_dir",
    "downloads_allowed",
]


#: What `weight_files` says of each file, after its name.
_FIELDS = ("file", "installed", "path", "licence", "enables", "mirror")


def weight_file_names() -> list[str]:
    """Names of the registered weight files, in registry order."""
    return list(REGISTRY)


def weight_files() -> list[dict[str, object]]:
    """One record per registered weight file (cheap: checks files only): name, file, installed, path,
    licence, enables (what it is needed for) and mirror (its Hugging Face Hub "repo / file", or "")."""
    rows: list[dict[str, object]] = []
    for name, entry in REGISTRY.items():
        path, repo = local_path(name), hub_repo_id(entry)
        mirror = f"{repo} / {entry.repo_filename}" if repo else ""
        facts = (entry.filename, path.is_file(), str(path), entry.licence, entry.needed_for, mirror)
        rows.append({"name": name, **dict(zip(_FIELDS, facts, strict=True))})
    return rows


def install_weights(name: str, *, accept_licence: bool) -> Path:
    """Fetch weight file `name` from its hub mirror into the weights folder (after licence acceptance).

    Raises the registry's errors: licence not accepted, offline mode, no mirror, download failure.
    """
    return resolve_weights(name, allow_download=True, accept_licence=accept_licence)


def paper_bundle_licences() -> list[str]:
    """One line per file of the paper-quality bundle: its name and licence (shown before fetching)."""
    return [notice.line() for notice in bundle_licences("paper")]


def install_paper_bundle(*, accept_licence: bool) -> BundleResult:
    """Everything the public renderer needs, in one step (see `weights.bundles.download_bundle`)."""
    return download_bundle("paper", accept_licence=accept_licence)
