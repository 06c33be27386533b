"""A face seen from the side: the tear figure, the turn limits and what the user is told."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL, FaceCoefficients, MotionSequence
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.advice import side_view_advice
from pipeline.face_mesh import projector_for
from pipeline.photo import target_coefficients
from pipeline.side_view import (
    PROFILE_DEGREES,
    SIDE_VIEW_DEGREES,
    TEAR_SHARE,
    hold_motion,
    photo_depth,
    tear_share,
    turn_limits,
)
from reconstruction.controls import control_set_for
from tests.conftest import random_face


def _pose(yaw_degrees: float) -> FaceCoefficients:
    angles = np.radians([0.0, yaw_degrees, 0.0])
    return FaceCoefficients(DEFAULT_FACE_MODEL, np.zeros(32), angles, np.zeros(3), np.zeros(3))


def test_only_a_side_view_is_limited_and_never_towards_the_camera() -> None:
    assert turn_limits(_pose(0.0)) is None and turn_limits(_pose(SIDE_VIEW_DEGREES)) is None
    left = turn_limits(_pose(-62.0))  # facing the picture's left: positive yaw turns it back
    assert left is not None and (left.lowest, left.highest) == (pytest.approx(62.0 - PROFILE_DEGREES), 0.0)
    assert (left.towards, left.away) == (0.0, pytest.approx(PROFILE_DEGREES - 62.0))
    assert left.clip(30.0) == 0.0 and left.clip(-30.0) == pytest.approx(62.0 - PROFILE_DEGREES)
    right = turn_limits(_pose(45.0))
    assert right is not None and (right.lowest, right.highest) == (0.0, right.slider_range)
    assert right.clip(-15.0) == 0.0 and right.clip(15.0) == 15.0


def test_a_driven_side_view_keeps_each_frame_within_its_turn_limits() -> None:
    yaws = np.radians([-100.0, -80.0, -62.0, -40.0, 0.0])
    angles = np.stack([np.full(5, 0.1), yaws, np.zeros(5)], axis=1)
    zeros = np.zeros((5, 3))
    motion = MotionSequence(DEFAULT_FACE_MODEL, np.zeros((5, 32)), angles, zeros, zeros)
    held = hold_motion(motion, _pose(-62.0))
    assert np.degrees(held.angles[:, 1]) == pytest.approx(
        [-PROFILE_DEGREES, -80.0, -62.0, -62.0, -62.0], abs=1e-4
    )
    assert np.array_equal(held.angles[:, [0, 2]], motion.angles[:, [0, 2]])
    assert hold_motion(motion, _pose(10.0)) is motion


def test_a_face_shows_nothing_hidden_until_it_turns_its_hidden_half_into_view() -> None:
    projector = projector_for(DEFAULT_FACE_MODEL)
    triangles, size = projector.layout.triangles, (256, 256)
    photo = random_face(3, [0.0, -60.0, 0.0], [0.0, 0.0, 0.0]).replace(crop=np.array([0.0, 0.0, 0.0]))
    source = projector.project(photo, photo.identity, size)
    depth = photo_depth(source, triangles, size)
    same = tear_share(source, source, triangles, size, depth)
    back = photo.replace(angles=np.radians([0.0, -20.0, 0.0]).astype(np.float32))
    turned = tear_share(source, projector.project(back, photo.identity, size), triangles, size, depth)
    assert same <= TEAR_SHARE < turned


def test_advice_names_the_limits() -> None:
    note = side_view_advice(_pose(-62.0)) or ""
    assert "held at 0 towards the camera (yaw positive)" in note
    assert f"{PROFILE_DEGREES - 62.0:.0f} degrees away" in note and "tears" in note
    assert "degrees away" not in (side_view_advice(_pose(50.0)) or "")  # the slider cannot pass profile


@pytest.mark.realdata
def test_prnet_3_tears_on_main_and_not_once_limited(shared_data: Path) -> None:
    """The photo of the fault: a profile (yaw -62). As asked, yaw 30 and -30 show surface the photo
    hides (the tear figure flags them); held within the limits they do not, and the user is told."""
    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "YadiraF__PRNet__3.jpg", registry=registry)
    model = registry.backend(state.backend).model
    projector, controls = projector_for(model), control_set_for(model)
    coeffs, size = state.coefficients, state.crop.shape[:2]
    source = projector.project(coeffs, coeffs.identity, size)
    depth = photo_depth(source, projector.layout.triangles, size)

    def share(target: FaceCoefficients) -> float:
        points = projector.project(target, coeffs.identity, size)
        return tear_share(source, points, projector.layout.triangles, size, depth)

    for yaw in (30.0, -30.0):
        assert share(controls.apply(coeffs, {"yaw": yaw})) > TEAR_SHARE
        limited = target_coefficients(state, EditRequest({"yaw": yaw}), registry=registry)
        assert share(limited) <= TEAR_SHARE
    toward = target_coefficients(state, EditRequest({"yaw": 30.0}), registry=registry)
    assert toward.angles_degrees[1] == pytest.approx(coeffs.angles_degrees[1], abs=1e-3)
    result = edit(state, EditRequest({"yaw": 30.0}, engine="preview"), registry=registry)
    assert np.array_equal(result.full_image, state.image)  # held at the photo's own pose
    assert any("held at 0 towards the camera" in note for note in state.advice())


@pytest.mark.realdata
def test_a_frontal_photo_is_turned_as_asked_and_does_not_tear(shared_data: Path) -> None:
    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img1.jpg", registry=registry)
    model = registry.backend(state.backend).model
    projector, controls = projector_for(model), control_set_for(model)
    coeffs, size = state.coefficients, state.crop.shape[:2]
    asked = controls.apply(coeffs, {"yaw": 30.0})
    got = target_coefficients(state, EditRequest({"yaw": 30.0}), registry=registry)
    assert np.array_equal(got.angles, asked.angles) and np.array_equal(got.translation, asked.translation)
    source = projector.project(coeffs, coeffs.identity, size)
    points = projector.project(asked, coeffs.identity, size)
    assert tear_share(source, points, projector.layout.triangles, size) <= TEAR_SHARE
