"""Tests of the reconstruction backends (reconstruction/backends.py): photo and clip analysis, errors, deep3d."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL
from core.errors import FaceTooSmallError, InputError, MediaReadError, NoFaceError, WeightsNotFoundError
from reconstruction.backend_base import BackendBase, PhotoAnalysis, VideoAnalysis
from reconstruction.backends import Deep3DReconstruction, DefaultBackend, alignment_in_crop, get_backend
from reconstruction.crop import crop_face, paste_back
from reconstruction.detection import DetectedFace
from reconstruction.fitting import project_coefficients
from tests.conftest import offline_weights
from tests.reconstruction.test_detection import two_faces


@pytest.fixture(scope="module")
def backend():
    with DefaultBackend() as be:
        yield be


@pytest.fixture(scope="module")
def astro_analysis(backend, astronaut) -> PhotoAnalysis:
    return backend.analyze_photo(astronaut)


# --------------------------------------------------------------------------------------------
# Photos
# --------------------------------------------------------------------------------------------


def test_photo_analysis_record(backend, astronaut, astro_analysis):
    a = astro_analysis
    assert isinstance(backend, BackendBase) and backend.name == "default"
    assert a.backend == "default" and a.num_faces == 1 and a.detection.num_faces == 1
    np.testing.assert_array_equal(a.image, astronaut)
    assert a.crop.shape == (256, 256, 3) and a.crop.dtype == np.uint8
    np.testing.assert_array_equal(a.crop, crop_face(astronaut, a.crop_transform))
    assert a.crop_landmarks.shape == (478, 3) and a.crop_landmarks.dtype == np.float32
    expected = a.crop_transform.apply_points(a.detection.face.landmarks)
    np.testing.assert_allclose(a.crop_landmarks, expected, atol=1e-3)  # z scaled with the crop too
    c = a.coefficients
    assert c.face_model == DEFAULT_FACE_MODEL == backend.face_model
    assert c.expression.shape == (32,) and c.identity.shape == (16,)
    # fitted in crop coordinates: the model projected into the crop lands on the crop landmarks
    projected = project_coefficients(backend.model, c, (256, 256))
    assert np.abs(projected[:, :2] - a.crop_landmarks[:, :2]).mean() < 1.0
    record = json.loads(json.dumps(a.to_dict()))
    assert record["num_faces"] == 1 and record["coefficients"]["face_model"] == DEFAULT_FACE_MODEL
    assert len(record["coefficients"]["expression"]) == 32 and record["crop_transform"]["crop_size"] == 256


@pytest.mark.parametrize("upscale", [1, 2])
def test_unedited_crop_pastes_back_unchanged(backend, astronaut, upscale):
    image = (
        astronaut if upscale == 1 else cv2.resize(astronaut, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    )
    a = backend.analyze_photo(image)
    restored = paste_back(a.image, a.crop, a.crop_transform)
    mae = np.abs(restored.astype(np.float64) - a.image.astype(np.float64)).mean() / 255.0
    assert mae < 1.0 / 255.0
    assert restored.shape == image.shape


def test_photo_from_path_and_pil(backend, astronaut, astro_analysis, tmp_path):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    for source in (path, str(path), Image.fromarray(astronaut), path.read_bytes()):
        c = backend.analyze_photo(source).coefficients
        np.testing.assert_allclose(
            c.descriptor_rows(), astro_analysis.coefficients.descriptor_rows(), atol=1e-4
        )


def test_several_faces_are_counted_and_selectable(backend, astronaut):
    image = two_faces(astronaut, 0.6)
    first = backend.analyze_photo(image)
    second = backend.analyze_photo(image, face_index=1)
    assert first.num_faces == second.num_faces == 2
    assert first.detection.face.bbox[2] < 512 < second.detection.face.bbox[0]  # largest = the left face
    assert second.detection.face.size < first.detection.face.size
    # the mirrored copy turns its head the other way
    assert np.sign(first.coefficients.angles[2]) != np.sign(second.coefficients.angles[2])
    with pytest.raises(InputError, match="only 2 face"):
        backend.analyze_photo(image, face_index=2)


@pytest.mark.parametrize("kind", ["grey", "noise"])
def test_no_face(backend, kind):
    rng = np.random.default_rng(0)
    image = (
        np.full((300, 400, 3), 128, np.uint8)
        if kind == "grey"
        else rng.integers(0, 256, (300, 400, 3), np.uint8)
    )
    with pytest.raises(NoFaceError, match="No face found in the 400x300 image") as info:
        backend.analyze_photo(image)
    assert not isinstance(info.value, FaceTooSmallError)


def test_tiny_face(backend, astronaut):
    small = cv2.resize(astronaut, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)  # face ~43 px
    with pytest.raises(FaceTooSmallError, match="at least 64 pixels") as info:
        backend.analyze_photo(small)
    assert "larger" in str(info.value)
    with DefaultBackend(detector=backend.detector, min_face_size=32) as lenient:
        assert lenient.analyze_photo(small).detection.face.size < 64


def test_get_backend_and_shared_detector(backend, astronaut):
    with pytest.raises(InputError, match="deep3d"):
        get_backend("nope")
    shared = get_backend("default", detector=backend.detector)
    assert isinstance(shared, DefaultBackend) and shared.detector is backend.detector
    shared.close()  # does not close a detector it did not make
    assert len(backend.detector.detect(astronaut)) == 1


def test_concurrent_requests_share_one_backend(backend, astronaut, astro_analysis):
    images = [astronaut, np.ascontiguousarray(astronaut[:, ::-1])] * 2
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = backend.analyze_photo(images[i]).coefficients.descriptor_rows()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    np.testing.assert_allclose(results[0], astro_analysis.coefficients.descriptor_rows(), atol=1e-4)
    np.testing.assert_allclose(results[0], results[2], atol=1e-4)
    np.testing.assert_allclose(results[1], results[3], atol=1e-4)


# --------------------------------------------------------------------------------------------
# Clips given as frames (fast; real videos are in test_video.py)
# --------------------------------------------------------------------------------------------


def _moving_clip(astronaut: np.ndarray, num: int = 12) -> np.ndarray:
    """The astronaut sliding right by 3 px per frame (a real face, a known motion)."""
    return np.stack([np.roll(astronaut, 3 * i, axis=1) for i in range(num)])


def test_clip_from_frames_with_missing_faces(backend, astronaut):
    frames = _moving_clip(astronaut)
    blank = (4, 9)
    frames[list(blank)] = 90
    progress: list[float] = []
    a = backend.analyze_video(frames, fps=25, progress=lambda f, _m: progress.append(f))
    assert isinstance(a, VideoAnalysis) and a.backend == "default" and a.source_path is None
    assert a.missing_frames == blank and a.fps == 25 and a.num_frames == 12
    assert len(a.motion) == len(a.raw_motion) == 12 and a.motion.fps == 25
    assert np.isnan(a.crop_landmarks[list(blank)]).all() and np.isfinite(a.crop_landmarks[0]).all()
    for i in (0, 4, 11):  # one fixed box for every frame, missing ones included
        np.testing.assert_array_equal(a.crops[i], crop_face(frames[i], a.crop_transform))
    # missing frames are interpolated from their neighbours, not replaced by a mean face
    raw = a.raw_motion.descriptor_rows()
    np.testing.assert_allclose(raw[4], (raw[3] + raw[5]) / 2, atol=1e-5)
    # the face slides right by 3 crop-scaled pixels per frame: tx grows steadily
    tx = a.raw_motion.translation[:, 0]
    steps = np.diff(tx)[[0, 1, 5, 6, 9]]
    expected = 2 * 3 * a.crop_transform.scale / 256
    np.testing.assert_allclose(steps, expected, rtol=0.25)
    assert progress and progress[-1] == 1.0 and all(np.diff(progress) >= 0)
    # one identity for the clip, equal to what the video fit used
    assert a.motion.identity.shape == (16,)


def test_clip_with_mostly_missing_faces(backend, astronaut):
    frames = _moving_clip(astronaut, 6)
    frames[1:5] = 90
    with pytest.raises(NoFaceError, match="only 2 of 6 frames"):
        backend.analyze_video(frames, fps=25)


def test_clip_input_errors(backend, astronaut):
    with pytest.raises(InputError):
        backend.analyze_video(np.zeros((3, 64, 64), np.uint8))
    with pytest.raises(InputError):
        backend.analyze_video([astronaut, astronaut[:100]])
    with pytest.raises(InputError):
        backend.analyze_video([])
    with pytest.raises(InputError):
        backend.analyze_video(42)
    with pytest.raises(MediaReadError, match="at most 0.2 s"):
        DefaultBackend(detector=backend.detector, max_video_seconds=0.2).analyze_video(
            _moving_clip(astronaut, 10)
        )
    with pytest.raises(MediaReadError, match="not found"):
        backend.analyze_video(Path("/nonexistent/clip.mp4"))
    # only the start is used when asked
    short = backend.analyze_video(_moving_clip(astronaut, 10), fps=25, max_seconds=0.2)
    assert short.num_frames == 5


# --------------------------------------------------------------------------------------------
# deep3d
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep3d_folder(tmp_path_factory, test_data: Path) -> Path:
    """A weights folder with random-filled epoch_20.pth (conformance filling) and the synthetic BFM."""
    from tests.reconstruction.test_deep3d import filled_weights

    folder = tmp_path_factory.mktemp("deep3d_weights")
    torch.save({"net_recon": filled_weights(test_data)}, folder / "epoch_20.pth")
    shutil.copy(test_data / "synthetic_BFM_model_front.mat", folder / "BFM_model_front.mat")
    return folder


@pytest.fixture(scope="module")
def deep3d(deep3d_folder, backend):
    with offline_weights(deep3d_folder):
        yield get_backend("deep3d", detector=backend.detector, batch_size=4)


def test_deep3d_photo(deep3d, astronaut, astro_analysis):
    from reconstruction.align import align_face

    assert isinstance(deep3d, Deep3DReconstruction) and isinstance(deep3d, BackendBase)
    assert deep3d.face_model == BFM_DEEP3D
    a = deep3d.analyze_photo(astronaut)
    c = a.coefficients
    assert a.backend == "deep3d" and c.face_model == BFM_DEEP3D
    assert c.expression.shape == (64,) and c.identity.shape == (80,) and c.descriptor_rows().shape == (73,)
    assert np.all(np.isfinite(c.descriptor_rows()))
    # same detection and renderer crop as the default backend
    np.testing.assert_array_equal(a.crop, astro_analysis.crop)
    # the crop rows are those of aligning the renderer crop itself (as PIRenderer's training data did)
    five_in_crop = DetectedFace.from_landmarks(a.crop_landmarks).five_points()
    np.testing.assert_allclose(c.crop, align_face(a.crop, five_in_crop).crop, rtol=1e-4)
    # ... while the network ran on the full-resolution image
    full = deep3d.deep3d.fit(astronaut, a.detection.face.five_points())
    np.testing.assert_allclose(c.expression, full.expression, atol=1e-5)


def test_alignment_in_crop_matches_align_face(astronaut, astro_analysis):
    from reconstruction.align import STANDARD_POINTS_3D, align_face

    five = astro_analysis.detection.face.five_points()
    rows = alignment_in_crop(five, astro_analysis.crop_transform, STANDARD_POINTS_3D)
    in_crop = astro_analysis.crop_transform.apply_points(five)
    np.testing.assert_allclose(rows, align_face(astro_analysis.crop, in_crop).crop, rtol=1e-5)
    assert not np.allclose(rows, align_face(astronaut, five).crop, rtol=1e-2)  # the full photo differs


def test_deep3d_clip(deep3d, astronaut):
    a = deep3d.analyze_video(_moving_clip(astronaut, 3), fps=25)
    assert a.motion.face_model == BFM_DEEP3D and a.motion.expression.shape == (3, 64)
    assert a.motion.crop.shape == (3, 3) and a.motion.identity.shape == (80,)
    # the face slides right inside a fixed crop: the alignment centre tx grows
    assert np.all(np.diff(a.raw_motion.crop[:, 1]) > 0)


def test_fit_crops_refits_faces_as_they_are(backend, deep3d, astro_analysis):
    """The evaluator's re-fit: the face in each crop, in the crop's own frame; None without a face."""
    crops = np.stack([astro_analysis.crop, np.full_like(astro_analysis.crop, 128)])
    refit = backend.fit_crops(crops)
    assert refit[1] is None and refit[0].face_model == DEFAULT_FACE_MODEL
    np.testing.assert_allclose(refit[0].angles, astro_analysis.coefficients.angles, atol=0.05)  # ~3 degrees
    bfm = deep3d.fit_crops(list(crops))
    assert bfm[1] is None and bfm[0].face_model == BFM_DEEP3D and bfm[0].expression.shape == (64,)


def test_deep3d_missing_files_are_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("PIRENDER_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        get_backend("deep3d")
    text = str(info.value)
    # only the network is required; the BFM is named as the optional file it is
    assert "epoch_20.pth" in text and "1 file(s)" in text and "BFM_model_front.mat is optional" in text


# --------------------------------------------------------------------------------------------
# `pirender coeffs`
# --------------------------------------------------------------------------------------------


def _coeffs_cli(argv: list[str]) -> int:
    import argparse

    from cli import coeffs

    parser = argparse.ArgumentParser()
    coeffs.add_arguments(parser)
    return coeffs.run(parser.parse_args(argv))


def test_coeffs_command_on_a_photo(astronaut, astro_analysis, tmp_path, capsys):
    from cli.main import COMMANDS
    from core.coefficients import FaceCoefficients, MotionSequence
    from reconstruction.crop import CropTransform

    assert COMMANDS["coeffs"] == "cli.coeffs"
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    assert (
        _coeffs_cli([str(photo), "-o", str(tmp_path / "a.json"), "--save-crop", str(tmp_path / "crop.png")])
        == 0
    )
    out = capsys.readouterr().out
    assert "faces found: 1" in out and "yaw" in out and "roll" in out
    record = json.loads((tmp_path / "a.json").read_text())
    coeffs = FaceCoefficients.from_dict(record["coefficients"])
    np.testing.assert_allclose(
        coeffs.descriptor_rows(), astro_analysis.coefficients.descriptor_rows(), atol=1e-4
    )
    assert CropTransform.from_dict(record["crop_transform"]) == astro_analysis.crop_transform
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "crop.png")), astro_analysis.crop)
    assert _coeffs_cli([str(photo), "-o", str(tmp_path / "a.npz")]) == 0
    motion = MotionSequence.load_npz(str(tmp_path / "a.npz"))
    assert len(motion) == 1 and motion.face_model == DEFAULT_FACE_MODEL
    with np.load(tmp_path / "a.npz") as data:
        assert (
            CropTransform.from_dict(json.loads(str(data["crop_transform"]))) == astro_analysis.crop_transform
        )
        assert int(data["num_faces"]) == 1


def test_coeffs_command_on_a_clip_and_errors(astronaut, tmp_path, capsys):
    import imageio_ffmpeg

    from core.coefficients import MotionSequence

    clip = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(clip), (512, 512), fps=25, quality=9)
    writer.send(None)
    for frame in _moving_clip(astronaut, 8):
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    assert _coeffs_cli([str(clip), "-o", str(tmp_path / "m.npz"), "--no-smoothing"]) == 0
    assert "frames: 8 at 25.00 fps (face in every frame)" in capsys.readouterr().out
    motion = MotionSequence.load_npz(str(tmp_path / "m.npz"))
    assert len(motion) == 8 and motion.fps == 25
    assert _coeffs_cli([str(clip), "-o", str(tmp_path / "m.json"), "--max-seconds", "0.2"]) == 0
    assert len(json.loads((tmp_path / "m.json").read_text())["expression"]) == 5
    with pytest.raises(InputError, match=r"\.json or \.npz"):
        _coeffs_cli([str(clip), "-o", str(tmp_path / "m.txt")])
    with pytest.raises(InputError, match="not found"):
        _coeffs_cli([str(tmp_path / "none.png"), "-o", str(tmp_path / "x.json")])
    grey = tmp_path / "grey.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(grey)
    with pytest.raises(NoFaceError):
        _coeffs_cli([str(grey), "-o", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()
