"""Training data preparation (paper section 4, spec sections 1 and 3): videos -> crops + coefficients.

For every video: track one face (`reconstruction.detection.FaceTracker`), choose one fixed
VoxCeleb-style box for the whole clip (`reconstruction.crop.stable_crop_for_video`), cut the
256 x 256 crops, fit per-frame 3DMM coefficients with a reconstruction backend, and store
frames and coefficients in one file per video (format: `training.dataset`). Videos
are split into train/test by identity group, so that no person of the test split is seen in
training. The run is resumable (finished videos are kept), shows a progress bar, and skips and
reports a broken video instead of stopping.

The coefficient step is behind a small protocol, `CoefficientBackend.fit_video(frames) ->
(crops, MotionSequence)`; `TrackedCropBackend` implements it from the tracker, the crop and any
per-frame fitter with the `fit_batch(frames, landmarks)` call of `reconstruction.deep3d.Deep3DBackend`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import InputError, MediaReadError, NoFaceError, PIRenderError
from training.dataset import DatasetManifest, VideoEntry, VideoRecord
from core.coefficients import FaceCoefficients, MotionSequence

__all__ = [
    "CoefficientBackend",
    "CropFitter",
    "FrameFitter",
    "VideoFit",
    "TrackedCropBackend",
    "BACKENDS",
    "build_backend",
    "VideoSource",
    "VideoReader",
    "list_videos",
    "split_by_identity",
    "PrepareOptions",
    "PrepareResult",
    "prepare_dataset",
]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


# ---------------------------------------------------------------------------------------------
# The backend protocol and its implementation over the reconstruction package
# ---------------------------------------------------------------------------------------------


@runtime_checkable
class CoefficientBackend(Protocol):
    """Video frames -> renderer crops + per-frame coefficients.

    `fit_video(frames)`: `frames` is a sequence or a re-iterable of (H, W, 3) uint8 RGB frames of
    one clip (it may be iterated more than once); returns crops (T, S, S, 3) uint8 and a
    `MotionSequence` of T frames of face model `face_model`. Raises a PIRenderError when the
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


class FrameFitter(Protocol):
    """Per-frame coefficient fitting given landmarks (what `Deep3DBackend` provides)."""

    face_model_name: str

    def fit_batch(
        self, frames_rgb: Sequence[np.ndarray], landmarks_xy: Sequence[np.ndarray] | np.ndarray
    ) -> list[FaceCoefficients]: ...


@dataclass(frozen=True, eq=False)
class VideoFit:
    """A fitted clip: crops (T, S, S, 3) uint8, motion, and JSON-able details (crop box, missing frames)."""

    crops: np.ndarray
    motion: MotionSequence
    details: dict[str, Any] = field(default_factory=dict)


def _fill_missing(landmarks: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, N, D) landmarks with NaN rows where not `found` -> linearly interpolated over time (held at the ends)."""
    t = np.arange(landmarks.shape[0])
    good = np.flatnonzero(found)
    flat = landmarks.reshape(landmarks.shape[0], -1)
    filled = np.empty_like(flat)
    for j in range(flat.shape[1]):
        filled[:, j] = np.interp(t, good, flat[good, j])
    return filled.reshape(landmarks.shape)


class TrackedCropBackend:
    """`CoefficientBackend` and `CropFitter` from the face tracker, the VoxCeleb crop and a per-frame fitter.

    Frames where the tracker lost the face get landmarks interpolated from their neighbours; a
    clip where more than `max_missing` of the frames lack the face is refused. Landmarks are
    mapped into the crop and reduced to the five alignment points the fitter needs.
    """

    def __init__(
        self,
        fitter: FrameFitter,
        *,
        crop_size: int = 256,
        max_missing: float = 0.2,
        batch_size: int = 32,
        fps: float = 25.0,
        tracker_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.fitter = fitter
        self.face_model = fitter.face_model_name
        self.crop_size = crop_size
        self.max_missing = max_missing
        self.batch_size = batch_size
        self.fps = fps
        self.tracker_factory = tracker_factory
        self._detector: Any = None

    def _fit(self, crops: Sequence[np.ndarray], five: Sequence[np.ndarray]) -> list[FaceCoefficients]:
        out: list[FaceCoefficients] = []
        for start in range(0, len(crops), self.batch_size):
            out += self.fitter.fit_batch(
                crops[start : start + self.batch_size], five[start : start + self.batch_size]
            )
        return out

    def fit_video_detailed(self, frames: Iterable[np.ndarray]) -> VideoFit:
        from reconstruction.crop import crop_face, stable_crop_for_video
        from reconstruction.detection import DetectedFace, FaceTracker

        tracker = self.tracker_factory() if self.tracker_factory else FaceTracker()
        try:
            track = tracker.track(frames)
        finally:
            tracker.close()
        n = track.num_frames
        if not track.found.any():
            raise NoFaceError(f"no face was found in any of the {n} frames")
        missing = len(track.missing_frames) / n
        if missing > self.max_missing:
            raise NoFaceError(
                f"the face was lost in {len(track.missing_frames)} of {n} frames ({missing:.0%}, at most "
                f"{self.max_missing:.0%} allowed)"
            )
        landmarks = _fill_missing(track.landmarks, track.found) if track.missing_frames else track.landmarks
        transform = stable_crop_for_video(landmarks, track.image_size, crop_size=self.crop_size)
        crops = np.stack([crop_face(f, transform) for f in frames])
        if crops.shape[0] != n:
            raise MediaReadError(
                f"the clip gave {n} frames on the first read and {crops.shape[0]} on the second"
            )
        in_crop = transform.apply_points(landmarks).astype(np.float32)
        five = [DetectedFace.from_landmarks(lm).five_points() for lm in in_crop]
        coeffs = self._fit(list(crops), five)
        motion = MotionSequence.from_frames(coeffs, fps=self.fps)
        details = {"crop_transform": transform.to_dict(), "missing_frames": list(track.missing_frames)}
        return VideoFit(crops, motion, details)

    def fit_video(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, MotionSequence]:
        fit = self.fit_video_detailed(frames)
        return fit.crops, fit.motion

    def fit_crops(self, crops: np.ndarray) -> list[FaceCoefficients | None]:
        from core.errors import FaceTooSmallError
        from reconstruction.detection import FaceDetector

        if self._detector is None:
            self._detector = FaceDetector(search_small_faces=False)
        found: list[int] = []
        five: list[np.ndarray] = []
        for i, crop in enumerate(crops):
            try:
                face = self._detector.detect_one(np.ascontiguousarray(crop), min_size=16).face
            except (NoFaceError, FaceTooSmallError):
                continue
            found.append(i)
            five.append(face.five_points())
        out: list[FaceCoefficients | None] = [None] * len(crops)
        if found:
            for i, c in zip(found, self._fit([crops[i] for i in found], five), strict=True):
                out[i] = c
        return out


#: Reconstruction backends `pirender prepare --backend` knows.
BACKENDS = ("default", "deep3d")


class AnalysisBackend:
    """`CoefficientBackend` over a reconstruction backend's `analyze_video` (tracking, fixed clip box,
    identity fixed per clip, temporal smoothing): the offline default."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.face_model = backend.model.name

    def fit_video(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, MotionSequence]:
        fit = self.fit_video_detailed(frames)
        return fit.crops, fit.motion

    def fit_crops(self, crops: np.ndarray) -> list[FaceCoefficients | None]:
        """Re-fit faces in rendered crops as they are (AED/APD): landmarks + fit in crop coordinates."""
        from reconstruction.fitting import fit_landmarks

        out: list[FaceCoefficients | None] = []
        for crop in crops:
            try:
                face = self.backend.detector.detect_one(np.ascontiguousarray(crop), min_size=16).face
            except NoFaceError:
                out.append(None)
                continue
            out.append(fit_landmarks(self.backend.model, face.landmarks, (crop.shape[1], crop.shape[0])))
        return out

    def fit_video_detailed(self, frames: Iterable[np.ndarray]) -> VideoFit:
        analysis = self.backend.analyze_video(list(frames))
        details = {"crop_transform": analysis.crop_transform.to_dict(), "missing_frames": list(analysis.missing_frames)}
        return VideoFit(analysis.crops, analysis.motion, details)


