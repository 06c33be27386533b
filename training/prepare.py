"""Training data preparation (paper section 4): videos -> renderer crops + per-frame coefficients.

Every video goes through the product's own first stage: `reconstruction.video.VideoReader`
decodes it and a reconstruction backend (`reconstruction.backends.get_backend`) tracks one face,
chooses one fixed VoxCeleb-style box for the whole clip, cuts the 256 x 256 crops, fits
per-frame 3DMM coefficients and interpolates the frames where the face was lost, exactly as
for a driving video in the product. Frames and coefficients are stored in one file per video
(format: `training.dataset`). Videos are split into train/test by identity group, so that no
person of the test split is seen in training. The run is resumable (finished videos are kept),
shows a progress bar, and skips and reports a broken video instead of stopping.

`prepare_dataset` takes any `CoefficientBackend` (`fit_video(frames) -> (crops, motion)`);
`build_backend` makes one over a reconstruction backend (`ReconstructionFitter`), which is
also the evaluator's `CropFitter`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm import tqdm

from core.coefficients import FaceCoefficients, MotionSequence
from core.errors import InputError, PIRenderError
from reconstruction.backend_base import BackendBase
from reconstruction.backends import BACKENDS as RECONSTRUCTION_BACKENDS
from reconstruction.backends import get_backend
from reconstruction.video import VIDEO_EXTENSIONS, VideoReader, is_video_path, read_identity_groups
from training.dataset import DatasetManifest, VideoEntry, VideoRecord

__all__ = [
    "BACKENDS",
    "CoefficientBackend",
    "CropFitter",
    "PrepareOptions",
    "PrepareResult",
    "ReconstructionFitter",
    "VideoFit",
    "VideoSource",
    "build_backend",
    "list_videos",
    "prepare_dataset",
    "split_by_identity",
]

log = logging.getLogger(__name__)

#: Reconstruction backends `pirender prepare --backend` knows.
BACKENDS = tuple(sorted(RECONSTRUCTION_BACKENDS))


@runtime_checkable
class CoefficientBackend(Protocol):
    """Video frames -> renderer crops + per-frame coefficients.

    `fit_video(frames)`: `frames` is a `VideoReader` or a sequence of (H, W, 3) uint8 RGB frames
    of one clip (a reader may be iterated more than once); returns crops (T, S, S, 3) uint8 and
    a `MotionSequence` of T frames of face model `face_model`. Raises a PIRenderError when the
    clip cannot be used (no face, face lost, unreadable).
    """

    face_model: str

    def fit_video(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, MotionSequence]: ...


@runtime_checkable
class CropFitter(Protocol):
    """Coefficients of faces in crops as they are (no re-cropping): the evaluator's AED/APD re-fit.

    `fit_crops(crops (T, S, S, 3) uint8)` -> one `FaceCoefficients` per crop, None where no face was found.
    """

    face_model: str

    def fit_crops(self, crops: np.ndarray) -> list[FaceCoefficients | None]: ...


@dataclass(frozen=True, eq=False)
class VideoFit:
    """A fitted clip: crops (T, S, S, 3) uint8, motion, and JSON-able details (crop box, missing frames)."""

    crops: np.ndarray
    motion: MotionSequence
    details: dict[str, Any] = field(default_factory=dict)


class ReconstructionFitter:
    """`CoefficientBackend` and `CropFitter` over a reconstruction backend (the product's first stage).

    A clip goes through the backend's `analyze_video`: face tracking, one fixed crop box, the
    coefficient fit (identity fixed per clip), missing frames interpolated, temporal smoothing.
    """

    def __init__(self, backend: BackendBase) -> None:
        self.backend = backend
        self.name = backend.name
        self.face_model = backend.face_model

    def fit_video_detailed(self, frames: Iterable[np.ndarray]) -> VideoFit:
        """Crops, motion and details (crop transform, frames without the face) of one clip."""
        source = frames if isinstance(frames, (VideoReader, np.ndarray)) else list(frames)
        analysis = self.backend.analyze_video(source)
        details = {
            "crop_transform": analysis.crop_transform.to_dict(),
            "missing_frames": list(analysis.missing_frames),
        }
        return VideoFit(analysis.crops, analysis.motion, details)

    def fit_video(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, MotionSequence]:
        fit = self.fit_video_detailed(frames)
        return fit.crops, fit.motion

    def fit_crops(self, crops: np.ndarray) -> list[FaceCoefficients | None]:
        """Re-fit the faces of rendered crops as they are (see `BackendBase.fit_crops`)."""
        return self.backend.fit_crops(crops)


def build_backend(name: str = "default", *, device: str = "cpu", **options: Any) -> ReconstructionFitter:
    """The reconstruction backend `name` as a `ReconstructionFitter`; WeightsNotFoundError names missing files.

    `device` is the device of the Deep3DFaceRecon network (the default backend runs on the CPU);
    `options` go to `reconstruction.backends.get_backend`.
    """
    if name not in BACKENDS:
        raise InputError(f"unknown reconstruction backend {name!r}; available: {', '.join(BACKENDS)}")
    if name == "deep3d":
        options["device"] = device
    return ReconstructionFitter(get_backend(name, **options))


@dataclass(frozen=True)
class VideoSource:
    """One input video: its path, a file-system-safe unique name, and its identity group."""

    path: Path
    name: str
    identity_group: str


def _safe_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "video"


def list_videos(folder: str | Path) -> list[VideoSource]:
    """The videos of `folder` (sorted), with identity groups from its MANIFEST.tsv (else one per video)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"video folder {folder} does not exist or is not a folder")
    groups = read_identity_groups(folder)
    sources: list[VideoSource] = []
    used: set[str] = set()
    for path in sorted(p for p in folder.iterdir() if is_video_path(p) and p.is_file()):
        name = base = _safe_name(path.stem)
        k = 1
        while name in used:
            k += 1
            name = f"{base}-{k}"
        used.add(name)
        sources.append(VideoSource(path, name, groups.get(path.name, name)))
    return sources


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def split_by_identity(
    groups: Iterable[str], test_fraction: float = 0.1, *, seed: int = 0, test_groups: Sequence[str] = ()
) -> dict[str, str]:
    """identity group -> "train" | "test".

    Explicit `test_groups` win; otherwise a group is in the test split when a hash of (seed,
    group) falls below `test_fraction`: stable when videos are added. With two or more groups
    each split gets at least one.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test_fraction must be in [0, 1), got {test_fraction}")
    unique = sorted(set(groups))
    if test_groups:
        unknown = sorted(set(test_groups) - set(unique))
        if unknown:
            raise InputError(f"test groups {unknown} are not among the videos' identity groups")
        return {g: "test" if g in test_groups else "train" for g in unique}
    score = {g: _unit_hash(f"{seed}:{g}") for g in unique}
    split = {g: "test" if score[g] < test_fraction else "train" for g in unique}
    if len(unique) >= 2 and test_fraction > 0:
        if "test" not in split.values():
            split[min(unique, key=score.get)] = "test"
        if "train" not in split.values():
            split[max(unique, key=score.get)] = "train"
    return split


@dataclass(frozen=True)
class PrepareOptions:
    """How `prepare_dataset` stores and splits.

    image_format/quality: frame encoding ("jpeg" quality 95 without chroma subsampling, or lossless "png").
    test_fraction/seed/test_groups: the identity split (see `split_by_identity`).
    max_frames: frames read per video (0 = all). min_frames: shorter clips are skipped.
    retry_failed: try again the videos an earlier run skipped.
    """

    image_format: str = "jpeg"
    quality: int = 95
    test_fraction: float = 0.1
    seed: int = 0
    test_groups: tuple[str, ...] = ()
    max_frames: int = 0
    min_frames: int = 2
    retry_failed: bool = False


@dataclass(frozen=True)
class PrepareResult:
    """What a run did: the manifest written, videos processed now, reused from before, and skipped."""

    manifest: DatasetManifest
    processed: tuple[str, ...]
    reused: tuple[str, ...]
    skipped: tuple[dict[str, str], ...]


def _entry_from_file(path: Path, source: VideoSource, split: str, root: Path) -> tuple[VideoEntry, str, int]:
    with np.load(path, allow_pickle=False) as data:  # reads only the small arrays named
        frames = int(data["offsets"].shape[0] - 1)
        fps = float(data["fps"])
        face_model = str(data["face_model"])
        size = int(data["frame_size"])
    entry = VideoEntry(
        source.name, str(path.relative_to(root)), split, source.identity_group, frames, fps, str(source.path)
    )
    return entry, face_model, size


def prepare_dataset(
    video_dir: str | Path,
    out_dir: str | Path,
    backend: CoefficientBackend,
    options: PrepareOptions | None = None,
    *,
    progress: bool = True,
    video_reader: Callable[[Path, int], Iterable[np.ndarray]] | None = None,
) -> PrepareResult:
    """Prepare every video of `video_dir` into the dataset `out_dir` (resumable; see the module docstring).

    `video_reader(path, max_frames)` decodes a file (default: `reconstruction.video.VideoReader`
    with no duration limit, the first `max_frames` frames when that is not 0).
    """
    opts = options or PrepareOptions()
    root = Path(out_dir)
    sources = list_videos(video_dir)
    if not sources:
        raise InputError(f"no videos ({', '.join(sorted(VIDEO_EXTENSIONS))}) in {video_dir}")
    splits = split_by_identity(
        [s.identity_group for s in sources], opts.test_fraction, seed=opts.seed, test_groups=opts.test_groups
    )
    previous = DatasetManifest.load(root) if (root / "manifest.json").is_file() else None
    if previous is not None and previous.face_model != backend.face_model:
        raise InputError(
            f"{root} holds a dataset of face model '{previous.face_model}' but the backend fits "
            f"'{backend.face_model}': use another output folder"
        )
    old_skips = {s["name"]: s for s in (previous.skipped if previous else ())}
    reader = video_reader or _read_video
    info = {
        "backend": getattr(backend, "name", type(backend).__name__),
        "source_folder": str(Path(video_dir).resolve()),
        "image_format": opts.image_format,
        "test_fraction": opts.test_fraction,
        "split_seed": opts.seed,
        "max_frames": opts.max_frames,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    entries: list[VideoEntry] = []
    skipped: list[dict[str, str]] = []
    processed: list[str] = []
    reused: list[str] = []
    frame_size = previous.frame_size if previous else 0

    def manifest() -> DatasetManifest:
        return DatasetManifest(root, backend.face_model, frame_size, tuple(entries), tuple(skipped), info)

    bar = tqdm(sources, unit="video", disable=not progress, desc="prepare")
    try:
        for source in bar:
            bar.set_postfix_str(source.name[-40:])
            split = splits[source.identity_group]
            path = root / "videos" / f"{source.name}.npz"
            if path.is_file():
                try:
                    entry, face_model, size = _entry_from_file(path, source, split, root)
                except (OSError, KeyError, ValueError) as exc:
                    log.warning("%s: unreadable earlier output (%s), preparing again", path.name, exc)
                else:
                    if face_model == backend.face_model:
                        entries.append(entry)
                        reused.append(source.name)
                        frame_size = frame_size or size
                        continue
            if source.name in old_skips and not opts.retry_failed:
                skipped.append(old_skips[source.name])
                continue
            try:
                record = _prepare_one(source, backend, reader, opts)
            except (PIRenderError, OSError, ValueError, RuntimeError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("skipping %s: %s", source.path.name, reason)
                skipped.append({"name": source.name, "source": str(source.path), "reason": reason})
            else:
                record.save(path)
                frame_size = frame_size or record.frame_size
                entries.append(
                    VideoEntry(
                        source.name,
                        str(path.relative_to(root)),
                        split,
                        source.identity_group,
                        len(record),
                        record.motion.fps,
                        str(source.path),
                    )
                )
                processed.append(source.name)
            manifest().save()
    finally:
        bar.close()
        final = manifest()
        final.save()
    counts = final.counts()
    log.info(
        "dataset %s: train %d videos / %d frames, test %d videos / %d frames, %d skipped",
        root,
        counts["train"]["videos"],
        counts["train"]["frames"],
        counts["test"]["videos"],
        counts["test"]["frames"],
        counts["skipped"],
    )
    return PrepareResult(final, tuple(processed), tuple(reused), tuple(skipped))


def _read_video(path: Path, max_frames: int) -> VideoReader:
    """The product's reader, without its duration limit: training clips may be long."""
    return VideoReader(path, max_frames=max_frames or None, max_duration=None)


