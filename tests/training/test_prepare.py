"""Data preparation: identity split, resumable runs that skip broken videos, and the product's first stage as the fitter."""

from __future__ import annotations

import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL, MotionSequence
from core.errors import InputError
from reconstruction.backends import DefaultBackend
from reconstruction.video import VideoReader
from tests.training.synthetic import FACE_MODEL, SyntheticBackend, render_video, synthetic_motion, write_mp4
from training.dataset import DatasetManifest, PairDataset
from training.prepare import (
    BACKENDS,
    CoefficientBackend,
    CropFitter,
    PrepareOptions,
    ReconstructionFitter,
    build_backend,
    list_videos,
    prepare_dataset,
    split_by_identity,
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
    reader = VideoReader(video_folder / "clip0.mp4", max_frames=4, max_duration=None)
    frames = list(reader)
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3) and reader.info.fps == 25.0
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


class _RecordingBackend:
    """Stands in for a reconstruction backend: records what it is given, returns a fixed analysis."""

    name = "recording"
    face_model = "recording"

    def __init__(self) -> None:
        self.videos: list[object] = []
        self.crops: list[object] = []

    def analyze_video(self, source):
        self.videos.append(source)
        n = len(list(source))
        zeros = np.zeros((n, 3), np.float32)
        motion = MotionSequence("recording", np.zeros((n, 4), np.float32), zeros, zeros, zeros + 1, fps=12.5)

        class _Analysis:
            crops = np.zeros((n, 8, 8, 3), np.uint8)
            crop_transform = type("T", (), {"to_dict": staticmethod(lambda: {"box": [0, 0, 8, 8]})})
            missing_frames = (1,)

        _Analysis.motion = motion
        return _Analysis

    def fit_crops(self, crops):
        self.crops.append(crops)
        return [None] * len(crops)


def test_reconstruction_fitter_wiring(video_folder):
    """Clips go to the product's analyze_video as they are: an open VideoReader unchanged, frames as a list."""
    recording = _RecordingBackend()
    fitter = ReconstructionFitter(recording)
    assert isinstance(fitter, CoefficientBackend) and isinstance(fitter, CropFitter)
    assert fitter.face_model == fitter.name == "recording"
    reader = VideoReader(video_folder / "clip0.mp4", max_frames=6, max_duration=None)
    fit = fitter.fit_video_detailed(reader)
    assert recording.videos[-1] is reader and fit.crops.shape == (6, 8, 8, 3)
    assert fit.details == {"crop_transform": {"box": [0, 0, 8, 8]}, "missing_frames": [1]}
    fitter.fit_video(iter([np.zeros((4, 4, 3), np.uint8)] * 3))
    assert isinstance(recording.videos[-1], list) and len(recording.videos[-1]) == 3
    assert fitter.fit_crops(np.zeros((2, 8, 8, 3), np.uint8)) == [None, None]
    assert BACKENDS == ("deep3d", "default")
    with pytest.raises(InputError, match="unknown reconstruction backend"):
        build_backend("nope")


def test_prepared_clips_match_the_product_analysis(astronaut, tmp_path):
    """One video path: the dataset holds exactly what the product's default backend makes of the clip."""
    folder = tmp_path / "videos"
    folder.mkdir()
    frames = np.stack([np.roll(astronaut, 3 * i, axis=1) for i in range(6)])  # a real face sliding right
    frames[2] = 90  # a frame without the face: interpolated, as in the product
    clip = write_mp4(folder / "astronaut.mp4", frames)
    fitter = build_backend("default")
    assert isinstance(fitter.backend, DefaultBackend) and fitter.face_model == DEFAULT_FACE_MODEL
    result = prepare_dataset(
        folder, tmp_path / "ds", fitter, PrepareOptions(image_format="png"), progress=False
    )
    manifest = result.manifest
    record = manifest.load_video((manifest.split("train") + manifest.split("test"))[0])
    product = fitter.backend.analyze_video(clip)
    assert record.meta["missing_frames"] == list(product.missing_frames) == [2]
    np.testing.assert_array_equal(record.frames(), product.crops)
    np.testing.assert_allclose(record.motion.descriptor_rows(), product.motion.descriptor_rows(), atol=1e-5)
    assert record.motion.fps == product.fps == 25.0


@pytest.mark.realdata
@pytest.mark.slow
def test_real_video_tracking_and_crops(shared_data, tmp_path):
    """Real decoding + tracking + VoxCeleb crop + default fit on two sample clips, as in the product."""
    folder = shared_data / "videos"
    fitter = build_backend("default")
    clip = folder / "OpenTalker__DPE__s.mp4"
    fit = fitter.fit_video_detailed(VideoReader(clip, max_frames=12, max_duration=None))
    assert fit.crops.shape == (12, 256, 256, 3) and len(fit.motion) == 12
    product = fitter.backend.analyze_video(clip, max_seconds=12 / VideoReader(clip).info.fps)
    np.testing.assert_array_equal(fit.crops, product.crops)
    np.testing.assert_allclose(fit.motion.expression, product.motion.expression, atol=1e-6)
    sub = tmp_path / "videos"
    sub.mkdir()
    for name in ("OpenTalker__DPE__s.mp4", "harlanhong__CVPR2022-DaGAN__driving.mp4"):
        (sub / name).symlink_to(folder / name)
    result = prepare_dataset(sub, tmp_path / "ds", fitter, PrepareOptions(max_frames=6), progress=False)
    assert len(result.processed) == 2 and result.manifest.counts()["test"]["videos"] == 1
    assert result.manifest.info["backend"] == "default"
