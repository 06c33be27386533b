"""Registry of the weight files the product can use, and one way to resolve each to a local path.

Every entry knows its file name, where it lives on the Hugging Face Hub, its licence and which
feature needs it. `resolve_weights(name)` finds the file locally, or downloads it with
`huggingface_hub` when downloads are allowed and the licence (when it needs acceptance) has been
accepted, or raises `WeightsNotFoundError` saying which file to put where and what it enables.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import LicenceNotAcceptedError, WeightsNotFoundError

__all__ = [
    "WeightEntry",
    "REGISTRY",
    "weights_dir",
    "bundled_dir",
    "own_renderer_dir",
    "local_path",
    "resolve_weights",
    "downloads_allowed",
    "hub_repo_id",
    "sha256_of",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightEntry:
    """One downloadable or user-provided file.

    repo_id/repo_filename: where a hub mirror holds it (None: not on the hub, the user must provide it).
    requires_acceptance: the user must accept `licence` before we download it for them.
    """

    name: str
    filename: str
    description: str
    needed_for: str
    licence: str
    licence_url: str
    repo_id: str | None = None
    repo_filename: str | None = None
    requires_acceptance: bool = True
    official: bool = False
    size_mb: float | None = None
    sha256: str | None = None


REGISTRY: dict[str, WeightEntry] = {
    e.name: e
    for e in (
        WeightEntry(
            name="pirender-vox",
            filename="epoch_00190_iteration_000400000_checkpoint.pt",
            description="public PIRender generator trained on VoxCeleb (Ren et al., ICCV 2021)",
            needed_for="the neural renderer at paper quality (edit refinement, reenactment, audio animation)",
            licence="CC BY-NC 4.0 (non-commercial use only)",
            licence_url="https://creativecommons.org/licenses/by-nc/4.0/",
            repo_id="vinthony/SadTalker-V002rc",
            repo_filename="epoch_00190_iteration_000400000_checkpoint.pt",
            official=False,
            size_mb=180,
        ),
        WeightEntry(
            name="deep3d-recon",
            filename="epoch_20.pth",
            description="Deep3DFaceRecon coefficient network (ResNet-50, 257 outputs)",
            needed_for="the 'deep3d' reconstruction backend (BFM coefficients for the public renderer weights)",
            licence="Deep3DFaceRecon_pytorch licence (research use); trained with the BFM, see its terms",
            licence_url="https://github.com/sicxu/Deep3DFaceRecon_pytorch",
            repo_id="vinthony/SadTalker",
            repo_filename="epoch_20.pth",
            size_mb=290,
        ),
        WeightEntry(
            name="bfm-front",
            filename="BFM_model_front.mat",
            description="Basel Face Model 2009 front part with the Guo et al. expression basis",
            needed_for="the 'deep3d' backend and the BFM editing controls",
            licence="Basel Face Model licence: register at https://faces.dmi.unibas.ch/bfm/ (non-commercial)",
            licence_url="https://faces.dmi.unibas.ch/bfm/main.php?nav=1-2&id=downloads",
            repo_id="vinthony/SadTalker",
            repo_filename="BFM_Fitting/BFM_model_front.mat",
            size_mb=127,
        ),
        WeightEntry(
            name="bfm-similarity-lm3d",
            filename="similarity_Lm3D_all.mat",
            description="standard 3D landmarks of the BFM used for the 224-px alignment",
            needed_for="the 'deep3d' backend (alignment)",
            licence="part of the Deep3DFaceRecon / BFM fitting files (BFM licence terms)",
            licence_url="https://github.com/sicxu/Deep3DFaceRecon_pytorch",
            repo_id="vinthony/SadTalker",
            repo_filename="BFM_Fitting/similarity_Lm3D_all.mat",
            size_mb=0.01,
        ),
    )
}


def weights_dir() -> Path:
    """Where users put downloaded weights: $PIRENDER_WEIGHTS_DIR, else ~/.cache/pirender/weights."""
    env = os.environ.get("PIRENDER_WEIGHTS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pirender" / "weights"


def bundled_dir() -> Path:
    """Small weights the project produced itself and ships in git (weights/files/)."""
    return Path(__file__).resolve().parent / "files"


def own_renderer_dir() -> Path:
    """Where a renderer trained with `pirender train` goes (its `export/` folder: config.json +
    model.safetensors) for the app to offer it: `<weights dir>/renderer`. The project ships none."""
    return weights_dir() / "renderer"


def downloads_allowed() -> bool:
    """Downloads are off when HF_HUB_OFFLINE or PIRENDER_OFFLINE is set to a true value."""
    for var in ("PIRENDER_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    return True


def hub_repo_id(entry: WeightEntry) -> str | None:
    """The hub repo for an entry; PIRENDER_HUB_REPO_<NAME> (dashes as underscores) overrides it."""
    return os.environ.get(f"PIRENDER_HUB_REPO_{entry.name.upper().replace('-', '_')}", entry.repo_id)


def local_path(name: str) -> Path:
    """Where the file of entry `name` is expected locally."""
    return weights_dir() / _entry(name).filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(name: str) -> WeightEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsNotFoundError(f"unknown weights '{name}'; known: {', '.join(REGISTRY)}") from None


def missing_message(entry: WeightEntry) -> str:
    """The actionable text shown when an entry's file is absent."""
    where = weights_dir() / entry.filename
    text = (
        f"'{entry.filename}' ({entry.description}) is not installed. It is needed for {entry.needed_for}. "
        f"Put the file at {where} (or set PIRENDER_WEIGHTS_DIR to the folder that holds it). "
        f"Licence: {entry.licence} ({entry.licence_url})."
    )
    repo = hub_repo_id(entry)
    if repo:
        mirror = (
            "" if entry.official else " (an unofficial mirror that users of the original projects rely on)"
        )
        text += (
            f" When online, it can be fetched from the Hugging Face Hub repo '{repo}'{mirror} as "
            f"'{entry.repo_filename}': run `pirender download {entry.name} --accept-licence`."
        )
    return text


