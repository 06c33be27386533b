"""Tests of reconstruction/motion.py (smoothing, missing frames, relative motion) and of clip analysis on real videos."""

from __future__ import annotations

import numpy as np
import pytest

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from core.errors import FaceModelMismatchError, FaceModelNotInstalledError, InputError
from reconstruction.backends import DefaultBackend
from reconstruction.bfm import BFMFaceModel
from reconstruction.crop import crop_face
from reconstruction.face_model import load_default_face_model, mesh_regions
from reconstruction.motion import (
    SmoothingSettings,
    expression_region_projector,
    fill_missing_frames,
    frame_jitter,
    lip_gap,
    mouth_opening,
    relative_motion,
    savgol_smooth,
    smooth_motion,
)
from reconstruction.video import read_video
from tests.conftest import random_face

# Talking clips (frontal, speaking) used for the real-data checks; the first 3 s of each.
TALKING_CLIPS = (
    "OpenTalker__SadTalker__WDA_AlexandriaOcasioCortez_000.mp4",
    "yerfor__Real3DPortrait__May_5s.mp4",
)


@pytest.fixture(scope="module")
def model():
    return load_default_face_model()


def _eyes(model) -> np.ndarray:
    return np.concatenate(
        [
            mesh_regions()["eye_image_left"],
            mesh_regions()["eye_image_right"],
            np.arange(468, model.num_points),
        ]
    )


def _brows() -> np.ndarray:
    return np.concatenate([mesh_regions()["brow_image_left"], mesh_regions()["brow_image_right"]])


def _mouth_area(model, radius: float = 0.3) -> np.ndarray:
    """Lips plus the points of the mean face within `radius` eye-corner distances of a lip point."""
    lips = model.mean[mesh_regions()["lips"]]
    dist = np.linalg.norm(model.mean[:, None] - lips[None], axis=-1).min(axis=1)
    return np.flatnonzero(dist < radius)


# --------------------------------------------------------------------------------------------
# Smoothing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "order"), [(5, 3), (9, 2), (11, 2), (3, 1), (39, 4)])
def test_savgol_agrees_with_scipy(window, order):
    from scipy.signal import savgol_filter

    x = np.random.default_rng(window).normal(size=(40, 3, 2))
    ours = savgol_smooth(x, window, order)
    ref = savgol_filter(x, window, order, axis=0, mode="interp")
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_savgol_leaves_short_or_disabled_input_unchanged():
    x = np.arange(8.0)[:, None] ** 2
    np.testing.assert_array_equal(savgol_smooth(x, 0, 2), x)
    np.testing.assert_array_equal(savgol_smooth(x, 9, 2), x)  # window longer than the signal
    np.testing.assert_allclose(savgol_smooth(x, 5, 2), x, atol=1e-9)  # a parabola is kept exactly


