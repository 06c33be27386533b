"""Semantic controls: the slider table, exact reset, composition, head pose, presets,
interpolation, and that each expression direction moves its own landmarks (default model and BFM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from core.errors import FaceModelMismatchError, InputError
from reconstruction.controls import (
    CONTROL_NAMES,
    CONTROL_SPECS,
    EXPRESSION_CONTROLS,
    GAZE_CONTROLS,
    PRESETS,
    ControlSet,
    control_set_for,
    interpolate,
    preset_values,
)
from reconstruction.face_model import load_default_face_model
from tests.conftest import random_face

HEAD_NAMES = ("yaw", "pitch", "roll", "move_x", "move_y", "scale")
CONTRACT_NAMES = (
    *HEAD_NAMES,
    "smile",
    "open_mouth",
    "wide_mouth",
    "round_lips",
    "raise_brows",
    "frown",
    "close_eyes",
    "wink_left",
    "wink_right",
    "gaze_x",
    "gaze_y",
)


@pytest.fixture(scope="module")
def controls() -> ControlSet:
    return control_set_for(DEFAULT_FACE_MODEL)


@pytest.fixture(scope="module")
def coeffs() -> FaceCoefficients:
    return random_face(0, [5.0, -3.0, 1.0], [0.02, -0.05, 0.15])


@pytest.fixture(scope="module")
def bfm(test_data: Path):
    from reconstruction.bfm import BFMFaceModel

    return BFMFaceModel.from_mat(test_data / "synthetic_BFM_model_front.mat")


def test_the_table_is_declared_once_with_the_contract_names() -> None:
    assert set(CONTRACT_NAMES) <= set(CONTROL_NAMES)
    assert len(set(CONTROL_NAMES)) == len(CONTROL_NAMES)
    for spec in CONTROL_SPECS:
        assert spec.group in ("head", "expression")
        assert spec.minimum <= spec.default == 0.0 <= spec.maximum and spec.step > 0
        assert spec.label and spec.description
    assert {s.name for s in CONTROL_SPECS if s.group == "head"} == set(HEAD_NAMES)


def test_all_zero_returns_the_original_exactly(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    assert controls.apply(coeffs, {}) is coeffs
    assert controls.apply(coeffs, dict.fromkeys(CONTROL_NAMES, 0.0)) is coeffs
    assert controls.apply(coeffs, {}, raw_expression_offset=np.zeros(32)) is coeffs
    edited = controls.apply(coeffs, {"smile": 0.7, "yaw": 10})
    assert edited is not coeffs and not np.array_equal(edited.expression, coeffs.expression)
    np.testing.assert_array_equal(
        coeffs.expression, FaceCoefficients(**{**coeffs.__dict__}).expression
    )  # untouched


def test_controls_compose_and_raw_offset_adds(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    both = controls.apply(coeffs, {"smile": 0.6, "raise_brows": -0.4})
    expected = (
        coeffs.expression + 0.6 * controls.directions["smile"] - 0.4 * controls.directions["raise_brows"]
    )
    np.testing.assert_allclose(both.expression, expected, atol=1e-5)
    offset = np.linspace(-1, 1, 32)
    raw = controls.apply(coeffs, {"smile": 0.6}, raw_expression_offset=offset)
    np.testing.assert_allclose(
        raw.expression, coeffs.expression + 0.6 * controls.directions["smile"] + offset, atol=1e-5
    )
    np.testing.assert_array_equal(both.angles, coeffs.angles)
    np.testing.assert_array_equal(both.translation, coeffs.translation)


def test_bad_values_are_refused(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    with pytest.raises(InputError, match="unknown control"):
        controls.apply(coeffs, {"grin": 1.0})
    with pytest.raises(InputError, match="must be in"):
        controls.apply(coeffs, {"open_mouth": 2.0})
    with pytest.raises(InputError, match="finite"):
        controls.apply(coeffs, {"smile": float("nan")})
    with pytest.raises(InputError, match="raw_expression_offset"):
        controls.apply(coeffs, {}, raw_expression_offset=np.ones(5))
    with pytest.raises(FaceModelMismatchError):
        controls.apply(coeffs.replace(face_model=BFM_DEEP3D), {"smile": 1.0})


def test_head_controls_default_model(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    out = controls.apply(coeffs, {"yaw": 15, "pitch": -5, "roll": 3})
    np.testing.assert_allclose(out.angles_degrees - coeffs.angles_degrees, [-5, 15, 3], atol=1e-4)
    moved = controls.apply(coeffs, {"move_x": 10, "move_y": 5, "scale": 20})
    tx, ty, tz = coeffs.translation.astype(np.float64)
    np.testing.assert_allclose(moved.translation, [tx + 0.2, ty - 0.1, tz + np.log(1.2)], atol=1e-6)
    np.testing.assert_array_equal(moved.expression, coeffs.expression)


def test_the_head_turns_about_the_neck(controls: ControlSet, coeffs: FaceCoefficients, bfm) -> None:
    """Yaw/pitch/roll keep the pivot (behind the ears, top of the neck) where it was in the picture,
    and move the face the way a real head turn does (positive yaw: nose and face to the right)."""
    from core.geometry import euler_to_matrix
    from reconstruction.fitting import pose_to_image

    def placed(c: FaceCoefficients, point: np.ndarray) -> np.ndarray:
        scale, rot, t = pose_to_image(
            c.angles.astype(np.float64), c.translation.astype(np.float64), (256, 256)
        )
        return scale * rot @ point + t

    pivot = np.asarray(controls.pivot)
    assert pivot[2] < -0.5  # well behind the eyes (model units ~ eye-corner distance)
    turned = controls.apply(coeffs, {"yaw": 15, "pitch": -8, "roll": 5})
    np.testing.assert_allclose(placed(turned, pivot)[:2], placed(coeffs, pivot)[:2], atol=0.05)  # pixels
    right = controls.apply(coeffs, {"yaw": 15})
    assert right.translation[0] > coeffs.translation[0] + 0.05  # the face moves with the turn
    # The BFM (perspective camera, world = R X + t): the pivot stays put in the world.
    bfm_controls = control_set_for(bfm)
    c = FaceCoefficients(
        BFM_DEEP3D,
        np.zeros(64),
        np.radians([3.0, -4.0, 1.0]),
        np.array([0.1, 0.2, 0.5]),
        np.array([1.0, 128, 128]),
    )
    out = bfm_controls.apply(c, {"yaw": 20, "pitch": 10})
    world = lambda k: euler_to_matrix(k.angles.astype(np.float64)) @ bfm_controls.pivot + k.translation  # noqa: E731
    np.testing.assert_allclose(world(out), world(c), atol=1e-4)


def test_head_controls_bfm_keep_the_face_centre_when_scaling(bfm) -> None:
    from reconstruction.bfm import CAMERA_DISTANCE, FOCAL

    controls = control_set_for(bfm)
    c = FaceCoefficients(
        BFM_DEEP3D, np.zeros(64), np.zeros(3), np.array([0.3, -0.2, 1.0]), np.array([1.0, 128, 128])
    )
    out = controls.apply(c, {"scale": 25})
    centre = lambda t: FOCAL * t[:2] / (CAMERA_DISTANCE - t[2])  # noqa: E731 - projected model origin
    np.testing.assert_allclose(centre(out.translation), centre(c.translation), atol=1e-3)
    size = lambda t: FOCAL / (CAMERA_DISTANCE - t[2])  # noqa: E731
    assert size(out.translation) / size(c.translation) == pytest.approx(1.25, rel=1e-5)
    right = controls.apply(c, {"move_x": 10, "move_y": 10})
    shift = centre(right.translation) - centre(c.translation)
    np.testing.assert_allclose(shift, [22.4, 22.4], atol=1e-3)  # 10 % of the 224-px frame; BFM y is up


def test_presets_and_neutral(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    assert {"neutral", "smile", "surprise", "aaa", "eee", "ooo"} <= set(PRESETS)
    for name in PRESETS:
        controls.apply(coeffs, preset_values(name))  # every preset is a valid setting
    neutral = controls.apply_preset(coeffs, "neutral")
    np.testing.assert_allclose(neutral.expression, 0.0, atol=1e-6)
    np.testing.assert_array_equal(neutral.angles, coeffs.angles)
    with pytest.raises(InputError, match="unknown preset"):
        preset_values("angry")


def test_interpolation_is_a_linear_morph(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    b = controls.apply(coeffs, {"smile": 1.0, "yaw": 20, "move_x": 5})
    clip = interpolate(coeffs, b, 5, fps=30)
    assert len(clip) == 5 and clip.fps == 30 and clip.face_model == DEFAULT_FACE_MODEL
    np.testing.assert_allclose(clip.frame(0).expression, coeffs.expression, atol=1e-6)
    np.testing.assert_allclose(clip.frame(4).angles, b.angles, atol=1e-6)
    np.testing.assert_allclose(clip.frame(2).translation, (coeffs.translation + b.translation) / 2, atol=1e-6)
    assert ControlSet.interpolate(coeffs, b, 3).expression.shape == (3, 32)
    with pytest.raises(InputError):
        interpolate(coeffs, b, 1)


def _motion(controls: ControlSet, name: str) -> np.ndarray:
    return controls.landmark_motion({name: 1.0})  # (68, 3) eye-distance units, y up


def test_mouth_directions_move_the_mouth(controls: ControlSet) -> None:
    opened = _motion(controls, "open_mouth")
    gap = opened[62, 1] - opened[66, 1]  # inner upper lip minus inner lower lip: grows when opening
    assert gap > 0.15
    assert abs(opened[8, 1]) < 0.5 * gap  # the chin is held
    smile = _motion(controls, "smile")
    assert smile[48, 1] > 0.08 and smile[54, 1] > 0.08  # corners up
    assert smile[48, 0] < -0.03 and smile[54, 0] > 0.03  # and out
    assert smile[57, 1] - smile[66, 1] > -0.01  # the lower lip does not swell into a pout (-0.069 before)
    width = lambda m: m[54, 0] - m[48, 0]  # noqa: E731 - change of the mouth's width
    assert width(_motion(controls, "wide_mouth")) > 0.1
    assert width(_motion(controls, "round_lips")) < -0.1


def test_eye_and_brow_directions(controls: ControlSet) -> None:
    closing = _motion(controls, "close_eyes")
    lid = lambda m, u, lo: m[u, 1] - m[lo, 1]  # noqa: E731 - change of the upper-to-lower lid height
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert lid(closing, upper, lower) < -0.05  # the mean face's lid gap is ~0.08
    brows = _motion(controls, "raise_brows")
    assert brows[17:27, 1].min() > 0.05 and brows[17:27, 1].mean() > 0.09
    frown = _motion(controls, "frown")
    assert frown[21, 1] < -0.03 and frown[22, 1] < -0.03 and frown[21, 0] > 0 and frown[22, 0] < 0
    # The brows leave the mouth and the eyes alone (the default model couples them with both):
    # lowered brows parted the lips over the teeth and, with the lips alone pinned, shut the eyes.
    for moved in (brows, frown):
        assert abs(np.mean([lid(moved, u, lo) for u, lo in ((61, 67), (62, 66), (63, 65))])) <= 0.005
        assert max(np.hypot(*moved[48, :2]), np.hypot(*moved[54, :2])) <= 0.01
        assert abs(lid(moved, 37, 41) + lid(moved, 38, 40)) / 2 <= 0.015
        assert abs(lid(moved, 43, 47) + lid(moved, 44, 46)) / 2 <= 0.015
    left, right = _motion(controls, "wink_left"), _motion(controls, "wink_right")
    left_eye = lambda m: lid(m, 37, 41) + lid(m, 38, 40)  # noqa: E731
    right_eye = lambda m: lid(m, 43, 47) + lid(m, 44, 46)  # noqa: E731
    # A wink shuts one eye (about the mean face's gap, ~0.07 per lid pair) and leaves the other
    # open, although the default model (learnt from talking videos) couples the eyes.
    assert left_eye(left) < -0.12 and right_eye(right) < -0.12
    assert abs(right_eye(left)) < 0.15 * abs(left_eye(left))
    assert abs(left_eye(right)) < 0.15 * abs(right_eye(right))


def test_winks_close_one_eye_of_the_mesh(controls: ControlSet) -> None:
    """Closure of each eye on the full mesh (the lid curves the preview paints from)."""
    from reconstruction.face_model import load_default_face_model

    model = load_default_face_model()
    lids = {
        "left": ([246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155]),
        "right": ([398, 384, 385, 386, 387, 388, 466], [382, 381, 380, 374, 373, 390, 249]),
    }
    mean = np.asarray(model.mean, dtype=np.float64)

    def closure(values: dict[str, float], side: str) -> float:
        shape = model.shape(np.zeros(model.num_identity), controls.expression_offset(values))
        upper, lower = lids[side]
        gap = lambda p: float(np.mean(p[upper, 1] - p[lower, 1]))  # noqa: E731 - y up: positive when open
        return 1.0 - gap(shape) / gap(mean)

    for own, other in (("left", "right"), ("right", "left")):
        wink = {f"wink_{own}": 1.0}
        assert closure(wink, own) > 0.9, (own, closure(wink, own))
        assert abs(closure(wink, other)) < 0.15, (other, closure(wink, other))
    both = {"close_eyes": 1.0}
    assert closure(both, "left") > 0.9 and closure(both, "right") > 0.9


def test_each_control_moves_mainly_its_own_landmarks(controls: ControlSet) -> None:
    groups = {
        "mouth": list(range(48, 68)),
        "eyes": list(range(36, 48)),
        "brows": list(range(17, 27)),
    }
    own = {
        "smile": "mouth",
        "open_mouth": "mouth",
        "wide_mouth": "mouth",
        "round_lips": "mouth",
        "raise_brows": "brows",
        "frown": "brows",
        "close_eyes": "eyes",
    }
    for name, group in own.items():
        m = np.linalg.norm(_motion(controls, name), axis=1)
        mean = {g: m[idx].mean() for g, idx in groups.items()}
        others = max(v for g, v in mean.items() if g != group)
        assert mean[group] > 1.5 * others, (name, mean)


def test_directions_are_cached_read_only_and_finite(controls: ControlSet) -> None:
    assert control_set_for(load_default_face_model()) is controls
    assert set(controls.directions) == set(EXPRESSION_CONTROLS)
    for d in controls.directions.values():
        assert d.shape == (32,) and np.all(np.isfinite(d)) and not d.flags.writeable


def test_bfm_control_set_smoke(bfm) -> None:
    controls = control_set_for(bfm)
    assert controls.face_model == BFM_DEEP3D and controls.num_expression == 64
    assert control_set_for(bfm) is controls
    c = FaceCoefficients(
        BFM_DEEP3D, np.zeros(64), np.zeros(3), np.array([0.0, 0.0, 1.0]), np.array([1.0, 128, 128])
    )
    assert controls.apply(c, {}) is c
    out = controls.apply(c, {"open_mouth": 1.0, "yaw": 10})
    np.testing.assert_allclose(out.expression, controls.directions["open_mouth"], atol=1e-5)
    for name, d in controls.directions.items():
        assert d.shape == (64,) and np.all(np.isfinite(d)), name
    with pytest.raises(InputError, match="BFMFaceModel"):
        control_set_for(BFM_DEEP3D)


# --- gaze --------------------------------------------------------------------------------------


def test_gaze_controls_set_the_gaze_and_nothing_else(controls: ControlSet, coeffs: FaceCoefficients) -> None:
    assert set(GAZE_CONTROLS) == {"gaze_x", "gaze_y"} and not set(GAZE_CONTROLS) & set(EXPRESSION_CONTROLS)
    looked = controls.apply(coeffs, {"gaze_x": 0.5, "gaze_y": -1.0})
    np.testing.assert_allclose(looked.gaze, [0.5, -1.0])
    np.testing.assert_array_equal(looked.expression, coeffs.expression)
    np.testing.assert_array_equal(looked.angles, coeffs.angles)
    assert controls.apply(coeffs, {"gaze_x": 0.0}) is coeffs
    # Relative to the record's own gaze, clipped to the eye's reach.
    again = controls.apply(looked, {"gaze_x": 0.75})
    np.testing.assert_allclose(again.gaze, [1.0, -1.0])
    with pytest.raises(InputError, match="gaze_x"):
        controls.apply(coeffs, {"gaze_x": 1.5})


def test_gaze_travels_with_records_and_sequences(coeffs: FaceCoefficients, tmp_path: Path) -> None:
    looking = coeffs.replace(gaze=np.array([0.2, -0.4]))
    assert FaceCoefficients.from_dict(looking.to_dict()).gaze.tolist() == pytest.approx([0.2, -0.4])
    clip = interpolate(coeffs, looking, 3)
    np.testing.assert_allclose(clip.gaze, [[0.0, 0.0], [0.1, -0.2], [0.2, -0.4]], atol=1e-6)
    np.testing.assert_allclose(clip.frame(2).gaze, [0.2, -0.4], atol=1e-6)
    clip.save_npz(str(tmp_path / "clip.npz"))
    np.testing.assert_allclose(MotionSequence.load_npz(str(tmp_path / "clip.npz")).gaze, clip.gaze)
    assert interpolate(coeffs, coeffs, 2).gaze is None
    with pytest.raises(InputError, match="gaze"):
        coeffs.replace(gaze=np.array([0.1, 0.2, 0.3]))


def test_a_wink_keeps_the_lips_shut(controls: ControlSet) -> None:
    """The inner lips' opening barely changes with a wink (it parted them by a third of the eye's
    closing before they were pinned: a dark sliver painted between the lips)."""
    lip = lambda m: sum(m[u, 1] - m[lo, 1] for u, lo in ((61, 67), (62, 66), (63, 65)))  # noqa: E731
    eye = lambda m, pairs: sum(m[u, 1] - m[lo, 1] for u, lo in pairs)  # noqa: E731
    for side, pairs in (("left", ((37, 41), (38, 40))), ("right", ((43, 47), (44, 46)))):
        motion = _motion(controls, f"wink_{side}")
        assert abs(lip(motion)) < 0.05 * abs(eye(motion, pairs)), (side, lip(motion), eye(motion, pairs))


@pytest.fixture(scope="module")
def pucker() -> ControlSet:
    from reconstruction.control_directions import DerivationSettings, geometry_of

    return ControlSet(geometry_of(load_default_face_model()), DerivationSettings(pucker=True))


def test_the_pucker_keeps_the_lips_shut_and_draws_the_corners_in_and_down(pucker: ControlSet) -> None:
    m = _motion(pucker, "round_lips")
    gap = np.mean([m[u, 1] - m[lo, 1] for u, lo in ((61, 67), (62, 66), (63, 65))])
    assert gap <= 0.0  # pressed together, where main's opens by 0.17
    assert m[48, 0] > 0.06 and m[54, 0] < -0.06  # corners in
    assert m[48, 1] < -0.02 and m[54, 1] < -0.02  # and down (main's rise 0.06)
    assert m[51, 1] - m[62, 1] > 0.03 and m[66, 1] - m[57, 1] > 0.03  # the lips' red fuller


def test_the_pucker_switch_changes_round_lips_alone(controls: ControlSet, pucker: ControlSet) -> None:
    for name, direction in controls.directions.items():
        same = np.array_equal(direction, pucker.directions[name])
        assert same == (name != "round_lips"), name


@pytest.mark.realdata
@pytest.mark.slow
def test_the_pucker_opens_no_slot_on_real_photos(shared_data: Path, monkeypatch) -> None:
    """Round lips 1 re-detected by MediaPipe: the inner-lip gap over the mouth width grows by at most
    0.06 (main: +0.55 on people_0, +0.24 on carell), and the mouth narrows (docs/CONTROLS.md, round 3).
    With `pucker=False` (main's target) it fails."""
    import dataclasses

    from benchmarks.pucker_sheet import mouth_measures
    from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
    from reconstruction import controls as controls_module
    from reconstruction.detection import FaceDetector

    settings = dataclasses.replace(controls_module.DEFAULT_SETTINGS, pucker=True)
    monkeypatch.setattr(controls_module, "DEFAULT_SETTINGS", settings)
    controls_module._CACHE.clear()
    registry, detector = EngineRegistry(fast=False), FaceDetector()
    try:
        for name in ("OpenTalker__SadTalker__people_0.png", "cmusatyalab__openface__carell.jpg"):
            state = prepare_photo(shared_data / "images" / name, registry=registry)
            image = edit(state, EditRequest(values={"round_lips": 1.0}, engine="preview"), registry=registry)
            before = mouth_measures(detector.detect_one(state.image).face.landmarks)
            after = mouth_measures(detector.detect_one(image.full_image).face.landmarks)
            assert after["gap"] - before["gap"] <= 0.06, name
            assert after["width"] < 0.94 * before["width"], name
    finally:
        detector.close()
        controls_module._CACHE.clear()
