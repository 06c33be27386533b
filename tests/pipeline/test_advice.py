"""Notes for photos the renderer can only edit badly: side views and covered mouths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.coefficients import DEFAULT_FACE_MODEL, FaceCoefficients
from pipeline import EngineRegistry, prepare_photo
from pipeline.advice import (
    SIDE_VIEW_DEGREES,
    THREE_QUARTER_DEGREES,
    covered_mouth_advice,
    hand_advice,
    photo_advice,
    side_view_advice,
    three_quarter_advice,
)


def _pose(yaw_degrees: float) -> FaceCoefficients:
    angles = np.radians([0.0, yaw_degrees, 0.0])
    return FaceCoefficients(DEFAULT_FACE_MODEL, np.zeros(32), angles, np.zeros(3), np.zeros(3))


def test_a_side_view_gets_advice_and_a_frontal_face_none() -> None:
    assert side_view_advice(_pose(0.0)) is None and side_view_advice(_pose(-SIDE_VIEW_DEGREES)) is None
    for yaw in (-52.0, 61.0):
        advice = side_view_advice(_pose(yaw))
        assert (
            advice is not None
            and f"turned {abs(yaw):.0f} degrees" in advice
            and "facing the camera" in advice
        )


def test_a_three_quarter_view_is_told_which_turn_stretches() -> None:
    """Between a three-quarter view and a side view the note names the yaw direction that turns the
    face back towards the camera (the photo's far cheek, which it hides, would be shown)."""
    assert three_quarter_advice(_pose(THREE_QUARTER_DEGREES)) is None
    assert three_quarter_advice(_pose(-SIDE_VIEW_DEGREES - 1.0)) is None  # the side-view note says it
    assert "yaw negative" in (three_quarter_advice(_pose(25.0)) or "")
    assert "yaw positive" in (three_quarter_advice(_pose(-30.0)) or "")


def test_a_hand_at_the_face_gets_a_note() -> None:
    assert hand_advice(0) is None
    note = hand_advice(1)
    assert note is not None and "hand" in note and "moves with the face" in note
    crop = np.full((256, 256, 3), 128, np.uint8)
    landmarks = np.full((478, 3), np.nan)
    assert photo_advice(_pose(0.0), crop, landmarks) == []
    assert photo_advice(_pose(0.0), crop, landmarks, hands=2) == [note]


def test_missing_landmarks_give_no_mouth_advice() -> None:
    crop = np.full((256, 256, 3), 128, np.uint8)
    assert covered_mouth_advice(crop, np.full((478, 3), np.nan)) is None


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "notes"),
    [
        ("deepinsight__insightface__left_face.jpeg", {"side"}),
        ("YadiraF__PRNet__image00251.jpg", {"side"}),
        ("deepinsight__insightface__mask.png", {"covered", "three"}),  # yaw -23
        ("serengil__deepface__img1.jpg", set()),
        ("sicxu__Deep3DFaceRecon_pytorch__015384.jpg", {"three"}),  # yaw -30: no side-view note
        ("YadiraF__DECA__teaser_1.jpg", {"three"}),  # yaw 25
        ("cmusatyalab__openface__carell.jpg", set()),  # a beard around the lips is not a cover
        ("sczhou__CodeFormer__Einstein01.png", set()),  # nor is a greyscale moustache
        ("dchen236__FairFace__race_Black.jpg", set()),
    ],
)
def test_real_photos_get_the_notes_that_apply(shared_data: Path, name: str, notes: set[str]) -> None:
    state = prepare_photo(shared_data / "images" / name, registry=EngineRegistry())
    said = state.advice()
    found = {
        key
        for key, word in (("side", "from the side"), ("three", "far cheek"), ("covered", "covered"))
        if any(word in n for n in said)
    }
    assert found == notes, said