def _speech_like_motion(model, fps: float = 25.0, seconds: float = 4.0, seed: int = 0):
    """Slow head motion + 0.4 degree landmark jitter, and mouth opening at 4 syllables per second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    clean_angles = np.radians(
        np.stack([5 * np.sin(2 * np.pi * 0.3 * t), 12 * np.sin(2 * np.pi * 0.5 * t), 0 * t], 1)
    )
    angles = clean_angles + np.radians(0.4) * rng.normal(size=clean_angles.shape)
    mouth_dir = (
        model.expression_basis.reshape(model.num_points, 3, -1)[13, 1]
        - model.expression_basis.reshape(model.num_points, 3, -1)[14, 1]
    )
    opening = (
        0.5 * (1 - np.cos(2 * np.pi * 4.0 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t) ** 2)
    )  # syllables
    expression = np.outer(opening, mouth_dir / np.linalg.norm(mouth_dir) ** 2) * 0.3
    expression += 0.02 * rng.normal(size=expression.shape)
    translation = np.stack([0.01 * np.sin(t), 0 * t, 0.1 + 0 * t], 1) + 0.003 * rng.normal(size=(len(t), 3))
    motion = MotionSequence(
        DEFAULT_FACE_MODEL, expression, angles, translation, np.tile([1.0, 0, 0], (len(t), 1)), fps=fps
    )
    return motion, clean_angles


def test_smoothing_removes_pose_jitter_and_keeps_mouth_dynamics(model):
    raw, clean_angles = _speech_like_motion(model)
    smooth = smooth_motion(raw)
    assert len(smooth) == len(raw) and smooth.fps == raw.fps and smooth.face_model == raw.face_model
    assert frame_jitter(smooth.angles) < 0.3 * frame_jitter(raw.angles)
    assert frame_jitter(smooth.translation) < 0.3 * frame_jitter(raw.translation)
    err_raw = np.abs(raw.angles - clean_angles).mean()
    err_smooth = np.abs(smooth.angles - clean_angles).mean()
    assert err_smooth < 0.6 * err_raw  # closer to the true head motion, not just flatter
    mouth_raw = mouth_opening(model, raw.expression)
    mouth_smooth = mouth_opening(model, smooth.expression)
    assert np.corrcoef(mouth_raw, mouth_smooth)[0, 1] > 0.95
    # the 4 Hz peaks survive: the opening's range shrinks by less than 15 %
    assert np.ptp(mouth_smooth) > 0.85 * np.ptp(mouth_raw)


def test_smoothing_edge_cases(model):
    raw, _ = _speech_like_motion(model, seconds=0.12)  # 3 frames: shorter than the pose window
    out = smooth_motion(raw)
    assert len(out) == 3 and np.all(np.isfinite(out.angles))
    one = MotionSequence.still(raw.frame(0))
    np.testing.assert_allclose(smooth_motion(one).expression, one.expression)
    off = smooth_motion(raw, SmoothingSettings(pose_window=0, expression_window=0))
    np.testing.assert_allclose(off.angles, raw.angles)
    with pytest.raises(InputError):
        SmoothingSettings(pose_window=-1)


def test_fill_missing_frames():
    values = np.array([[0.0], [np.nan], [np.nan], [3.0], [np.nan]])
    found = np.array([True, False, False, True, False])
    np.testing.assert_allclose(fill_missing_frames(values, found)[:, 0], [0, 1, 2, 3, 3])
    first_missing = fill_missing_frames(np.array([[9.0], [1.0]]), np.array([False, True]))
    np.testing.assert_allclose(first_missing[:, 0], [1, 1])
    with pytest.raises(InputError):
        fill_missing_frames(values, np.zeros(5, bool))
    with pytest.raises(InputError):
        fill_missing_frames(values, np.ones(4, bool))


# --------------------------------------------------------------------------------------------
# Relative motion
# --------------------------------------------------------------------------------------------


def _source() -> FaceCoefficients:
    return random_face(3, [4.0, -10.0, 2.0], [0.05, -0.02, 0.2])


def _driving(num: int = 6) -> MotionSequence:
    rng = np.random.default_rng(4)
    return MotionSequence(
        DEFAULT_FACE_MODEL,
        rng.normal(size=(num, 32)),
        np.radians(rng.normal(scale=10, size=(num, 3))),
        rng.normal(scale=0.05, size=(num, 3)),
        np.tile([1.2, 3.0, 4.0], (num, 1)),
        fps=30.0,
        identity=rng.normal(size=16),
    )


def test_relative_motion_relative_mode():
    src, drv = _source(), _driving()
    out = relative_motion(src, drv)
    assert len(out) == len(drv) and out.fps == 30.0 and out.face_model == DEFAULT_FACE_MODEL
    np.testing.assert_allclose(out.identity, src.identity)
    np.testing.assert_allclose(
        out.crop, np.tile(src.crop, (len(drv), 1))
    )  # the source's crop, not the driving's
    # frame 0 is the source itself; later frames add the driving's change since its first frame
    np.testing.assert_allclose(out.descriptor_rows()[0], src.descriptor_rows(), atol=1e-6)
    np.testing.assert_allclose(out.expression - src.expression, drv.expression - drv.expression[0], atol=1e-5)
    np.testing.assert_allclose(out.angles - src.angles, drv.angles - drv.angles[0], atol=1e-6)
    np.testing.assert_allclose(
        out.translation - src.translation, drv.translation - drv.translation[0], atol=1e-6
    )


def test_relative_motion_absolute_mode_and_parts():
    src, drv = _source(), _driving()
    out = relative_motion(src, drv, parts="all", mode="absolute")
    np.testing.assert_allclose(out.expression, drv.expression, atol=1e-6)
    np.testing.assert_allclose(out.angles, drv.angles, atol=1e-6)
    # the translation baseline stays the source's: the head keeps its place in the source crop
    np.testing.assert_allclose(out.translation[0], src.translation, atol=1e-6)
    pose_only = relative_motion(src, drv, parts=("pose",))
    np.testing.assert_allclose(pose_only.expression, np.tile(src.expression, (len(drv), 1)), atol=1e-6)
    exp_only = relative_motion(src, drv, parts=["expression"])
    np.testing.assert_allclose(exp_only.angles, np.tile(src.angles, (len(drv), 1)), atol=1e-6)
    with pytest.raises(InputError):
        relative_motion(src, drv, parts=("nose",))
    with pytest.raises(InputError):
        relative_motion(src, drv, parts=())
    with pytest.raises(InputError):
        relative_motion(src, drv, mode="sideways")
    with pytest.raises(FaceModelMismatchError):
        relative_motion(src.replace(face_model=BFM_DEEP3D), drv)


def _rms(d: np.ndarray, idx: np.ndarray) -> float:
    """RMS length over frames and points of (T, N, 3) displacements at points `idx`."""
    return float(np.sqrt((d[:, idx] ** 2).sum(axis=-1).mean()))


def test_mouth_and_eyes_transfer_move_only_their_region(model):
    src, drv = _source(), _driving(40)
    lips, eyes, upper = mesh_regions()["lips"], _eyes(model), np.concatenate([_eyes(model), _brows()])

    def change(parts):  # (T, N, 3) displacement from the source's expression, frames 1..T-1
        out = relative_motion(src, drv, parts=parts).expression[1:] - src.expression
        return np.stack([model.expression_displacement(e) for e in out])

    full, mouth, eyes_only = change(("expression",)), change(("mouth",)), change(("eyes",))
    # mouth: the lips follow the driving, eyes and brows move far less than in the full change
    assert _rms(mouth - full, lips) < 0.3 * _rms(full, lips)
    assert _rms(mouth, upper) < 0.2 * _rms(full, upper)
    # eyes: the eyes follow, the lips barely move
    assert _rms(eyes_only - full, eyes) < 0.3 * _rms(full, eyes)
    assert _rms(eyes_only, lips) < 0.1 * _rms(full, lips)
    both = change(("mouth", "eyes"))
    assert _rms(both - full, np.concatenate([lips, eyes])) < 0.3 * _rms(full, np.concatenate([lips, eyes]))


def test_region_projector_for_the_bfm(test_data):

    bfm = BFMFaceModel.from_mat(test_data / "synthetic_BFM_model_front.mat")
    proj = expression_region_projector(bfm, ("mouth",))
    assert proj.shape == (64, 64) and np.all(np.isfinite(proj))
    rng = np.random.default_rng(0)
    src = FaceCoefficients(
        BFM_DEEP3D, rng.normal(size=64), np.zeros(3), np.zeros(3), np.array([1.0, 112, 112])
    )
    drv = MotionSequence(
        BFM_DEEP3D, rng.normal(size=(4, 64)), np.zeros((4, 3)), np.zeros((4, 3)), np.ones((4, 3))
    )
    with pytest.raises(FaceModelNotInstalledError, match="BFM_model_front.mat"):  # none given: not installed
        relative_motion(src, drv, parts=("mouth",))
    out = relative_motion(src, drv, parts=("mouth",), face_model=bfm)
    np.testing.assert_allclose(out.expression[0], src.expression, atol=1e-5)
    assert not np.allclose(out.expression[1], src.expression)
    with pytest.raises(InputError):
        expression_region_projector(bfm, ("nose",))


def test_lip_gap_of_landmarks():
    lm = np.zeros((2, 478, 3))
    lm[:, 33, 0], lm[:, 263, 0] = 0.0, 100.0
    lm[0, 14, 1] = 30.0
    np.testing.assert_allclose(lip_gap(lm), [0.3, 0.0])
    with pytest.raises(InputError):
        lip_gap(np.zeros((10, 3)))


# --------------------------------------------------------------------------------------------
# Real talking clips (default backend)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_analyses(shared_data):
    with DefaultBackend() as backend:
        out = {}
        for name in TALKING_CLIPS:
            path = shared_data / "videos" / name
            out[name] = (path, backend.analyze_video(path, max_seconds=3.0))
        yield backend, out


@pytest.mark.realdata
@pytest.mark.slow
def test_real_clip_is_cropped_from_one_fixed_box(clip_analyses):
    _, analyses = clip_analyses
    path, analysis = analyses[TALKING_CLIPS[0]]
    frames, info = read_video(path, max_seconds=3.0)
    t = len(frames)
    assert t == 75 and analysis.fps == pytest.approx(info.fps)
    assert analysis.crops.shape == (t, 256, 256, 3) and analysis.crop_landmarks.shape == (t, 478, 3)
    assert len(analysis.motion) == len(analysis.raw_motion) == t
    assert analysis.motion.expression.shape == (t, 32) and analysis.motion.identity.shape == (16,)
    assert analysis.source_path == path and analysis.missing_frames == ()
    for i in (0, t // 2, t - 1):  # every crop comes from the same transform
        np.testing.assert_array_equal(analysis.crops[i], crop_face(frames[i], analysis.crop_transform))
    inside = analysis.crop_landmarks[..., :2]
    assert inside.min() > 0 and inside.max() < 256


@pytest.mark.realdata
@pytest.mark.slow
def test_real_clip_smoothing_reduces_jitter_and_keeps_the_mouth(clip_analyses):
    backend, analyses = clip_analyses
    for name, (_, analysis) in analyses.items():
        raw, smooth = analysis.raw_motion, analysis.motion
        ratio = frame_jitter(smooth.angles) / frame_jitter(raw.angles)
        assert ratio < 0.4, f"{name}: pose jitter only reduced to {ratio:.2f}"
        assert frame_jitter(smooth.translation) < 0.5 * frame_jitter(raw.translation)
        mouth_raw = mouth_opening(backend.model, raw.expression)
        mouth_smooth = mouth_opening(backend.model, smooth.expression)
        assert np.corrcoef(mouth_raw, mouth_smooth)[0, 1] > 0.95, name
        # the fitted mouth opening follows the lip gap the detector saw
        gap = lip_gap(analysis.crop_landmarks)
        assert np.corrcoef(gap, mouth_smooth)[0, 1] > 0.85, name


@pytest.mark.realdata
@pytest.mark.slow
def test_open_vs_closed_mouth_differs_mainly_in_the_mouth(clip_analyses):
    """The expression change between the widest and narrowest lip gap of a clip moves the mouth, not the eyes."""
    backend, analyses = clip_analyses
    model = backend.model
    mouth_area, eyes = _mouth_area(model), _eyes(model)
    for name, (path, analysis) in analyses.items():
        gap = lip_gap(analysis.crop_landmarks)
        wide, closed = int(np.argmax(gap)), int(np.argmin(gap))
        assert gap[wide] - gap[closed] > 0.15, f"{name}: the clip shows too little mouth motion"
        # video path: identity fixed for the clip
        change = analysis.raw_motion.expression[wide] - analysis.raw_motion.expression[closed]
        energy = (model.expression_displacement(change) ** 2).sum(axis=1)
        share, eye_share = energy[mouth_area].sum() / energy.sum(), energy[eyes].sum() / energy.sum()
        assert share > 0.5 and share > 6 * eye_share, f"{name}: mouth {share:.2f}, eyes {eye_share:.3f}"
        assert mouth_opening(model, change)[0] > 0.4 * (gap[wide] - gap[closed])
        # photo path: the two frames analysed as separate photos (identity fitted per photo)
        frames, _ = read_video(path, max_seconds=3.0)
        a_wide, a_closed = backend.analyze_photo(frames[wide]), backend.analyze_photo(frames[closed])
        change = a_wide.coefficients.expression - a_closed.coefficients.expression
        energy = (model.expression_displacement(change) ** 2).sum(axis=1)
        share, eye_share = energy[mouth_area].sum() / energy.sum(), energy[eyes].sum() / energy.sum()
        assert share > 0.35 and share > 2 * eye_share, (
            f"{name} (photos): mouth {share:.2f}, eyes {eye_share:.3f}"
        )
        assert mouth_opening(model, change)[0] > 0


def test_gaze_travels_with_all_and_eyes_not_with_expression():
    src, drv = _source(), _driving()
    track = np.stack([np.linspace(0.1, 0.7, len(drv)), np.linspace(-0.2, 0.1, len(drv))], axis=1)
    drv = MotionSequence(
        drv.face_model, drv.expression, drv.angles, drv.translation, drv.crop, fps=30.0, gaze=track
    )
    for parts in ("all", ("eyes",), ("gaze",), ("expression", "eyes")):
        out = relative_motion(src, drv, parts=parts)
        np.testing.assert_allclose(out.gaze, track - track[0], atol=1e-6)  # relative: from the first frame
    for parts in (("expression",), ("expression", "pose"), ("pose",), ("mouth",)):
        assert relative_motion(src, drv, parts=parts).gaze is None  # the photo's own gaze stays
    looking = src.replace(gaze=np.array([0.5, 0.0], np.float32))
    np.testing.assert_allclose(relative_motion(looking, drv, parts=("mouth",)).gaze, [[0.5, 0.0]] * len(drv))
    clamped = relative_motion(looking, drv, parts="all").gaze
    assert clamped.max() <= 1.0 and clamped[-1, 0] == pytest.approx(1.0)  # 0.5 + 0.6, clamped
    # absolute: the driving's gaze minus the photo's own, measured the same way
    absolute = relative_motion(src, drv, parts="all", mode="absolute", source_gaze=np.array([0.1, -0.1]))
    np.testing.assert_allclose(absolute.gaze, track - [0.1, -0.1], atol=1e-6)


def test_smoothing_keeps_the_gaze_track():
    t = 60
    rng = np.random.default_rng(3)
    saccade = np.where(np.arange(t) < 30, -0.5, 0.5)
    gaze = np.stack([saccade + rng.normal(scale=0.05, size=t), np.zeros(t)], axis=1)
    motion = MotionSequence(
        DEFAULT_FACE_MODEL,
        np.zeros((t, 4)),
        np.zeros((t, 3)),
        np.zeros((t, 3)),
        np.ones((t, 3)),
        fps=25.0,
        gaze=gaze,
    )
    smooth = smooth_motion(motion).gaze
    assert frame_jitter(smooth[:25]) < 0.5 * frame_jitter(gaze[:25])  # landmark jitter removed
    assert smooth[5, 0] < -0.4 and smooth[-5, 0] > 0.4  # the look itself is kept
