"""Data preparation: identity split, resumable runs that skip broken videos, and the tracker/crop/fitter wiring."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import NoFaceError
from training.prepare import (
    CoefficientBackend,
    CropFitter,
    PrepareOptions,
    TrackedCropBackend,
    VideoReader,
    _fill_missing,
    list_videos,
    prepare_dataset,
    split_by_identity,
)
from training.dataset import DatasetManifest, PairDataset
from core.coefficients import FaceCoefficients
from reconstruction.detection import TrackResult
from tests.training.synthetic import (
    FACE_MODEL,
    SyntheticBackend,
    render_video,
    synthetic_motion,
    write_mp4,
)


def test_split_by_identity():
    groups = [f"g{i}" for i in range(40)]
    split = split_by_identity(groups + groups[:5], 0.2, seed=1)
    assert set(split) == set(groups)
    n_test = sum(v == "test" for v in split.values())
    assert 2 <= n_test <= 16
    assert split == split_by_identity(list(reversed(groups)), 0.2, seed=1)  # order-independent
    assert (
        split_by_identity(["a", "b"], 0.0001)["a"] != split_by_identity(["a", "b"], 0.0001)["b"]
    )  # each split gets one
    assert split_by_identity(["a", "b", "c"], 0.5, test_groups=["b"]) == {
        "a": "train",
        "b": "test",
        "c": "train",
    }


def test_fill_missing_interpolates_over_time():
    lm = np.array([[[0.0, 0.0]], [[np.nan, np.nan]], [[4.0, 2.0]], [[np.nan, np.nan]]])
    out = _fill_missing(lm, np.array([True, False, True, False]))
    assert np.allclose(out[:, 0], [[0, 0], [2, 1], [4, 2], [4, 2]])


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """Four synthetic clips (two of one identity group) encoded as mp4, a broken file, and a MANIFEST.tsv."""
    folder = tmp_path_factory.mktemp("videos")
    rows = ["file\tnote"]
    for i, group in enumerate(["alice", "alice", "bob", "carol"]):
        name = f"clip{i}.mp4"
        write_mp4(folder / name, render_video(synthetic_motion(10, phase=i), 64, identity=i))
        rows.append(f"{name}\tsynthetic clip; identity_group={group}")
    (folder / "broken.mp4").write_bytes(b"\x00\x01 definitely not a video" * 50)
    (folder / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_list_videos_reads_identity_groups(video_folder):
    sources = {s.name: s.identity_group for s in list_videos(video_folder)}
    assert sources == {
        "broken": "broken",
        "clip0": "alice",
        "clip1": "alice",
        "clip2": "bob",
        "clip3": "carol",
    }
    reader = VideoReader(video_folder / "clip0.mp4", max_frames=4)
    frames = list(reader)
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3) and reader.fps == 25.0
    assert len(list(reader)) == 4  # re-iterable


def test_prepare_skips_broken_videos_and_resumes(video_folder, tmp_path):
    backend = SyntheticBackend(crop_size=64)
    assert isinstance(backend, CoefficientBackend) and isinstance(backend, CropFitter)
    out = tmp_path / "dataset"
    opts = PrepareOptions(image_format="png", test_groups=("bob",))
    result = prepare_dataset(video_folder, out, backend, opts, progress=False)
    assert sorted(result.processed) == ["clip0", "clip1", "clip2", "clip3"]
    assert [s["name"] for s in result.skipped] == ["broken"] and "MediaReadError" in result.skipped[0][
        "reason"
    ]
    manifest = DatasetManifest.load(out)
    assert manifest.face_model == FACE_MODEL and manifest.frame_size == 64
    counts = manifest.counts()
    assert counts["train"] == {"videos": 3, "frames": 30, "identities": 2}
    assert counts["test"] == {"videos": 1, "frames": 10, "identities": 1} and counts["skipped"] == 1
    record = manifest.load_video(manifest.split("test")[0])
    assert record.meta["identity_group"] == "bob" and abs(record.motion.fps - 25.0) < 1e-6
    truth = synthetic_motion(10, phase=2)
    assert (
        np.abs(record.motion.angles[:, 1] - truth.angles[:, 1]).max() < 0.03
    )  # the backend really fitted the decoded frames
    assert PairDataset(out, "train", face_model=FACE_MODEL)[0]["descriptor"].shape == (73, 27)

    again = prepare_dataset(video_folder, out, backend, opts, progress=False)
    assert again.processed == () and sorted(again.reused) == ["clip0", "clip1", "clip2", "clip3"]
    assert [s["name"] for s in again.skipped] == ["broken"]
    retried = prepare_dataset(
        video_folder,
        out,
        backend,
        PrepareOptions(image_format="png", test_groups=("bob",), retry_failed=True),
        progress=False,
    )
    assert [s["name"] for s in retried.skipped] == ["broken"]


class _FakeTracker:
    """Landmarks of a face moving right by 1 px per frame in 128x128 frames; frame 2 is lost."""

    def __init__(self, base: np.ndarray, lost: tuple[int, ...] = (2,)) -> None:
        self.base, self.lost = base, lost

    def track(self, frames):
        frames = list(frames)
        lm = np.stack([self.base + [i, 0, 0] for i in range(len(frames))]).astype(np.float32)
        found = np.ones(len(frames), bool)
        for i in self.lost:
            lm[i] = np.nan
            found[i] = False
        return TrackResult(lm, found, self.lost, (128, 128))

    def close(self):
        pass


class _RecordingFitter:
    face_model_name = "recording"

    def __init__(self):
        self.calls = []

    def fit_batch(self, frames, landmarks):
        self.calls.append((np.stack(frames), np.stack(landmarks)))
        return [
            FaceCoefficients(
                "recording", np.asarray(lm, np.float32).reshape(-1), np.zeros(3), np.zeros(3), np.ones(3)
            )
            for lm in landmarks
        ]


def test_tracked_crop_backend_wiring():
    rng = np.random.default_rng(0)
    base = np.concatenate([rng.uniform(44, 84, (478, 2)), np.zeros((478, 1))], axis=1)
    fitter = _RecordingFitter()
    backend = TrackedCropBackend(
        fitter, crop_size=64, batch_size=3, tracker_factory=lambda: _FakeTracker(base)
    )
    frames = [np.full((128, 128, 3), 10 * i, np.uint8) for i in range(6)]
    fit = backend.fit_video_detailed(frames)
    assert fit.crops.shape == (6, 64, 64, 3) and len(fit.motion) == 6 and fit.motion.face_model == "recording"
    assert fit.details["missing_frames"] == [2] and "crop_transform" in fit.details
    assert [len(c[0]) for c in fitter.calls] == [3, 3]
    five = np.concatenate([c[1] for c in fitter.calls])  # (6, 5, 2) in crop pixels
    assert five.shape == (6, 5, 2) and (five > 0).all() and (five < 64).all()
    step = np.diff(five[:, 0, 0])
    assert np.allclose(step, step[0], atol=1e-3) and step[0] > 0  # the lost frame was interpolated
    assert np.array_equal(fit.crops[4], np.full((64, 64, 3), 40, np.uint8))
    lost = TrackedCropBackend(fitter, tracker_factory=lambda: _FakeTracker(base, lost=(0, 1, 2)))
    with pytest.raises(NoFaceError, match="lost"):
        lost.fit_video(frames)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_video_tracking_and_crops(shared_data, tmp_path):
    """Real decoding + MediaPipe tracking + VoxCeleb crop on two sample clips (the fitter is a stand-in)."""
    folder = shared_data / "videos"
    fitter = _RecordingFitter()
    backend = TrackedCropBackend(fitter)
    fit = backend.fit_video_detailed(VideoReader(folder / "OpenTalker__DPE__s.mp4", max_frames=12))
    assert fit.crops.shape == (12, 256, 256, 3)
    five = np.concatenate([c[1] for c in fitter.calls])
    eyes_y, mouth_y = five[:, :2, 1].mean(), five[:, 3:, 1].mean()
    assert 70 < eyes_y < mouth_y < 200 and 90 < five[:, 2, 0].mean() < 166  # a VoxCeleb-style framing
    sub = tmp_path / "videos"
    sub.mkdir()
    for name in ("OpenTalker__DPE__s.mp4", "harlanhong__CVPR2022-DaGAN__driving.mp4"):
        (sub / name).symlink_to(folder / name)
    result = prepare_dataset(sub, tmp_path / "ds", backend, PrepareOptions(max_frames=6), progress=False)
    assert len(result.processed) == 2 and result.manifest.counts()["test"]["videos"] == 1
