"""The paper-quality path as one named bundle: which files it needs, what is installed, one-step fetch.

Three levels of installation, from the files in the weights folder:

1. default (nothing installed): the project's own face model and geometric preview, offline.
2. neural: the public PIRender checkpoint + Deep3DFaceRecon's ``epoch_20.pth``. The network and the
   five-point alignment give the 73-row descriptor the renderer takes, so reenactment, audio
   animation and raw-coefficient edits run at paper quality.
3. neural + BFM: ``BFM_model_front.mat`` adds the BFM's geometric preview and semantic sliders.
   Mirrors may ship only the raw BFM files; the bundle then builds the front model
   (`weights.bfm_build`).

`paper_path_status()` tells the level (cheap: looks at files, loads nothing);
`download_bundle("paper", accept_licence=True)` shows every file's licence, fetches what is
missing (resuming interrupted transfers, verifying sizes and hashes), builds the BFM front model
when needed and ends with `PaperPathStatus.summary()`; `fetch_paper_weights_on_startup()` is the
same for a Hugging Face Space, driven by environment variables and never raising.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import LicenceNotAcceptedError, PIRenderError, WeightsNotFoundError
from weights.bfm_build import RAW_BFM_FILES, build_front_model_in
from weights.registry import (
    REGISTRY,
    check_file,
    download,
    downloads_allowed,
    hub_repo_id,
    remove_corrupt,
    weights_dir,
)

__all__ = [
    "ACCEPT_ENV",
    "BUNDLES",
    "FETCH_ENV",
    "Bundle",
    "BundleResult",
    "LicenceNotice",
    "PaperPathStatus",
    "StartupFetch",
    "bundle_licences",
    "download_bundle",
    "fetch_paper_weights_on_startup",
    "paper_path_status",
    "use_persistent_storage",
]

log = logging.getLogger(__name__)

#: Set to 1 on a Space to fetch the paper bundle at start-up ...
FETCH_ENV = "PIRENDER_FETCH_PAPER"
#: ... and to 1 to record that the Space's owner accepts the files' licences (non-commercial use).
ACCEPT_ENV = "PIRENDER_ACCEPT_LICENCES"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Bundle:
    """Registry entries fetched together. `required` must all be present for the bundle's engine;
    `optional` help but have fallbacks; `face_model` is built from `face_model_sources` when no
    mirror ships it."""

    name: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    face_model: str
    face_model_sources: tuple[str, ...]

    def files(self) -> tuple[str, ...]:
        return (*self.required, *self.optional, self.face_model, *self.face_model_sources)


BUNDLES: dict[str, Bundle] = {
    "paper": Bundle(
        name="paper",
        description="everything the paper-quality path needs: the public PIRender checkpoint, "
        "Deep3DFaceRecon's network and the Basel Face Model front part",
        required=("pirender-vox", "deep3d-recon"),
        optional=("bfm-similarity-lm3d",),
        face_model="bfm-front",
        face_model_sources=RAW_BFM_FILES,
    )
}
_PAPER = BUNDLES["paper"]


@dataclass(frozen=True)
class LicenceNotice:
    """One file's licence, as the CLI and the app show it before a download."""

    filename: str
    licence: str
    url: str
    needed_for: str
    requires_acceptance: bool

    def line(self) -> str:
        return f"{self.filename}: {self.licence} <{self.url}> - for {self.needed_for}"


def _present(name: str, folder: Path) -> bool:
    """The entry's file is in `folder` (and has the registry's size when that is pinned)."""
    entry = REGISTRY[name]
    path = folder / entry.filename
    return path.is_file() and (entry.size_bytes is None or path.stat().st_size == entry.size_bytes)


