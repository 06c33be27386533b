"""Tests of one fixed crop for a whole clip (reconstruction/video_crop.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.errors import NoFaceError
from reconstruction.crop import crop_box, crop_transform_for_face
from reconstruction.video_crop import stable_crop_for_video


@pytest.fixture(scope="module")
def astro_face(astronaut):
    from reconstruction.detection import FaceDetector

    with FaceDetector() as det:
        return det.detect(astronaut)[0]


def test_stable_crop_for_video(astro_face):
    rng = np.random.default_rng(0)
    base = astro_face.landmarks.astype(np.float64)
    frames: list[np.ndarray | None] = []
    for i in range(40):
        lm = base.copy()
        lm[:, :2] += rng.normal(0, 3, 2) + (i * 1.0, 0)  # jitter and a slow drift right
        frames.append(lm)
    frames[5] = np.full_like(base, np.nan)
    frames[6] = None
    t = stable_crop_for_video(frames, (512, 512))
    singles = [crop_box(f) for f in frames if f is not None and np.isfinite(f).all()]
    median_side = np.median([s[2] for s in singles])
    x0, y0, x1, y1 = t.box
    assert median_side <= x1 - x0 <= 1.5 * median_side
    for f in frames:
        if f is None or not np.isfinite(f).all():
            continue
        assert x0 <= f[:, 0].min() and f[:, 0].max() <= x1 and y0 <= f[:, 1].min() and f[:, 1].max() <= y1
    # A still face gives the single-frame crop.
    still = stable_crop_for_video(np.repeat(base[None], 5, axis=0), (512, 512))
    assert still.box == pytest.approx(crop_transform_for_face(base, (512, 512)).box, abs=1e-6)
    with pytest.raises(NoFaceError):
        stable_crop_for_video(np.full((4, 478, 3), np.nan), (512, 512))


@pytest.mark.realdata
def test_voxceleb_clip_is_framed_like_voxceleb(shared_data):
    """On a clip from the VoxCeleb preprocessing the weights were trained on, our crop is the frame itself."""
    import imageio_ffmpeg

    from reconstruction.tracking import FaceTracker

    gen = imageio_ffmpeg.read_frames(str(shared_data / "videos" / "OpenTalker__DPE__d.mp4"))
    w, h = next(gen)["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in itertools.islice(gen, 0, 200, 4)]
    gen.close()
    with FaceTracker() as tracker:
        track = tracker.track(frames)
    t = stable_crop_for_video(track.landmarks, (h, w))
    x0, y0, x1, y1 = np.array(t.box) / w
    assert x1 - x0 == pytest.approx(1.0, abs=0.1)
    assert abs(x0) < 0.08 and abs(y0) < 0.08