def _prepare_one(
    source: VideoSource,
    backend: CoefficientBackend,
    reader: Callable[[Path, int], Iterable[np.ndarray]],
    opts: PrepareOptions,
) -> VideoRecord:
    frames = reader(source.path, opts.max_frames)
    detailed = getattr(backend, "fit_video_detailed", None)
    if detailed is not None:
        fit = detailed(frames)
        crops, motion, details = fit.crops, fit.motion, fit.details
    else:
        crops, motion = backend.fit_video(frames)
        details = {}
    if motion.face_model != backend.face_model:
        raise InputError(
            f"the backend returned face model '{motion.face_model}', expected '{backend.face_model}'"
        )
    if len(motion) != len(crops):
        raise InputError(f"the backend returned {len(crops)} crops but {len(motion)} coefficient rows")
    if len(crops) < opts.min_frames:
        raise InputError(f"only {len(crops)} frames (at least {opts.min_frames} needed)")
    if isinstance(frames, VideoReader):
        motion = replace(motion, fps=frames.info.fps)  # the container's frame rate, not a backend's default
    meta = {"source": str(source.path), "identity_group": source.identity_group, **details}
    return VideoRecord.from_frames(
        source.name, crops, motion, meta, image_format=opts.image_format, quality=opts.quality
    )
