"""Synthetic faces for the training and evaluation tests: a bright disc that moves and grows with its coefficients.

The "face model" has the descriptor layout of the public weights (64 expression + 3 angles + 3
translation + 3 crop = 73 rows), so the small generator config works unchanged. Pitch and yaw
move the disc, expression[0] sets its radius; `estimate_coefficients` inverts the drawing from
image moments, so a synthetic backend can really fit images (and re-fit generated ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence
from training.dataset import DatasetManifest, VideoEntry, VideoRecord

FACE_MODEL = "synthetic-disc"
NUM_EXPRESSION = 64


def synthetic_motion(num_frames: int, phase: float = 0.0, fps: float = 25.0) -> MotionSequence:
    """Smooth motion: pitch, yaw and expression[0] follow sines; the rest is zero."""
    t = np.arange(num_frames, dtype=np.float32) / max(num_frames - 1, 1) * 2 * np.pi
    expression = np.zeros((num_frames, NUM_EXPRESSION), np.float32)
    expression[:, 0] = 0.5 + 0.4 * np.sin(t + phase)
    angles = np.zeros((num_frames, 3), np.float32)
    angles[:, 0] = 0.25 * np.sin(t * 1.3 + phase)
    angles[:, 1] = 0.3 * np.cos(t + 2 * phase)
    crop = np.tile(np.array([1.0, 0.0, 0.0], np.float32), (num_frames, 1))
    return MotionSequence(
        FACE_MODEL, expression, angles, np.zeros((num_frames, 3), np.float32), crop, fps=fps
    )


def render_disc(coeffs: FaceCoefficients, size: int, identity: int = 0) -> np.ndarray:
    """(size, size, 3) uint8: a dark identity-tinted gradient with a bright anti-aliased disc."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    tint = np.array([[40, 20, 60], [20, 60, 40], [60, 40, 20], [30, 30, 70]][identity % 4], np.float32)
    background = tint[None, None] * (0.6 + 0.4 * yy[..., None] / size)
    cx = (0.5 + 0.5 * float(coeffs.angles[1])) * size
    cy = (0.5 + 0.5 * float(coeffs.angles[0])) * size
    radius = (0.15 + 0.12 * float(coeffs.expression[0])) * size
    inside = np.clip(radius - np.hypot(xx - cx, yy - cy) + 0.5, 0.0, 1.0)[..., None]
    face = np.array([235, 215, 200], np.float32) - 10 * (identity % 3)
    image = background * (1 - inside) + face[None, None] * inside
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def estimate_coefficients(image: np.ndarray) -> FaceCoefficients | None:
    """Invert `render_disc` from the bright pixels' area and centroid; None when there is no disc."""
    grey = np.asarray(image, np.float32).mean(axis=2)
    weight = np.clip((grey - 100.0) / 100.0, 0.0, 1.0)
    area = float(weight.sum())
    if area < 4:
        return None
    size = image.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cx, cy = float((weight * xx).sum() / area), float((weight * yy).sum() / area)
    radius = np.sqrt(area / np.pi)
    expression = np.zeros(NUM_EXPRESSION, np.float32)
    expression[0] = (radius / size - 0.15) / 0.12
    angles = np.array([(cy / size - 0.5) * 2, (cx / size - 0.5) * 2, 0.0], np.float32)
    return FaceCoefficients(
        FACE_MODEL, expression, angles, np.zeros(3, np.float32), np.array([1.0, 0.0, 0.0], np.float32)
    )


def render_video(motion: MotionSequence, size: int, identity: int = 0) -> np.ndarray:
    """(T, size, size, 3) uint8 frames of a motion."""
    return np.stack([render_disc(motion.frame(i), size, identity) for i in range(len(motion))])


class SyntheticBackend:
    """CoefficientBackend + CropFitter for synthetic discs: crops are the (resized) frames, coefficients estimated."""

    face_model = FACE_MODEL

    def __init__(self, crop_size: int = 64) -> None:
        self.crop_size = crop_size

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        from PIL import Image

        if frame.shape[0] == self.crop_size and frame.shape[1] == self.crop_size:
            return np.ascontiguousarray(frame)
        return np.asarray(
            Image.fromarray(frame).resize((self.crop_size, self.crop_size), Image.Resampling.BILINEAR)
        )

    def fit_video(self, frames) -> tuple[np.ndarray, MotionSequence]:
        crops = np.stack([self._resize(f) for f in frames])
        coeffs = self.fit_crops(crops)
        if any(c is None for c in coeffs):
            from core.errors import NoFaceError

            raise NoFaceError("a synthetic frame has no disc")
        return crops, MotionSequence.from_frames(coeffs)

    def fit_crops(self, crops: np.ndarray) -> list[FaceCoefficients | None]:
        return [estimate_coefficients(c) for c in crops]


def make_dataset(
    root: Path,
    *,
    videos: int = 3,
    frames: int = 8,
    size: int = 32,
    test_videos: int = 1,
    image_format: str = "png",
) -> DatasetManifest:
    """Write a prepared dataset of synthetic videos directly (no decoding): the last `test_videos` are the test split."""
    entries = []
    for v in range(videos):
        motion = synthetic_motion(frames, phase=0.7 * v)
        record = VideoRecord.from_frames(
            f"vid{v}",
            render_video(motion, size, identity=v),
            motion,
            {"identity_group": f"id{v}"},
            image_format=image_format,
        )
        path = root / "videos" / f"vid{v}.npz"
        record.save(path)
        split = "test" if v >= videos - test_videos else "train"
        entries.append(VideoEntry(f"vid{v}", f"videos/vid{v}.npz", split, f"id{v}", frames, 25.0))
    manifest = DatasetManifest(root, FACE_MODEL, size, tuple(entries))
    manifest.save()
    return manifest


def write_mp4(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    """Encode (T, H, W, 3) uint8 frames as an H.264 mp4 with imageio-ffmpeg."""
    import imageio_ffmpeg

    h, w = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, macro_block_size=1, quality=9, output_params=["-loglevel", "error"]
    )
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path