def build_backend(
    name: str = "default", *, crop_size: int = 256, device: str = "cpu", **options: Any
) -> TrackedCropBackend | AnalysisBackend:
    """The named backend over the reconstruction package; WeightsNotFoundError names missing files."""
    if name == "default":
        from reconstruction.backends import DefaultBackend

        return AnalysisBackend(DefaultBackend(**options))
    if name == "deep3d":
        from reconstruction.deep3d import Deep3DBackend

        return TrackedCropBackend(Deep3DBackend(device=device, **options), crop_size=crop_size)
    raise InputError(f"unknown reconstruction backend {name!r}; available: {', '.join(BACKENDS)}")


# ---------------------------------------------------------------------------------------------
# Videos, identities and splits
# ---------------------------------------------------------------------------------------------


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
    from reconstruction.video import read_identity_groups

    groups = read_identity_groups(folder)
    sources: list[VideoSource] = []
    used: set[str] = set()
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()):
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


class VideoReader:
    """Re-iterable frames of a video file, decoded by imageio-ffmpeg (each iteration decodes anew).

    Yields (H, W, 3) uint8 RGB; at most `max_frames` (0 = all). `fps` and `size` (W, H) are read
    from the stream on construction. Raises MediaReadError for unreadable files.
    """

    def __init__(self, path: str | Path, max_frames: int = 0) -> None:
        self.path = Path(path)
        self.max_frames = max_frames
        gen = self._open()
        try:
            meta = next(gen)
        except (StopIteration, RuntimeError, OSError) as exc:
            raise MediaReadError(f"{self.path} could not be opened as a video ({exc})") from None
        finally:
            gen.close()
        self.fps = float(meta.get("fps") or 25.0)
        self.size = tuple(int(v) for v in meta["size"])

    def _open(self) -> Any:
        import imageio_ffmpeg

        return imageio_ffmpeg.read_frames(str(self.path))

    def __iter__(self) -> Iterator[np.ndarray]:
        gen = self._open()
        try:
            next(gen)  # metadata
            w, h = self.size
            for count, raw in enumerate(gen):
                if self.max_frames and count >= self.max_frames:
                    break
                yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        except (RuntimeError, OSError, ValueError) as exc:
            raise MediaReadError(f"{self.path} could not be decoded ({exc})") from None
        finally:
            gen.close()


# ---------------------------------------------------------------------------------------------
# The preparation run
# ---------------------------------------------------------------------------------------------


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

    `video_reader(path, max_frames)` decodes a file (default `VideoReader`; tests pass their own).
    """
    from tqdm import tqdm

    opts = options or PrepareOptions()
    root = Path(out_dir)
    sources = list_videos(video_dir)
    if not sources:
        raise InputError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) in {video_dir}")
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
    reader = video_reader or (lambda path, n: VideoReader(path, n))
    info = {
        "backend": type(backend).__name__,
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
    fps = getattr(frames, "fps", None)
    if fps:
        motion = replace(motion, fps=float(fps))  # the container's frame rate, not the backend's default
    meta = {"source": str(source.path), "identity_group": source.identity_group, **details}
    return VideoRecord.from_frames(
        source.name, crops, motion, meta, image_format=opts.image_format, quality=opts.quality
    )
