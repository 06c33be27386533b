"""What every reconstruction backend shares: the result records and the detection/crop/video loop.

PIRenderer (ICCV 2021, section 3.1) is driven by 3DMM coefficients of the face in a 256 x 256
crop framed like its VoxCeleb training data. A backend runs the whole first stage: face
detection (`reconstruction.detection`, `reconstruction.tracking`), the renderer crop
(`reconstruction.crop`) and the coefficient fit, for a photo (`analyze_photo`), a video
(`analyze_video`: one fixed crop per clip, per-frame motion, missing frames interpolated,
temporal smoothing) or crops as they are (`fit_crops`). `BackendBase` does everything but the
coefficient fit, which the backends of `reconstruction.backends` add.

Backends hold only shared, read-only things (weights and one thread-safe `FaceDetector`); all
per-request state lives in the call, so one backend serves concurrent requests.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence
from core.context import Closeable
from core.errors import FaceTooSmallError, InputError, MediaReadError, NoFaceError
from core.images import check_rgb8
from reconstruction.crop import (
    DEFAULT_SCALE,
    CropTransform,
    crop_face,
    crop_transform_for_face,
)
from reconstruction.detection import NUM_LANDMARKS, DetectedFace, DetectionResult, FaceDetector
from reconstruction.images import ImageSource, load_image
from reconstruction.motion import SmoothingSettings, fill_missing_frames, smooth_motion
from reconstruction.tracking import FaceTracker
from reconstruction.video import DEFAULT_MAX_DURATION, PathLike, ProgressCallback, VideoInfo, VideoReader
from reconstruction.video_crop import stable_crop_for_video

__all__ = [
    "BackendBase",
    "PhotoAnalysis",
    "VideoAnalysis",
    "VideoSource",
    "interpolated_motion",
]

logger = logging.getLogger(__name__)

#: A video file, an open `VideoReader` (its own limits apply), or frames in memory: (T, H, W, 3)
#: uint8 RGB or a sequence of (H, W, 3) uint8 RGB.
VideoSource = Union[str, "PathLike", VideoReader, np.ndarray, Sequence[np.ndarray]]

#: Frames held in memory between the tracking and the cropping pass; longer clips are decoded twice.
DEFAULT_FRAME_MEMORY_BUDGET = 512 * 1024 * 1024
#: Frames given as arrays without a frame rate are taken to be at the VoxCeleb rate.
DEFAULT_ARRAY_FPS = 25.0


@dataclass(frozen=True, eq=False)
class PhotoAnalysis:
    """Everything stage 1 knows about one face in one photo.

    Attributes:
        image: (H, W, 3) uint8 RGB, the full-resolution photo (EXIF-rotated).
        detection: the chosen face and how many faces were found (`detection.num_faces`).
        crop_transform: original pixels -> renderer-crop pixels.
        crop: (256, 256, 3) uint8 RGB renderer crop.
        crop_landmarks: (478, 3) float32 landmarks in crop pixels (z scaled by the crop scale).
        coefficients: the face's coefficients; for the default model fitted in crop coordinates
            (translation relative to the crop), for deep3d with crop rows in the crop's frame.
        backend: name of the backend that made it.
    """

    image: np.ndarray
    detection: DetectionResult
    crop_transform: CropTransform
    crop: np.ndarray
    crop_landmarks: np.ndarray
    coefficients: FaceCoefficients
    backend: str = ""

    @property
    def num_faces(self) -> int:
        return int(self.detection.num_faces)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record: coefficients, crop transform, which face of how many, backend."""
        face = self.detection.face
        return {
            "kind": "photo",
            "backend": self.backend,
            "coefficients": self.coefficients.to_dict(),
            "crop_transform": self.crop_transform.to_dict(),
            "num_faces": self.num_faces,
            "face_index": int(face.index),
            "face_box": [float(v) for v in face.bbox],
            "angles_degrees": [float(v) for v in self.coefficients.angles_degrees],
        }


