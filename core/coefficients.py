"""The one typed home of the 3DMM coefficient layout (the renderer input of paper section 3.1).

A `FaceCoefficients` record holds one face in one frame; a `MotionSequence` holds the same
fields stacked over frames. Both name the face model they belong to, so that coefficients of
one model can never be fed silently to a renderer trained on another. Everything that needs
the 73-row descriptor layout of the public weights goes through `descriptor_rows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from core.errors import FaceModelMismatchError, InputError

__all__ = [
    "BFM_DEEP3D",
    "DEFAULT_FACE_MODEL",
    "FaceCoefficients",
    "MotionSequence",
    "descriptor_size",
    "check_face_model",
]

#: Basel Face Model 2009 + Guo et al. expression basis, as fitted by Deep3DFaceRecon (public weights).
BFM_DEEP3D = "bfm09-deep3d"
#: The project's own linear face model on the landmark detector's mesh (works offline).
DEFAULT_FACE_MODEL = "pirender-mesh-v1"


def descriptor_size(num_expression: int) -> int:
    """Rows of one descriptor frame: expression + 3 angles + 3 translation + 3 crop."""
    return num_expression + 9


def check_face_model(expected: str, actual: str, what: str = "renderer") -> None:
    """Refuse coefficients of another face model with a message that says what to do."""
    if expected != actual:
        raise FaceModelMismatchError(
            f"The {what} expects coefficients of face model '{expected}', but got '{actual}'. "
            f"Extract the coefficients with the reconstruction backend of '{expected}' "
            f"(e.g. `pirender coeffs --backend {'deep3d' if expected == BFM_DEEP3D else 'default'}`) "
            f"or choose weights trained for '{actual}'."
        )


def _vector(name: str, value: np.ndarray | list[float] | None, size: int | None) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float32).reshape(-1)
    if size is not None and arr.shape[0] != size:
        raise InputError(f"{name} must have {size} numbers, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class FaceCoefficients:
    """One face's 3DMM coefficients in one image.

    Attributes:
        face_model: name of the face model the numbers belong to (e.g. ``BFM_DEEP3D``).
        expression: (E,) expression coefficients of that model's expression basis.
        angles: (3,) rotation about x, y, z in radians (pitch, yaw, roll).
        translation: (3,) tx, ty, tz in the face model's camera frame.
        crop: (3,) scale s and centre tx, ty of the 224-px alignment (the descriptor's last rows).
        identity: (I,) shape coefficients, when the backend estimates them.
        texture: (T,) albedo coefficients (deep3d only).
        lighting: (27,) spherical-harmonics lighting (deep3d only).
        gaze: (2,) where the irises look, relative to where the source photo has them: x towards
            the picture's right, y up, each in [-1, 1] of the eye's reach (1 = as far as the eye
            opening allows); None = as in the photo. The face model has no eyeballs, so this is
            not part of the descriptor; the geometric renderer moves the irises with it.
    """

    face_model: str
    expression: np.ndarray
    angles: np.ndarray
    translation: np.ndarray
    crop: np.ndarray
    identity: np.ndarray | None = None
    texture: np.ndarray | None = None
    lighting: np.ndarray | None = None
    gaze: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", _vector("expression", self.expression, None))
        object.__setattr__(self, "angles", _vector("angles", self.angles, 3))
        object.__setattr__(self, "translation", _vector("translation", self.translation, 3))
        object.__setattr__(self, "crop", _vector("crop", self.crop, 3))
        object.__setattr__(self, "identity", _vector("identity", self.identity, None))
        object.__setattr__(self, "texture", _vector("texture", self.texture, None))
        object.__setattr__(self, "lighting", _vector("lighting", self.lighting, None))
        object.__setattr__(self, "gaze", _vector("gaze", self.gaze, 2))

    @property
    def angles_degrees(self) -> np.ndarray:
        """(3,) pitch, yaw, roll in degrees."""
        return np.degrees(self.angles)

    def descriptor_rows(self) -> np.ndarray:
        """(E + 9,) float32: expression, angles, translation, crop (73 rows for the BFM)."""
        return np.concatenate([self.expression, self.angles, self.translation, self.crop]).astype(np.float32)

    @classmethod
    def from_descriptor_rows(cls, rows: np.ndarray, face_model: str, **extra: np.ndarray) -> FaceCoefficients:
        """Inverse of `descriptor_rows` (identity/texture/lighting may be passed as keywords)."""
        rows = np.asarray(rows, dtype=np.float32).reshape(-1)
        if rows.shape[0] < 10:
            raise InputError(f"a descriptor frame needs at least 10 rows, got {rows.shape[0]}")
        e = rows.shape[0] - 9
        return cls(face_model, rows[:e], rows[e : e + 3], rows[e + 3 : e + 6], rows[e + 6 :], **extra)

    def replace(self, **changes: np.ndarray) -> FaceCoefficients:
        """A copy with some fields changed (the record itself is immutable)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict (lists of floats)."""
        out: dict[str, object] = {"face_model": self.face_model}
        for name in (
            "expression",
            "angles",
            "translation",
            "crop",
            "identity",
            "texture",
            "lighting",
            "gaze",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = [float(v) for v in value]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FaceCoefficients:
        """Inverse of `to_dict`."""
        try:
            return cls(
                face_model=str(data["face_model"]),
                expression=np.asarray(data["expression"]),
                angles=np.asarray(data["angles"]),
                translation=np.asarray(data["translation"]),
                crop=np.asarray(data["crop"]),
                identity=None if data.get("identity") is None else np.asarray(data["identity"]),
                texture=None if data.get("texture") is None else np.asarray(data["texture"]),
                lighting=None if data.get("lighting") is None else np.asarray(data["lighting"]),
                gaze=None if data.get("gaze") is None else np.asarray(data["gaze"]),
            )
        except KeyError as exc:
            raise InputError(f"coefficient record is missing the field {exc}") from None


@dataclass(frozen=True)
class MotionSequence:
    """Per-frame coefficients of one face over time (a driving video, or generated motion).

    Attributes:
        face_model: name of the face model.
        expression: (T, E); angles: (T, 3) radians; translation: (T, 3); crop: (T, 3).
        fps: frames per second of the sequence.
        identity: (I,) identity of the face, constant over the sequence, when known.
        gaze: (T, 2) per-frame gaze (see `FaceCoefficients.gaze`), or None.
    """

    face_model: str
    expression: np.ndarray
    angles: np.ndarray
    translation: np.ndarray
    crop: np.ndarray
    fps: float = 25.0
    identity: np.ndarray | None = field(default=None)
    gaze: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        t = np.asarray(self.expression).shape[0]
        for name, width in (("expression", None), ("angles", 3), ("translation", 3), ("crop", 3)):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            if arr.ndim != 2 or arr.shape[0] != t or (width is not None and arr.shape[1] != width):
                raise InputError(
                    f"MotionSequence.{name} must have shape (T={t}, {width or 'E'}), got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise InputError(f"MotionSequence.{name} contains NaN or infinite values")
            object.__setattr__(self, name, arr)
        if self.gaze is not None:
            gaze = np.asarray(self.gaze, dtype=np.float32)
            if gaze.shape != (t, 2) or not np.all(np.isfinite(gaze)):
                raise InputError(
                    f"MotionSequence.gaze must be finite with shape (T={t}, 2), got {gaze.shape}"
                )
            object.__setattr__(self, "gaze", gaze)
        if t == 0:
            raise InputError("a MotionSequence needs at least one frame")
        if self.fps <= 0:
            raise InputError(f"fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return int(self.expression.shape[0])

    def frame(self, index: int) -> FaceCoefficients:
        """The coefficients of frame `index`."""
        return FaceCoefficients(
            self.face_model,
            self.expression[index],
            self.angles[index],
            self.translation[index],
            self.crop[index],
            identity=self.identity,
            gaze=None if self.gaze is None else self.gaze[index],
        )

    def descriptor_rows(self) -> np.ndarray:
        """(T, E + 9) float32 rows, one per frame, in the descriptor layout."""
        return np.concatenate([self.expression, self.angles, self.translation, self.crop], axis=1)

    @classmethod
    def from_frames(cls, frames: list[FaceCoefficients], fps: float = 25.0) -> MotionSequence:
        """Stack single-frame records (all of one face model) into a sequence."""
        if not frames:
            raise InputError("cannot build a MotionSequence from zero frames")
        for f in frames[1:]:
            check_face_model(frames[0].face_model, f.face_model, what="motion sequence")
        return cls(
            frames[0].face_model,
            np.stack([f.expression for f in frames]),
            np.stack([f.angles for f in frames]),
            np.stack([f.translation for f in frames]),
            np.stack([f.crop for f in frames]),
            fps=fps,
            identity=frames[0].identity,
            gaze=None
            if all(f.gaze is None for f in frames)
            else np.stack([np.zeros(2, np.float32) if f.gaze is None else f.gaze for f in frames]),
        )

    @classmethod
    def still(cls, coeffs: FaceCoefficients, num_frames: int = 1, fps: float = 25.0) -> MotionSequence:
        """A sequence repeating one frame (a still edit)."""
        return cls.from_frames([coeffs] * num_frames, fps=fps)

    def save_npz(self, path: str) -> None:
        """Write the sequence as a compressed .npz (readable without this package)."""
        arrays = {
            "expression": self.expression,
            "angles": self.angles,
            "translation": self.translation,
            "crop": self.crop,
            "fps": np.float32(self.fps),
            "face_model": np.array(self.face_model),
        }
        if self.identity is not None:
            arrays["identity"] = self.identity
        if self.gaze is not None:
            arrays["gaze"] = self.gaze
        np.savez_compressed(path, **arrays)

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> MotionSequence:
        """Build from the arrays `save_npz` writes (also embedded in other .npz files, e.g. datasets)."""
        return cls(
            str(data["face_model"]),
            data["expression"],
            data["angles"],
            data["translation"],
            data["crop"],
            fps=float(data["fps"]),
            identity=data["identity"] if "identity" in data else None,
            gaze=data["gaze"] if "gaze" in data else None,
        )

    @classmethod
    def load_npz(cls, path: str) -> MotionSequence:
        """Inverse of `save_npz` (no pickle)."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays(data)