@dataclass(frozen=True)
class PaperPathStatus:
    """Which level of the paper-quality path is installed (see the module docstring).

    Attributes:
        renderer: the public PIRender checkpoint is present.
        extractor: Deep3DFaceRecon's epoch_20.pth is present.
        bfm: BFM_model_front.mat is present (BFM geometric preview and semantic sliders).
        bfm_buildable: the raw BFM files are all present, so the front model can be built offline.
        weights_dir: the folder looked at.
        missing: registry names of the renderer, extractor and front model files that are absent.
        raw_missing: registry names of the raw BFM files that are absent.
    """

    renderer: bool
    extractor: bool
    bfm: bool
    bfm_buildable: bool
    weights_dir: Path
    missing: tuple[str, ...] = ()
    raw_missing: tuple[str, ...] = field(default=())

    @property
    def neural(self) -> bool:
        """The public neural renderer can run (deep3d coefficients without the BFM)."""
        return self.renderer and self.extractor

    @property
    def level(self) -> Literal["default", "neural", "neural+bfm"]:
        if not self.neural:
            return "default"
        return "neural+bfm" if self.bfm else "neural"

    def summary(self) -> str:
        """One line for the CLI, the log and the app."""
        if self.bfm:
            bfm = "BFM: yes -> BFM preview and semantic sliders available"
        else:
            bfm = "BFM: no -> BFM preview and semantic sliders not available"
            if self.bfm_buildable:
                bfm += " (the raw BFM files are present: `pirender download paper` builds it)"
        if self.neural:
            return f"neural engine ready: pirender-vox with deep3d coefficients; {bfm}"
        absent = ", ".join(REGISTRY[n].filename for n in self.missing if n in _PAPER.required)
        return (
            f"neural engine not ready (missing {absent}): the default offline engine is used; {bfm}. "
            "Run `pirender download paper --accept-licence`."
        )


def paper_path_status(folder: str | Path | None = None) -> PaperPathStatus:
    """The installed level of the paper-quality path in `folder` (default: the weights folder).

    Cheap: checks which files exist (and the size of small files whose size is pinned); loads nothing.
    Interrupted downloads are never counted: they live under other names until complete.
    """
    folder = Path(folder) if folder is not None else weights_dir()
    present = {name: _present(name, folder) for name in _PAPER.files()}
    raw_missing = tuple(n for n in _PAPER.face_model_sources if not present[n])
    return PaperPathStatus(
        renderer=present["pirender-vox"],
        extractor=present["deep3d-recon"],
        bfm=present[_PAPER.face_model],
        bfm_buildable=not raw_missing,
        weights_dir=folder,
        missing=tuple(n for n in (*_PAPER.required, _PAPER.face_model) if not present[n]),
        raw_missing=raw_missing,
    )


def bundle_licences(name: str = "paper", *, only_missing: bool = False) -> list[LicenceNotice]:
    """The licence of every file of bundle `name` (only those not installed when `only_missing`)."""
    bundle = _bundle(name)
    folder = weights_dir()
    return [
        LicenceNotice(e.filename, e.licence, e.licence_url, e.needed_for, e.requires_acceptance)
        for e in (REGISTRY[n] for n in bundle.files())
        if not (only_missing and _present(e.name, folder))
    ]


@dataclass(frozen=True)
class BundleResult:
    """What `download_bundle` did: the final status, the files fetched, whether the BFM front model
    was built, and one line per problem (a file that could not be fetched, a corrupt file removed)."""

    status: PaperPathStatus
    fetched: tuple[str, ...] = ()
    built: bool = False
    problems: tuple[str, ...] = ()


def _bundle(name: str) -> Bundle:
    try:
        return BUNDLES[name]
    except KeyError:
        raise WeightsNotFoundError(f"unknown bundle '{name}'; known: {', '.join(BUNDLES)}") from None


def _drop_corrupt(bundle: Bundle, folder: Path) -> list[str]:
    """Remove local files of the bundle that fail their pinned size / sha256; one line per removal."""
    lines = []
    for name in bundle.files():
        entry = REGISTRY[name]
        path = folder / entry.filename
        if path.is_file() and (entry.size_bytes is not None or entry.sha256):
            problem = check_file(entry, path)
            if problem:
                lines.append(remove_corrupt(entry, path, problem))
    return lines


def _wanted(bundle: Bundle, status: PaperPathStatus, folder: Path) -> list[str]:
    """Registry names to fetch, in order (the raw BFM files only as the fallback of the front model)."""
    wanted = [n for n in (*bundle.required, *bundle.optional) if not _present(n, folder)]
    if not status.bfm and not status.bfm_buildable:
        wanted += [bundle.face_model, *status.raw_missing]
    return wanted