@dataclass(frozen=True, eq=False)
class VideoAnalysis:
    """Stage 1 of a driving clip: fixed-box crops and per-frame motion of one person.

    Attributes:
        crops: (T, 256, 256, 3) uint8 RGB, all from one fixed box (`crop_transform`), no jitter.
        crop_transform: original frame pixels -> crop pixels, the same for every frame.
        motion: smoothed per-frame coefficients at `fps`, one identity for the clip.
        crop_landmarks: (T, 478, 3) float32 crop pixels; NaN in frames without the face.
        missing_frames: frames where the face was not found; their motion is interpolated from
            the neighbouring frames (reported here, never silently replaced by a mean face).
        fps: frame rate of the frames and the motion.
        source_path: the video file, or None for frames given in memory.
        raw_motion: the motion before temporal smoothing (same length).
        backend: name of the backend that made it.
    """

    crops: np.ndarray
    crop_transform: CropTransform
    motion: MotionSequence
    crop_landmarks: np.ndarray
    missing_frames: tuple[int, ...]
    fps: float
    source_path: Path | None = None
    raw_motion: MotionSequence | None = None
    backend: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.crops.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record: motion arrays (nested lists), crop transform, missing frames."""
        m = self.motion
        out: dict[str, Any] = {
            "kind": "video",
            "backend": self.backend,
            "face_model": m.face_model,
            "fps": float(self.fps),
            "num_frames": self.num_frames,
            "missing_frames": list(self.missing_frames),
            "crop_transform": self.crop_transform.to_dict(),
            "source_path": None if self.source_path is None else str(self.source_path),
            "expression": m.expression.tolist(),
            "angles": m.angles.tolist(),
            "translation": m.translation.tolist(),
            "crop": m.crop.tolist(),
        }
        if m.identity is not None:
            out["identity"] = m.identity.tolist()
        return out


class _ArrayFrames:
    """Frames given as arrays, with the same `info` / iteration interface as `VideoReader`."""

    def __init__(
        self, frames: np.ndarray | Sequence[np.ndarray], fps: float | None, max_seconds: float | None
    ):
        rate = DEFAULT_ARRAY_FPS if fps is None else float(fps)
        if not rate > 0:
            raise InputError(f"fps must be positive, got {fps}")
        items = list(frames) if not isinstance(frames, np.ndarray) else frames
        if isinstance(items, np.ndarray) and (items.ndim != 4 or items.shape[-1] != 3):
            raise InputError(f"video frames must be a (T, H, W, 3) uint8 RGB array, got shape {items.shape}")
        if len(items) == 0:
            raise InputError("The clip has no frames.")
        first = np.asarray(items[0])
        for i, f in enumerate(items):
            if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.shape != first.shape or f.ndim != 3:
                found = f"{f.dtype} {f.shape}" if isinstance(f, np.ndarray) else type(f).__name__
                raise InputError(
                    f"video frame {i} must be a (H, W, 3) uint8 RGB array of the first frame's size "
                    f"{first.shape}, got {found}"
                )
        if max_seconds is not None:
            if not max_seconds > 0:
                raise InputError(f"max_seconds must be positive, got {max_seconds}")
            items = items[: max(1, round(max_seconds * rate))]
        self._frames = items
        h, w = first.shape[:2]
        self.info = VideoInfo(
            path=None,
            fps=rate,
            size=(w, h),
            duration=len(items) / rate,
            source_fps=rate,
            expected_frames=len(items),
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._frames)


def _frame_source(
    path_or_frames: VideoSource, fps: float | None, max_seconds: float | None, max_duration: float
) -> VideoReader | _ArrayFrames:
    if isinstance(path_or_frames, VideoReader):
        return path_or_frames
    if isinstance(path_or_frames, (str, Path)) or hasattr(path_or_frames, "__fspath__"):
        return VideoReader(path_or_frames, fps=fps, max_seconds=max_seconds, max_duration=max_duration)
    if isinstance(path_or_frames, (np.ndarray, Sequence)):
        source = _ArrayFrames(path_or_frames, fps, max_seconds)
        seconds = len(source._frames) / source.info.fps
        if seconds > max_duration + 1e-6:
            raise MediaReadError(
                f"The clip is {seconds:.1f} s long; at most {max_duration:g} s are accepted. "
                "Trim it, or raise the limit (max_video_seconds)."
            )
        return source
    raise InputError(
        f"Cannot read a video from a {type(path_or_frames).__name__}: pass a file path or "
        "(T, H, W, 3) uint8 RGB frames."
    )


def _report(progress: ProgressCallback | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


@dataclass
class _Track:
    """Per-request tracking result (never stored on the backend)."""

    landmarks: np.ndarray  # (T, 478, 3) float32 full-frame pixels, NaN where missing
    found: np.ndarray  # (T,) bool
    image_size: tuple[int, int]  # (H, W)
    frames: list[np.ndarray] | None = field(default=None)  # kept frames, when within the memory budget


class BackendBase(Closeable, ABC):
    """What the pipeline, CLI and web UI call on a reconstruction backend (`analyze_photo`,
    `analyze_video`, `fit_crops`), and the detection, renderer crop and video loop behind them.

    Args:
        detector: a `FaceDetector` to share (None: the backend makes and owns one).
        min_face_size: smallest face accepted, in pixels (longer side of its landmark box).
        crop_scale: renderer crop side / face size (see `reconstruction.crop.DEFAULT_SCALE`).
        max_video_seconds: longest clip accepted (longer ones raise MediaReadError).
        smoothing: temporal smoothing of video motion; None keeps the raw per-frame fit.
        frame_memory_budget: bytes of decoded frames kept between the tracking and the cropping
            pass; longer clips are decoded a second time instead.
    """

    #: "default" or "deep3d".
    name = ""
    #: Name of the face model of the coefficients it returns (`FaceCoefficients.face_model`).
    face_model = ""

    def __init__(
        self,
        *,
        detector: FaceDetector | None = None,
        min_face_size: float = 64.0,
        crop_scale: float = DEFAULT_SCALE,
        max_video_seconds: float = DEFAULT_MAX_DURATION,
        smoothing: SmoothingSettings | None = SmoothingSettings(),  # noqa: B008 (frozen, immutable)
        frame_memory_budget: int = DEFAULT_FRAME_MEMORY_BUDGET,
    ) -> None:
        if not min_face_size > 0:
            raise InputError(f"min_face_size must be positive, got {min_face_size}")
        if not crop_scale > 0:
            raise InputError(f"crop_scale must be positive, got {crop_scale}")
        if not max_video_seconds > 0:
            raise InputError(f"max_video_seconds must be positive, got {max_video_seconds}")
        self.min_face_size = float(min_face_size)
        self.crop_scale = float(crop_scale)
        self.max_video_seconds = float(max_video_seconds)
        self.smoothing = smoothing
        self.frame_memory_budget = int(frame_memory_budget)
        self._own_detector = detector is None
        self.detector = detector if detector is not None else FaceDetector()

    def close(self) -> None:
        """Release the detector if this backend made it."""
        if self._own_detector:
            self.detector.close()

    def analyze_photo(self, image: ImageSource, face_index: int = 0) -> PhotoAnalysis:
        """Detect, crop and fit one face of a photo.

        `image` is anything `load_image` reads (path, bytes, PIL image, (H, W, 3) uint8 RGB array).
        Raises NoFaceError / FaceTooSmallError (smaller than `min_face_size`) with readable
        messages, and InputError when `face_index` is beyond the faces found.
        """
        photo = load_image(image)
        detection = self.detector.detect_one(photo, face_index=face_index, min_size=self.min_face_size)
        if detection.num_faces > 1:
            logger.info(
                "%d faces found; using face %d (%.0f px; faces are numbered largest first)",
                detection.num_faces,
                face_index,
                detection.face.size,
            )
        transform = crop_transform_for_face(detection.face, photo.shape[:2], scale=self.crop_scale)
        crop = crop_face(photo, transform)
        crop_landmarks = transform.apply_points(detection.face.landmarks).astype(np.float32)
        coefficients = self._fit_photo(photo, detection.face, transform, crop_landmarks)
        return PhotoAnalysis(
            image=photo,
            detection=detection,
            crop_transform=transform,
            crop=crop,
            crop_landmarks=crop_landmarks,
            coefficients=coefficients,
            backend=self.name,
        )

    @abstractmethod
    def _fit_photo(
        self, image: np.ndarray, face: DetectedFace, transform: CropTransform, crop_landmarks: np.ndarray
    ) -> FaceCoefficients:
        """Coefficients of one detected face (backend specific)."""

    def analyze_video(
        self,
        path_or_frames: VideoSource,
        fps: float | None = None,
        max_seconds: float | None = None,
        progress: ProgressCallback | None = None,
        *,
        face_index: int = 0,
    ) -> VideoAnalysis:
        """Track the `face_index`-th largest face of the first frame through a clip.

        Args:
            path_or_frames: a video file, a `VideoReader`, or (T, H, W, 3) uint8 RGB frames.
            fps: for a file, resample to this rate (None: the file's rate); for frames, their
                rate (None: 25).
            max_seconds: use only the first `max_seconds` seconds.
            progress: called as progress(fraction in [0, 1], message).
            face_index: which face of the first frame to follow (0 = largest).

        Returns a `VideoAnalysis`: crops from one fixed box, smoothed motion at the clip's fps.
        Raises NoFaceError when the face is missing in more than half of the frames,
        FaceTooSmallError when it is smaller than `min_face_size`, MediaReadError for unreadable
        or too long clips.
        """
        source = _frame_source(path_or_frames, fps, max_seconds, self.max_video_seconds)
        info = source.info
        track = self._track(source, face_index, progress)
        num_frames = track.landmarks.shape[0]
        missing = tuple(int(i) for i in np.flatnonzero(~track.found))
        self._check_track(track, missing)
        transform = stable_crop_for_video(track.landmarks, track.image_size, scale=self.crop_scale)
        crop_landmarks = transform.apply_points(track.landmarks).astype(np.float32)  # NaN stays NaN
        _report(progress, 0.7, "cropping")
        state = self._start_video(num_frames, transform)
        crops = np.empty((num_frames, transform.crop_size, transform.crop_size, 3), np.uint8)
        frames = track.frames if track.frames is not None else iter(source)
        count = 0
        for i, frame in enumerate(frames):
            if i >= num_frames:
                break
            crops[i] = crop_face(frame, transform)
            if track.found[i]:
                self._video_frame(state, i, frame, track.landmarks[i], transform)
            count += 1
            if i % 10 == 9:
                _report(progress, 0.7 + 0.1 * (i + 1) / num_frames, "cropping")
        if count != num_frames:
            raise MediaReadError(
                f"The video gave {num_frames} frames when tracked but {count} when read again; "
                "re-encode it with ffmpeg."
            )
        _report(progress, 0.8, "fitting coefficients")
        raw = self._finish_video(state, crop_landmarks, track.found, info.fps)
        motion = smooth_motion(raw, self.smoothing) if self.smoothing is not None else raw
        _report(progress, 1.0, "done")
        logger.info("analysed %d frames at %.2f fps (%d without a face)", num_frames, info.fps, len(missing))
        return VideoAnalysis(
            crops=crops,
            crop_transform=transform,
            motion=motion,
            crop_landmarks=crop_landmarks,
            missing_frames=missing,
            fps=info.fps,
            source_path=info.path,
            raw_motion=raw,
            backend=self.name,
        )

    def _track(
        self, source: VideoReader | _ArrayFrames, face_index: int, progress: ProgressCallback | None
    ) -> _Track:
        info = source.info
        keep = isinstance(source, _ArrayFrames) or (
            info.expected_frames * info.frame_bytes <= self.frame_memory_budget
        )
        expected = max(1, info.expected_frames)
        kept: list[np.ndarray] | None = [] if keep else None
        rows: list[np.ndarray] = []
        nan = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
        tracker = FaceTracker(face_index=face_index, detector=self.detector)
        try:
            for i, frame in enumerate(source):
                face = tracker.update(frame)
                rows.append(nan if face is None else face.landmarks)
                if kept is not None:
                    kept.append(frame)
                    if len(kept) * info.frame_bytes > self.frame_memory_budget:
                        kept = None  # too long after all: decode again for the crops
                if i % 10 == 0:
                    _report(progress, 0.7 * min(i / expected, 1.0), f"tracking the face (frame {i})")
        finally:
            tracker.close()
        if not rows:
            raise MediaReadError("The clip has no frames.")
        landmarks = np.stack(rows).astype(np.float32)
        found = np.isfinite(landmarks).all(axis=(1, 2))
        w, h = info.size
        return _Track(landmarks=landmarks, found=found, image_size=(h, w), frames=kept)

    def _check_track(self, track: _Track, missing: tuple[int, ...]) -> None:
        total = track.landmarks.shape[0]
        if 2 * len(missing) > total:
            raise NoFaceError(
                f"A face was found in only {total - len(missing)} of {total} frames (at least half are "
                "needed). Use a clip where one face stays visible, frontal or up to ~45 degrees."
            )
        if missing:
            logger.info(
                "no face in %d of %d frames (interpolated): %s", len(missing), total, list(missing[:20])
            )
        xy = track.landmarks[track.found, :, :2]
        sizes = (xy.max(axis=1) - xy.min(axis=1)).max(axis=1)
        size = float(np.median(sizes))
        if size < self.min_face_size:
            raise FaceTooSmallError(
                f"The face in the clip is about {size:.0f} pixels tall/wide; at least {self.min_face_size:.0f} "
                "pixels are needed. Use a clip where the face is larger (closer, higher resolution)."
            )

    def fit_crops(self, crops: np.ndarray | Sequence[np.ndarray]) -> list[FaceCoefficients | None]:
        """Coefficients of the face in each crop as it is (no re-cropping); None where none is found.

        For re-fitting rendered frames (the evaluator's expression and pose distances): `crops`
        are (S, S, 3) uint8 RGB renderer crops, each read in its own pixel frame.
        """
        found: list[int] = []
        faces: list[DetectedFace] = []
        for i, crop in enumerate(crops):
            try:
                face = self.detector.detect_one(check_rgb8(crop, f"crop {i}"), min_size=16).face
            except NoFaceError:
                continue
            found.append(i)
            faces.append(face)
        out: list[FaceCoefficients | None] = [None] * len(crops)
        fitted = self._fit_crops([np.ascontiguousarray(crops[i]) for i in found], faces) if found else []
        for i, coeffs in zip(found, fitted, strict=True):
            out[i] = coeffs
        return out

    @abstractmethod
    def _fit_crops(self, crops: list[np.ndarray], faces: list[DetectedFace]) -> list[FaceCoefficients]:
        """Coefficients of the detected `faces`, one per crop, in crop coordinates (backend specific)."""

    # Backend-specific video steps; `state` is a per-call object, never stored on the backend.
    def _start_video(self, num_frames: int, transform: CropTransform) -> Any:
        """Per-call state for `_video_frame` / `_finish_video`."""
        return None

    def _video_frame(
        self, state: Any, index: int, frame: np.ndarray, landmarks: np.ndarray, transform: CropTransform
    ) -> None:
        """Called for every frame with a face, with the full frame and its (478, 3) landmarks."""
        return None

    @abstractmethod
    def _finish_video(
        self, state: Any, crop_landmarks: np.ndarray, found: np.ndarray, fps: float
    ) -> MotionSequence:
        """The raw (unsmoothed) motion of the clip from what `_video_frame` collected."""


def interpolated_motion(
    face_model: str,
    records: list[FaceCoefficients],
    found: np.ndarray,
    fps: float,
    identity: np.ndarray | None,
) -> MotionSequence:
    """Stack the records of the found frames and interpolate the missing frames in between."""

    def stacked(name: str) -> np.ndarray:
        values = np.zeros((found.shape[0],) + getattr(records[0], name).shape)
        values[found] = np.stack([getattr(r, name) for r in records])
        return fill_missing_frames(values, found)

    return MotionSequence(
        face_model,
        stacked("expression"),
        stacked("angles"),
        stacked("translation"),
        stacked("crop"),
        fps=fps,
        identity=identity,
    )
