"""The two reconstruction backends and how to pick one by name.

Both share detection, cropping and the video loop (`reconstruction.backend_base.BackendBase`)
and differ in the coefficients:

- "default" (`DefaultBackend`): the project's own linear face model fitted to the 478 mesh
  landmarks (`reconstruction.fitting`), in crop coordinates; works offline with bundled files.
  For a video the identity is fitted once (median over frames) and held fixed, so frame-to-frame
  changes go to expression and pose only.
- "deep3d" (`Deep3DReconstruction`): Deep3DFaceRecon's network (BFM, 64 expression numbers, the
  coefficients the public PIRenderer weights expect), run on the full-resolution image with the
  detected five points. It needs only ``epoch_20.pth``; ``BFM_model_front.mat``, when installed,
  adds the BFM model for the geometric preview and the semantic sliders (`has_face_model`). Its crop rows (s, tx, ty) are re-expressed in the renderer crop, as if
  the network had seen the crop (PIRenderer's training data ran it on the crops).

The product, the CLI and the training data preparation all build their backend with
`get_backend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from core.errors import InputError
from reconstruction.align import RESCALE_FACTOR, fit_scale_translation
from reconstruction.backend_base import BackendBase, interpolated_motion
from reconstruction.crop import CropTransform
from reconstruction.deep3d import Deep3DBackend, split_coefficients
from reconstruction.detection import NUM_LANDMARKS, DetectedFace
from reconstruction.face_model import LinearFaceModel, load_default_face_model
from reconstruction.fitting import FitSettings, fit_landmarks

__all__ = ["BACKENDS", "DefaultBackend", "Deep3DReconstruction", "alignment_in_crop", "get_backend"]


class DefaultBackend(BackendBase):
    """Detector + renderer crop + the project's linear face model fitted to the 478 landmarks.

    Args:
        model: the `LinearFaceModel` (None: the bundled default model).
        fit_settings: `reconstruction.fitting.FitSettings` (None: its defaults).
        identity_frames: how many frames (evenly spaced) a clip's identity is fitted on.
        **common: see `BackendBase` (detector, min_face_size, crop_scale, max_video_seconds,
            smoothing, frame_memory_budget).
    """

    name = "default"
    face_model = DEFAULT_FACE_MODEL

    def __init__(
        self,
        *,
        model: LinearFaceModel | None = None,
        fit_settings: FitSettings | None = None,
        identity_frames: int = 30,
        **common: Any,
    ) -> None:
        self.model = model if model is not None else load_default_face_model()
        if self.model.name != DEFAULT_FACE_MODEL:
            raise InputError(
                f"DefaultBackend needs the '{DEFAULT_FACE_MODEL}' model, got '{self.model.name}'"
            )
        if self.model.num_points != NUM_LANDMARKS:
            raise InputError(
                f"the face model has {self.model.num_points} points, the detector {NUM_LANDMARKS}"
            )
        self.fit_settings = fit_settings if fit_settings is not None else FitSettings()
        if identity_frames < 1:
            raise InputError(f"identity_frames must be at least 1, got {identity_frames}")
        self.identity_frames = int(identity_frames)
        super().__init__(**common)

    def _fit(
        self, crop_landmarks: np.ndarray, crop_size: int, identity: np.ndarray | None = None
    ) -> FaceCoefficients:
        return fit_landmarks(
            self.model, crop_landmarks, (crop_size, crop_size), identity=identity, settings=self.fit_settings
        )

    def _fit_photo(
        self, image: np.ndarray, face: DetectedFace, transform: CropTransform, crop_landmarks: np.ndarray
    ) -> FaceCoefficients:
        return self._fit(crop_landmarks, transform.crop_size)

    def _fit_crops(self, crops: list[np.ndarray], faces: list[DetectedFace]) -> list[FaceCoefficients]:
        return [
            fit_landmarks(
                self.model, face.landmarks, (crop.shape[1], crop.shape[0]), settings=self.fit_settings
            )
            for crop, face in zip(crops, faces, strict=True)
        ]

    def _start_video(self, num_frames: int, transform: CropTransform) -> Any:
        return transform.crop_size

    def _finish_video(
        self, state: Any, crop_landmarks: np.ndarray, found: np.ndarray, fps: float
    ) -> MotionSequence:
        crop_size = int(state)
        found_idx = np.flatnonzero(found)
        pick = np.unique(
            np.linspace(0, len(found_idx) - 1, min(len(found_idx), self.identity_frames)).round()
        )
        identities = [self._fit(crop_landmarks[found_idx[int(j)]], crop_size).identity for j in pick]
        identity = np.median(np.stack(identities), axis=0)
        records = [self._fit(crop_landmarks[i], crop_size, identity=identity) for i in found_idx]
        return interpolated_motion(DEFAULT_FACE_MODEL, records, found, fps, identity)


def alignment_in_crop(
    five_points: np.ndarray, transform: CropTransform, standard_points: np.ndarray
) -> np.ndarray:
    """(3,) Deep3DFaceRecon crop rows (s, tx, ty) of a face as if aligned inside the renderer crop.

    `five_points` (5, 2) are full-image pixels (y down). The alignment's least-squares fit is
    redone on the points mapped into the crop, in its y-up frame (y_up = crop_size - 1 - y), so
    the rows equal what `align_face` would report on the crop image itself.
    """
    pts = transform.apply_points(np.asarray(five_points, dtype=np.float64))
    up = np.stack([pts[:, 0], (transform.crop_size - 1) - pts[:, 1]], axis=1)
    t, scale = fit_scale_translation(up, standard_points)
    return np.array([RESCALE_FACTOR / scale, t[0], t[1]], dtype=np.float64)


@dataclass
class _Deep3DVideoState:
    transform: CropTransform
    images: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (224, 224, 3) aligned crop
    crops: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (3,) crop rows in the renderer crop


class Deep3DReconstruction(BackendBase):
    """Detector + renderer crop + Deep3DFaceRecon coefficients (BFM, the public weights' input).

    Args:
        recon_path, bfm_path, lm3d_path: files for `Deep3DBackend` (None: the weights folder).
        device, batch_size, allow_download, accept_licence: passed to `Deep3DBackend`.
        deep3d: an already loaded `Deep3DBackend` to share (then the paths are not used).
        **common: see `BackendBase`.

    Raises WeightsNotFoundError listing every missing file (before the detector is built).
    """

    name = "deep3d"
    face_model = BFM_DEEP3D

    def __init__(
        self,
        recon_path: str | Path | None = None,
        bfm_path: str | Path | None = None,
        lm3d_path: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 8,
        allow_download: bool = False,
        accept_licence: bool = False,
        deep3d: Deep3DBackend | None = None,
        **common: Any,
    ) -> None:
        self.deep3d = (
            deep3d
            if deep3d is not None
            else Deep3DBackend(
                recon_path,
                bfm_path,
                lm3d_path,
                device=device,
                batch_size=batch_size,
                allow_download=allow_download,
                accept_licence=accept_licence,
            )
        )
        super().__init__(**common)

    @property
    def model(self) -> Any:
        """The `BFMFaceModel`, or None when BFM_model_front.mat is not installed (the coefficients and the
        neural renderer do not need it; `relative_motion` needs it only for the "mouth" / "eyes" parts)."""
        return self.deep3d.face_model

    @property
    def has_face_model(self) -> bool:
        """The BFM is installed: its geometric preview and semantic sliders can be offered."""
        return self.deep3d.has_face_model

    def require_model(self, what: str = "this feature") -> Any:
        """The `BFMFaceModel`; FaceModelNotInstalledError naming `what` when it is not installed."""
        return self.deep3d.require_face_model(what)

    def _fit_photo(
        self, image: np.ndarray, face: DetectedFace, transform: CropTransform, crop_landmarks: np.ndarray
    ) -> FaceCoefficients:
        five = face.five_points()
        coeffs = self.deep3d.fit(image, five)
        return coeffs.replace(crop=alignment_in_crop(five, transform, self.deep3d.standard_points))

    def _fit_crops(self, crops: list[np.ndarray], faces: list[DetectedFace]) -> list[FaceCoefficients]:
        return self.deep3d.fit_batch(crops, [face.five_points() for face in faces])

    def _start_video(self, num_frames: int, transform: CropTransform) -> Any:
        return _Deep3DVideoState(transform=transform)

    def _video_frame(
        self, state: Any, index: int, frame: np.ndarray, landmarks: np.ndarray, transform: CropTransform
    ) -> None:
        five = DetectedFace.from_landmarks(landmarks).five_points()
        state.images[index] = self.deep3d.align(frame, five).image
        state.crops[index] = alignment_in_crop(five, transform, self.deep3d.standard_points)

    def _finish_video(
        self, state: Any, crop_landmarks: np.ndarray, found: np.ndarray, fps: float
    ) -> MotionSequence:
        order = sorted(state.images)
        raw = self.deep3d.coefficients_of_crops(np.stack([state.images[i] for i in order]))  # (N, 257)
        parts = split_coefficients(raw)
        records = [
            FaceCoefficients(
                BFM_DEEP3D,
                parts.exp[k],
                parts.angles[k],
                parts.trans[k],
                state.crops[i],
                identity=parts.id[k],
            )
            for k, i in enumerate(order)
        ]
        identity = np.median(parts.id, axis=0)
        return interpolated_motion(BFM_DEEP3D, records, found, fps, identity)


#: Backend name -> class.
BACKENDS: dict[str, type[BackendBase]] = {"default": DefaultBackend, "deep3d": Deep3DReconstruction}


def get_backend(name: str = "default", **kwargs: Any) -> DefaultBackend | Deep3DReconstruction:
    """Build the backend called `name` ("default" or "deep3d") with its keyword arguments.

    Each backend holds one `FaceDetector` (thread-safe); build it once and share it.
    """
    cls = BACKENDS.get(str(name).lower())
    if cls is None:
        raise InputError(f"Unknown reconstruction backend {name!r}; choose one of {sorted(BACKENDS)}.")
    return cls(**kwargs)