def _offline_text(names: list[str], folder: Path) -> str:
    lines = [
        f"Downloads are switched off (PIRENDER_OFFLINE / HF_HUB_OFFLINE). Put these files in {folder} "
        "(BFM_model_front.mat, or the raw BFM files it is built from), then run "
        "`pirender download paper` again:"
    ]
    for name in names:
        e = REGISTRY[name]
        hub = f"hub repo {hub_repo_id(e)}, file {e.repo_filename}" if hub_repo_id(e) else "not on the hub"
        lines.append(f"  - {e.filename} ({e.description}; {hub}; licence: {e.licence})")
    return "\n".join(lines)


def _fetch(name: str, fetched: list[str], problems: list[str]) -> bool:
    try:
        download(REGISTRY[name])
    except WeightsNotFoundError as exc:
        problems.append(f"{REGISTRY[name].filename}: {exc}")
        return False
    fetched.append(name)
    return True


def _fetch_face_model(bundle: Bundle, folder: Path, fetched: list[str], problems: list[str]) -> None:
    """The front model from a mirror; else the raw files, then build it."""
    if _present(bundle.face_model, folder):
        return
    if any(not _present(n, folder) for n in bundle.face_model_sources):
        front_problems: list[str] = []
        if _fetch(bundle.face_model, fetched, front_problems):
            return
        log.info("no %s on the mirror; fetching the raw BFM files", REGISTRY[bundle.face_model].filename)
        for name in bundle.face_model_sources:
            if not _present(name, folder) and not _fetch(name, fetched, problems):
                problems.extend(front_problems)
                return


def _build_if_possible(bundle: Bundle, folder: Path, report: Callable[[str], None]) -> bool:
    status = paper_path_status(folder)
    if status.bfm or not status.bfm_buildable:
        return False
    report(f"building {REGISTRY[bundle.face_model].filename} from the raw BFM files ...")
    build_front_model_in(folder)
    return True


def download_bundle(
    name: str = "paper", *, accept_licence: bool = False, report: Callable[[str], None] | None = None
) -> BundleResult:
    """Fetch everything bundle `name` needs into the weights folder, in one step.

    Shows (through `report`, default: the log) every missing file's licence before fetching
    anything; refuses with LicenceNotAcceptedError naming the licences unless `accept_licence`.
    Interrupted transfers resume on the next call; downloaded files are verified (registry or hub
    size and sha256) and corrupt ones removed and reported. Without a front model on the mirror the
    raw BFM files are fetched and the front model built. Offline, only the build runs, and
    WeightsNotFoundError lists what to download where when the neural engine cannot run.
    The last line reported is `PaperPathStatus.summary()`.
    """
    bundle = _bundle(name)
    report = report or log.info
    folder = weights_dir()
    problems = _drop_corrupt(bundle, folder)
    for line in problems:
        report(line)
    status = paper_path_status(folder)
    wanted = _wanted(bundle, status, folder)
    if wanted:
        report(f"The '{bundle.name}' bundle: {bundle.description}. Files to fetch and their licences:")
        for entry in (REGISTRY[n] for n in wanted):
            fallback = entry.name in bundle.face_model_sources
            note = " (only when the mirror has no BFM_model_front.mat)" if fallback else ""
            report(f"  - {entry.filename}{note}: {entry.licence} <{entry.licence_url}>")
    built = False
    fetched: list[str] = []
    if wanted and not downloads_allowed():
        built = _build_if_possible(bundle, folder, report)
        status = paper_path_status(folder)
        text = _offline_text([n for n in wanted if not _present(n, folder)], folder)
        if not status.neural:
            raise WeightsNotFoundError(text + "\n" + status.summary())
        report(text)
        wanted = []
    if wanted:
        needs = sorted({REGISTRY[n].licence for n in wanted if REGISTRY[n].requires_acceptance})
        if needs and not accept_licence:
            raise LicenceNotAcceptedError(
                f"Downloading the '{bundle.name}' bundle requires accepting these licences: "
                + "; ".join(needs)
                + ". Read them, then pass --accept-licence (accept_licence=True)."
            )
        for n in bundle.required:
            if not _present(n, folder):
                _fetch(n, fetched, problems)
        notes: list[str] = []
        for n in bundle.optional:
            if not _present(n, folder) and not _fetch(n, fetched, notes):
                report(f"note (optional file, the code has a fallback): {notes[-1]}")
        _fetch_face_model(bundle, folder, fetched, problems)
    built = _build_if_possible(bundle, folder, report) or built
    status = paper_path_status(folder)
    for line in problems:
        report(f"problem: {line}")
    report(status.summary())
    return BundleResult(status, tuple(fetched), built, tuple(problems))


