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
import re
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
    "check_file",
    "remove_corrupt",
    "hub_endpoint",
    "download",
    "partial_path",
    "missing_message",
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
    size_bytes: int | None = None
    sha256: str | None = None


#: (licence, where to read it) of the files below.
_BFM_TERMS = (
    "Basel Face Model licence: register at https://faces.dmi.unibas.ch/bfm/ (non-commercial)",
    "https://faces.dmi.unibas.ch/bfm/main.php?nav=1-2&id=downloads",
)
_DEEP3D_URL = "https://github.com/sicxu/Deep3DFaceRecon_pytorch"
_DEEP3D_MIT = ("MIT (Deep3DFaceRecon_pytorch)", _DEEP3D_URL)


def _sadtalker_file(
    name: str,
    repo_filename: str,
    description: str,
    needed_for: str,
    terms: tuple[str, str],
    size_mb: float,
    *,
    requires_acceptance: bool = True,
    size_bytes: int | None = None,
    sha256: str | None = None,
) -> WeightEntry:
    """A file of the SadTalker hub mirror, whose BFM_Fitting folder holds the face-model files.

    `terms` is (licence, licence_url).
    """
    licence, licence_url = terms
    return WeightEntry(
        name=name,
        filename=repo_filename.rpartition("/")[2],
        description=description,
        needed_for=needed_for,
        licence=licence,
        licence_url=licence_url,
        repo_id="vinthony/SadTalker",
        repo_filename=repo_filename,
        requires_acceptance=requires_acceptance,
        size_mb=size_mb,
        size_bytes=size_bytes,
        sha256=sha256,
    )