def resolve_weights(
    name: str,
    path: str | Path | None = None,
    *,
    allow_download: bool = False,
    accept_licence: bool = False,
) -> Path:
    """Return a local path for weights `name`.

    Order: an explicit `path`; the local weights folder; a hub download (only when `allow_download`,
    downloads are not switched off, and `accept_licence` for files whose licence needs acceptance).
    Raises WeightsNotFoundError (or LicenceNotAcceptedError) with instructions otherwise.
    """
    entry = _entry(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"{p} does not exist. " + missing_message(entry))
        return p
    local = weights_dir() / entry.filename
    if local.is_file():
        return local
    if not allow_download or not downloads_allowed() or not hub_repo_id(entry):
        raise WeightsNotFoundError(missing_message(entry))
    if entry.requires_acceptance and not accept_licence:
        raise LicenceNotAcceptedError(
            f"Downloading '{entry.filename}' requires accepting its licence: {entry.licence} "
            f"({entry.licence_url}). Pass accept_licence=True / --accept-licence, or tick the box in the app."
        )
    return download(entry)


def download(entry: WeightEntry) -> Path:
    """Fetch an entry from the hub into the local weights folder (huggingface_hub handles resume and caching)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo = hub_repo_id(entry)
    target = weights_dir()
    target.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s from hub repo %s", entry.repo_filename, repo)
    try:
        fetched = Path(
            hf_hub_download(
                repo_id=repo,
                filename=entry.repo_filename,
                local_dir=target,
                endpoint=os.environ.get("PIRENDER_HUB_ENDPOINT") or None,
            )
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise WeightsNotFoundError(
            f"could not download '{entry.repo_filename}' from '{repo}' ({type(exc).__name__}: {exc}). "
            + missing_message(entry)
        ) from None
    final = target / entry.filename
    if fetched != final:
        final.parent.mkdir(parents=True, exist_ok=True)
        fetched.replace(final)
    if entry.sha256 and sha256_of(final) != entry.sha256:
        final.unlink()
        raise WeightsNotFoundError(
            f"the download of {entry.filename} is corrupt (sha256 mismatch); try again"
        )
    return final
