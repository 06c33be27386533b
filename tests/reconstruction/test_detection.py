"""Tests of face detection, landmarks and video tracking (reconstruction/detection.py), on real faces."""

from __future__ import annotations

import itertools
import json
import threading

import cv2
import numpy as np
import pytest

from core.errors import FaceTooSmallError, InputError, NoFaceError
from reconstruction.detection import (
    LANDMARKS68_INDICES,
    NUM_LANDMARKS,
    DetectedFace,
    FaceDetector,
    face_box_iou,
)
from reconstruction.tracking import FaceTracker


@pytest.fixture(scope="module")
def detector():
    with FaceDetector() as det:
        yield det


def two_faces(astronaut: np.ndarray, scale: float) -> np.ndarray:
    """The astronaut beside a mirrored, smaller copy of herself on a grey background."""
    small = cv2.resize(astronaut[:, ::-1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 512 + small.shape[1], 3), 200, np.uint8)
    top = (512 - small.shape[0]) // 2
    canvas[:, :512] = astronaut
    canvas[top : top + small.shape[0], 512:] = small
    return canvas


def test_astronaut_landmarks(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.index == 0
    assert face.landmarks.shape == (NUM_LANDMARKS, 3) and face.landmarks.dtype == np.float32
    assert not face.landmarks.flags.writeable
    # The astronaut's face lies roughly in x 175-275, y 65-180 of the 512 px image.
    x0, y0, x1, y1 = face.bbox
    assert 160 < x0 < 195 and 255 < x1 < 290 and 55 < y0 < 90 and 165 < y1 < 195
    assert face.size == pytest.approx(max(x1 - x0, y1 - y0))


def test_five_points_order_and_geometry(detector, astronaut):
    pts = detector.detect(astronaut)[0].five_points()
    assert pts.shape == (5, 2) and pts.dtype == np.float32
    eye_l, eye_r, nose, mouth_l, mouth_r = pts
    assert eye_l[0] < nose[0] < eye_r[0]  # first eye is the one on the image's left
    assert mouth_l[0] < nose[0] < mouth_r[0]
    assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    eye_dist = np.linalg.norm(eye_r - eye_l)
    assert 35 < eye_dist < 55  # about 43 px in this photo


def test_landmarks68_layout(detector, astronaut):
    face = detector.detect(astronaut)[0]
    lm68 = face.landmarks68()
    assert lm68.shape == (68, 2) and len(set(LANDMARKS68_INDICES)) == 68
    assert lm68[0, 0] < lm68[8, 0] < lm68[16, 0]  # jaw runs image-left -> chin -> image-right
    assert lm68[8, 1] == pytest.approx(lm68[:17, 1].max(), abs=1.0)  # the chin is the jaw's lowest point
    assert lm68[36:42, 0].mean() < lm68[42:48, 0].mean()
    assert lm68[17:27, 1].max() < lm68[36:48, 1].min()  # brows above eyes
    assert lm68[30, 1] < lm68[48:68, 1].min()  # nose tip above the lips
    np.testing.assert_allclose(face.five_points()[0], lm68[36:42].mean(axis=0), atol=1e-4)


def test_large_image_is_downscaled_and_mapped_back(detector, astronaut):
    small = detector.detect(astronaut)[0]
    factor = 2.5  # 1280 px: above the 1024 px detection size
    big = cv2.resize(astronaut, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    face = detector.detect(big)[0]
    expected = (small.landmarks[:, :2] + 0.5) * factor - 0.5  # pixel-centre convention
    err = np.abs(face.landmarks[:, :2] - expected).mean()
    assert err < 0.02 * face.size
    assert face.size == pytest.approx(small.size * factor, rel=0.05)
    assert face.landmarks[:, 2].std() == pytest.approx(small.landmarks[:, 2].std() * factor, rel=0.15)


@pytest.mark.parametrize("which", ["coffee", "noise"])
def test_no_face(detector, which):
    from skimage import data

    image = (
        data.coffee()
        if which == "coffee"
        else np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    )
    assert detector.detect(image) == []
    with pytest.raises(NoFaceError, match="No face found") as info:
        detector.detect_one(image)
    assert "frontal or up to ~45 degrees" in str(info.value)
    assert not isinstance(info.value, FaceTooSmallError)


def test_two_faces_largest_first(detector, astronaut):
    image = two_faces(astronaut, 0.5)
    faces = detector.detect(image)
    assert len(faces) == 2
    assert [f.index for f in faces] == [0, 1]
    assert faces[0].size > 1.6 * faces[1].size
    assert faces[0].centre[0] < 512 < faces[1].centre[0]
    # The mirrored copy still lists its image-left eye first.
    pts = faces[1].five_points()
    assert pts[0, 0] < pts[1, 0]
    result = detector.detect_one(image, face_index=1, min_size=32)
    assert result.num_faces == 2 and result.face.centre[0] > 512
    assert result.image_size == image.shape[:2]
    with pytest.raises(InputError, match="only 2 face"):
        detector.detect_one(image, face_index=2, min_size=32)


def test_second_pass_finds_faces_the_mesh_misses(astronaut):
    # In a wide image MediaPipe's face mesh alone misses the smaller face; the second pass finds it.
    image = two_faces(astronaut, 0.5)
    with FaceDetector(search_small_faces=False) as plain:
        assert len(plain.detect(image)) == 1
    grid = np.tile(
        cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA), (3, 4, 1)
    )  # 12 faces, ~45 px
    with FaceDetector(search_small_faces=True) as det:
        faces = det.detect(grid, max_faces=10)
    assert len(faces) == 10
    centres = np.array([f.centre for f in faces])
    assert len({(int(x // 256), int(y // 256)) for x, y in centres}) == 10  # ten different tiles


def test_face_too_small(detector, astronaut):
    size = detector.detect(astronaut)[0].size
    with pytest.raises(FaceTooSmallError) as info:
        detector.detect_one(astronaut, min_size=300)
    msg = str(info.value)
    assert "300" in msg and f"{size:.0f} pixels" in msg  # says what was found and what is needed
    assert isinstance(info.value, NoFaceError)
    assert detector.detect_one(astronaut, min_size=64).face.size > 64


def test_bad_inputs(detector, astronaut):
    with pytest.raises(InputError, match="uint8"):
        detector.detect(astronaut.astype(np.float32))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        detector.detect(astronaut[..., 0])
    with pytest.raises(InputError, match="max_faces"):
        detector.detect(astronaut, max_faces=0)
    with pytest.raises(InputError):
        DetectedFace.from_landmarks(np.zeros((68, 2)))
    with pytest.raises(InputError, match="NaN"):
        DetectedFace.from_landmarks(np.full((NUM_LANDMARKS, 3), np.nan))


def test_detected_face_record(detector, astronaut):
    face = detector.detect(astronaut)[0]
    record = json.loads(json.dumps(face.to_dict()))
    again = DetectedFace.from_landmarks(np.array(record["landmarks"]), index=record["index"])
    np.testing.assert_allclose(again.landmarks, face.landmarks, atol=1e-5)
    assert again.bbox == pytest.approx(face.bbox)
    assert face_box_iou(face.bbox, face.bbox) == pytest.approx(1.0)
    assert face_box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_detector_is_thread_safe(detector, astronaut):
    reference = detector.detect(astronaut)[0].landmarks
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(detector.detect(astronaut)[0].landmarks)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 9
    for lm in results:
        np.testing.assert_allclose(lm, reference, atol=1e-3)


def test_tracker_reports_missing_frames(astronaut):
    blank = np.full_like(astronaut, 120)
    frames = []
    for i in range(8):
        frames.append(blank if i in (3, 4) else np.roll(astronaut, 2 * i, axis=1))
    with FaceTracker() as tracker:
        result = tracker.track(frames)
    assert result.num_frames == 8 and result.image_size == (512, 512)
    assert result.missing_frames == (3, 4)
    assert result.found.tolist() == [True, True, True, False, False, True, True, True]
    assert np.isnan(result.landmarks[[3, 4]]).all()
    assert np.isfinite(result.landmarks[result.found]).all()
    # The face moves 2 px right per frame; the landmarks follow.
    x = result.landmarks[:, :, 0].mean(axis=1)
    assert x[7] - x[0] == pytest.approx(14, abs=2.5)
    assert np.isnan(result.boxes()[3]).all()


def test_tracker_keeps_one_identity(astronaut):
    base = two_faces(astronaut, 0.75)
    frames = [np.roll(base, 3 * i, axis=0) for i in range(6)]
    with FaceTracker(face_index=1) as tracker:
        result = tracker.track(frames)
        assert not result.missing_frames
        centres_x = np.nanmean(result.landmarks[:, :, 0], axis=1)
        assert (centres_x > 512).all()  # always the smaller, mirrored face on the right
        with pytest.raises(InputError, match="one size"):
            tracker.update(astronaut)
        assert tracker.update(frames[0]) is not None
        tracker.reset()
        assert tracker.update(astronaut) is None  # only one face: there is no face number 1
        tracker.reset()
        face = tracker.update(frames[0])
        assert face is not None and face.centre[0] > 512


def _video_frames(path, count: int, step: int = 1):
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [
        np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in itertools.islice(gen, 0, count * step, step)
    ]
    gen.close()
    return frames


@pytest.mark.realdata
def test_real_video_tracking(shared_data):
    frames = _video_frames(shared_data / "videos" / "harlanhong__CVPR2022-DaGAN__driving.mp4", 40)
    with FaceTracker() as tracker:
        result = tracker.track(frames)
    assert result.num_frames == 40 and not result.missing_frames
    size = np.ptp(result.landmarks[0, :, 1])
    assert 0.4 * 256 < size < 0.7 * 256  # VoxCeleb framing: the face is about half the frame
    jumps = np.abs(np.diff(result.landmarks[:, :, :2], axis=0)).mean(axis=(1, 2))
    assert np.median(jumps) < 0.03 * size  # smooth from frame to frame, no identity switches


@pytest.mark.realdata
@pytest.mark.slow
def test_real_full_hd_frame(shared_data, detector):
    frame = _video_frames(shared_data / "videos" / "ajay-sainy__Wav2Lip-GFPGAN__kim_7s_raw.mp4", 1)[0]
    assert frame.shape == (1080, 1920, 3)
    result = detector.detect_one(frame)
    pts = result.face.five_points()
    assert result.face.size > 150
    assert pts[0, 0] < pts[2, 0] < pts[1, 0]
    assert (pts >= 0).all() and (pts[:, 0] < 1920).all() and (pts[:, 1] < 1080).all()


def _turned(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image padded to its diagonal and turned counter-clockwise by `degrees` about its centre;
    and the (2, 3) map from its pixels back to the image's."""
    h, w = image.shape[:2]
    d = int(np.ceil(np.hypot(h, w))) + 8
    top, left = (d - h) // 2, (d - w) // 2
    padded = cv2.copyMakeBorder(image, top, d - h - top, left, d - w - left, cv2.BORDER_REPLICATE)
    turn = cv2.getRotationMatrix2D((d / 2 - 0.5, d / 2 - 0.5), degrees, 1.0)
    back = cv2.invertAffineTransform(turn)
    back[:, 2] -= (left, top)
    return cv2.warpAffine(padded, turn, (d, d), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE), back


def test_roll_is_measured_from_the_eyes(detector, astronaut):
    upright = detector.detect(astronaut)[0]
    turned, _ = _turned(astronaut, 30.0)  # counter-clockwise on screen: the image-right eye rises
    rolled = detector.detect(turned)[0]
    assert abs(upright.roll()) < 10.0
    assert rolled.roll() == pytest.approx(upright.roll() - 30.0, abs=5.0)


def test_a_rolled_face_is_found_again_level(detector, astronaut):
    """A face rolled beyond LEVEL_ROLL gets the landmarks of its level copy, turned back: they lie
    where the upright photo's are (the rolled photo's own mesh places its contour further off)."""
    upright = detector.detect_one(astronaut).face
    turned, back = _turned(astronaut, 40.0)
    found = detector.detect_one(turned).face
    assert found.roll() == pytest.approx(upright.roll() - 40.0, abs=5.0)
    as_found = detector.detect(turned)[0]  # detect() keeps the rolled photo's own mesh
    placed = found.landmarks[:, :2] @ back[:, :2].T + back[:, 2]
    placed_before = as_found.landmarks[:, :2] @ back[:, :2].T + back[:, 2]
    error = np.hypot(*(placed - upright.landmarks[:, :2]).T).mean()
    error_before = np.hypot(*(placed_before - upright.landmarks[:, :2]).T).mean()
    assert error < 0.02 * upright.size
    assert error < error_before
    assert found.landmarks[:, 2].std() == pytest.approx(upright.landmarks[:, 2].std(), rel=0.15)


def test_a_level_face_is_not_found_again(detector, astronaut, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a level face was found again")

    monkeypatch.setattr(detector, "_found_level", fail)
    detector.detect_one(astronaut)
    detector.detect_one(_turned(astronaut, 10.0)[0])


@pytest.mark.realdata
def test_a_false_face_on_a_building_is_not_chosen(shared_data, detector):
    # The mesh alone finds two faces here: the woman on the right and a larger "face" in the
    # windows of the building behind her, which was the one chosen for editing.
    image = cv2.cvtColor(
        cv2.imread(str(shared_data / "images" / "justadudewhohacks__face-api.js__happy.jpg")),
        cv2.COLOR_BGR2RGB,
    )
    faces = detector.detect(image)
    assert len(faces) == 1
    assert 260 < faces[0].centre[0] < 410
    assert detector.detect_one(image).num_faces == 1


@pytest.mark.realdata
def test_real_faces_in_a_group_photo_are_all_kept(shared_data, detector):
    image = cv2.cvtColor(
        cv2.imread(str(shared_data / "images" / "TencentARC__GFPGAN__10045.png")), cv2.COLOR_BGR2RGB
    )
    assert len(detector.detect(image)) == 3