def _index_file(
    name: str,
    filename: str,
    description: str,
    size_bytes: int,
    sha256: str,
    needed_for: str = "building BFM_model_front.mat locally",
) -> WeightEntry:
    """A small public MIT file of Deep3DFaceRecon's BFM folder, free to download and checked by sha256."""
    return _sadtalker_file(
        name,
        f"BFM_Fitting/{filename}",
        description,
        needed_for,
        _DEEP3D_MIT,
        round(size_bytes / 1e6, 3),
        requires_acceptance=False,
        size_bytes=size_bytes,
        sha256=sha256,
    )


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
        _sadtalker_file(
            "deep3d-recon",
            "epoch_20.pth",
            "Deep3DFaceRecon coefficient network (ResNet-50, 257 outputs)",
            "the 'deep3d' reconstruction backend (BFM coefficients for the public renderer weights)",
            (
                "Deep3DFaceRecon_pytorch licence (research use); trained with the BFM, see its terms",
                _DEEP3D_URL,
            ),
            290,
        ),
        _sadtalker_file(
            "bfm-front",
            "BFM_Fitting/BFM_model_front.mat",
            "Basel Face Model 2009 front part with the Guo et al. expression basis",
            "the BFM's geometric preview and semantic sliders (the neural renderer runs without it)",
            _BFM_TERMS,
            127,
        ),
        _index_file(
            "bfm-similarity-lm3d",
            "similarity_Lm3D_all.mat",
            "standard 3D landmarks of the BFM used for the 224-px alignment",
            994,
            "53b83ce6e35c50ddc3e97603650cef4970320c157e75c241c844f29c1dcba65a",
            needed_for="the 'deep3d' backend (alignment; the five points are also embedded in the code)",
        ),
        # The raw files BFM_model_front.mat is built from (weights.bfm_build), as mirrors of
        # SadTalker's BFM_Fitting folder ship them.
        _sadtalker_file(
            "bfm-morphable-model",
            "BFM_Fitting/01_MorphableModel.mat",
            "Basel Face Model 2009 (shape and texture PCA, 53490 vertices)",
            "building BFM_model_front.mat locally",
            _BFM_TERMS,
            230,
        ),
        _sadtalker_file(
            "bfm-exp-pca",
            "BFM_Fitting/Exp_Pca.bin",
            "expression PCA basis of Guo et al. (53215 vertices), 'CoarseData' of their 3DFace release",
            "building BFM_model_front.mat locally",
            (
                "terms of Guo et al.'s 3DFace data release (research use; see the repository)",
                "https://github.com/Juyong/3DFace",
            ),
            50,
        ),
        _index_file(
            "bfm-front-idx",
            "BFM_front_idx.mat",
            "front-face vertex indices into the expression basis (35709 of 53215)",
            44880,
            "7d285dd018563113496127df9c364800183172adb4d3e802f726085dab66b087",
        ),
        _index_file(
            "bfm-exp-idx",
            "BFM_exp_idx.mat",
            "indices of the expression-basis vertices into the BFM09 vertices (53215 of 53490)",
            91931,
            "62752a2cab3eea148569fb07e367e03535b4ee04aa71ea1a9aed36486d26c612",
        ),
        _index_file(
            "bfm-facemodel-info",
            "facemodel_info.mat",
            "topology of the front face (triangles, landmarks, vertex-to-triangle table, masks)",
            738861,
            "529398f76619ae7e22f43c25dd60a2473bcc2bcc8c894fd9c613c68624ce1c04",
        ),
        _index_file(
            "bfm-std-exp",
            "std_exp.txt",
            "79 standard deviations of Guo et al.'s expression PCA",
            615,
            "4abc20f1cad2471272637d366b511f1a44c2befeeb1353b7fff392ef72ed1203",
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


def hub_endpoint() -> str | None:
    """The hub endpoint: $PIRENDER_HUB_ENDPOINT, else huggingface_hub's own default ($HF_ENDPOINT)."""
    return os.environ.get("PIRENDER_HUB_ENDPOINT") or None


def check_file(
    entry: WeightEntry, path: Path, *, size: int | None = None, sha256: str | None = None
) -> str | None:
    """Why `path` is not a good copy of `entry`'s file, or None when it matches all that is known.

    The registry's own size and sha256 win; `size` / `sha256` (e.g. what the hub announced for the
    file just downloaded) are used where the registry knows none.
    """
    size = entry.size_bytes if entry.size_bytes is not None else size
    sha256 = entry.sha256 or sha256
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"{actual} bytes instead of {size}"
    if sha256 and sha256_of(path) != sha256:
        return "sha256 mismatch"
    return None


def remove_corrupt(entry: WeightEntry, path: Path, problem: str) -> str:
    """Delete a bad copy of `entry`'s file; returns the line that reports it."""
    path.unlink(missing_ok=True)
    text = f"{path} was corrupt ({problem}) and has been removed"
    log.warning(text)
    return text


def partial_path(entry: WeightEntry, etag: str | None) -> Path:
    """Where the bytes of an unfinished download of `entry` wait, keyed by the hub's ETag so a file
    that changed on the hub never resumes on stale bytes. Never under the file's final name."""
    key = re.sub(r"[^0-9A-Za-z]", "", etag or "")[:32] or "unknown"
    return weights_dir() / ".partial" / f"{entry.filename}.{key}.part"


def download(entry: WeightEntry) -> Path:
    """Fetch an entry from the hub into the local weights folder, resumably, and verify it.

    The bytes go to `partial_path` and are renamed to the final name only when complete and
    verified, so an interrupted download is never taken for the file. The next call resumes it with
    an HTTP range request (huggingface_hub's `http_get` also resumes by itself when the connection
    drops during a call). The result is checked against the registry's size / sha256, else the hub's
    announced size and sha256 (the ETag of large files): a corrupt file is removed and reported as
    WeightsNotFoundError.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    repo = hub_repo_id(entry)
    if not repo or not entry.repo_filename:
        raise WeightsNotFoundError(missing_message(entry))
    final = weights_dir() / entry.filename
    log.info("downloading %s from hub repo %s", entry.repo_filename, repo)
    try:
        meta = get_hf_file_metadata(hf_hub_url(repo, entry.repo_filename, endpoint=hub_endpoint()))
        part = partial_path(entry, meta.etag)
        part.parent.mkdir(parents=True, exist_ok=True)
        for stale in part.parent.glob(f"{entry.filename}.*.part"):
            if stale != part:
                stale.unlink()
        with part.open("ab") as fh:
            done = fh.tell()
            if done:
                log.info("resuming %s after %d bytes", entry.filename, done)
            http_get(meta.location, fh, resume_size=done, headers=build_hf_headers(), expected_size=meta.size)
    except (EntryNotFoundError, RepositoryNotFoundError):
        raise WeightsNotFoundError(
            f"the hub repo '{repo}' has no '{entry.repo_filename}'. " + missing_message(entry)
        ) from None
    except Exception as exc:  # huggingface_hub and its HTTP client raise many unrelated types
        raise WeightsNotFoundError(
            f"could not download '{entry.repo_filename}' from '{repo}' ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); run the command again to resume. "
            + missing_message(entry)
        ) from None
    hub_sha = meta.etag if meta.etag and re.fullmatch(r"[0-9a-f]{64}", meta.etag) else None
    problem = check_file(entry, part, size=meta.size, sha256=hub_sha)
    if problem:
        raise WeightsNotFoundError(
            remove_corrupt(entry, part, problem).replace(str(part), f"the download of {entry.filename}")
            + f"; run `pirender download {entry.name}` to fetch it again"
        )
    os.replace(part, final)
    return final