# --------------------------------------------------------------------------------------------
# Hugging Face Space start-up
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartupFetch:
    """What the start-up fetch did, for the page.

    Attributes:
        status: the installed level after the attempt.
        requested: PIRENDER_FETCH_PAPER asked for the fetch.
        fetched, built: see `BundleResult`.
        error: why the fetch did not complete (licences not accepted, offline, network), or None.
        licences: every file's licence, to show in the page.
        weights_dir: where the files are (persistent storage when present).
    """

    status: PaperPathStatus
    requested: bool
    fetched: tuple[str, ...] = ()
    built: bool = False
    error: str | None = None
    licences: tuple[LicenceNotice, ...] = ()
    weights_dir: Path | None = None

    def message(self) -> str:
        """One line for the page: the readiness summary, or the error first when there was one."""
        return f"{self.error} | {self.status.summary()}" if self.error else self.status.summary()


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def use_persistent_storage(root: str | Path = "/data") -> Path | None:
    """Use a Space's persistent storage for the weights when it is there.

    When PIRENDER_WEIGHTS_DIR is unset and `root` is a writable folder, sets PIRENDER_WEIGHTS_DIR to
    `root`/pirender/weights (and HF_HOME to `root`/.huggingface when unset), so downloads survive
    restarts. Returns the weights folder chosen, or None (nothing changed).
    """
    root = Path(root)
    if os.environ.get("PIRENDER_WEIGHTS_DIR") or not root.is_dir() or not os.access(root, os.W_OK):
        return None
    folder = root / "pirender" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PIRENDER_WEIGHTS_DIR"] = str(folder)
    os.environ.setdefault("HF_HOME", str(root / ".huggingface"))
    log.info("weights go to persistent storage %s", folder)
    return folder


def fetch_paper_weights_on_startup(*, persistent_root: str | Path = "/data") -> StartupFetch:
    """The start-up step of a Space: use persistent storage, fetch the paper bundle when asked, report.

    Fetches only when PIRENDER_FETCH_PAPER=1, and only with PIRENDER_ACCEPT_LICENCES=1 (the Space's
    owner accepts the non-commercial licences shown in `StartupFetch.licences`). Never raises for a
    missing licence acceptance, an offline machine or a failed download: the reason is in `error`
    and the app keeps running at the level that is installed.
    """
    use_persistent_storage(persistent_root)
    licences = tuple(bundle_licences("paper"))
    requested = _env_true(FETCH_ENV)
    if not requested:
        return StartupFetch(paper_path_status(), False, licences=licences, weights_dir=weights_dir())
    if not _env_true(ACCEPT_ENV):
        error = (
            f"{FETCH_ENV}=1 but the licences are not accepted: set {ACCEPT_ENV}=1 after reading them "
            "(non-commercial use only)"
        )
        return StartupFetch(
            paper_path_status(), True, error=error, licences=licences, weights_dir=weights_dir()
        )
    try:
        result = download_bundle("paper", accept_licence=True)
    except (PIRenderError, OSError) as exc:
        log.warning("start-up fetch of the paper weights failed: %s", exc)
        return StartupFetch(
            paper_path_status(), True, error=str(exc), licences=licences, weights_dir=weights_dir()
        )
    error = "; ".join(result.problems) if result.problems and not result.status.neural else None
    return StartupFetch(
        result.status, True, result.fetched, result.built, error, licences, weights_dir=weights_dir()
    )
