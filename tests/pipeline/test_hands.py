"""Hands at the face: found once per photo (`covering_hands`) and told to the user."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline import EngineRegistry, prepare_photo
from pipeline.hands import MIN_PALM, covering_hands
from reconstruction.crop import CropTransform


class _Detector:
    """Stands in for `HandDetector`: reports the given hands (pixels of the image it is shown)."""

    def __init__(self, *hands: np.ndarray) -> None:
        self._hands = list(hands)
        self.seen: list[tuple[int, ...]] = []

    def hands(self, image: np.ndarray) -> list[np.ndarray]:
        self.seen.append(image.shape)
        return [h.copy() for h in self._hands]


def _analysis() -> SimpleNamespace:
    """A 256 px photo that is its own crop, with a round face of radius 60 at its centre."""
    angles = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    face = np.stack([128 + 60 * np.cos(angles), 128 + 60 * np.sin(angles), np.zeros(478)], axis=1)
    transform = CropTransform(
        affine=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), crop_size=256, original_size=(256, 256)
    )
    image = np.full((256, 256, 3), 128, np.uint8)
    return SimpleNamespace(image=image, crop_transform=transform, crop_landmarks=face)


def _hand(wrist: tuple[float, float], palm: float) -> np.ndarray:
    """(21, 2) points of an upright hand: the wrist, then the fingers above it."""
    x, y = wrist
    points = [(x, y)] + [
        (x + dx, y - palm * (0.6 + 0.2 * k)) for dx in (-20, -10, 0, 10, 20) for k in range(4)
    ]
    return np.array(points, np.float64)


def test_a_hand_touching_the_face_is_found_and_others_are_not() -> None:
    analysis = _analysis()
    touching = _hand((128, 250), 60)  # under the chin, reaching up over it
    far = _hand((20, 250), 60)  # beside the face, well below and away from it
    tiny = _hand(
        (128, 150), MIN_PALM * 120 * 0.5
    )  # a "palm" far smaller than the face: a nostril read as a hand
    detector = _Detector(touching, far, tiny)
    found = covering_hands(analysis, detector)
    assert len(found) == 1 and np.allclose(found[0], touching)
    assert detector.seen == [(256, 256, 3)]  # the region around the face, here the whole photo


def test_no_hand_and_nothing_to_search_give_none() -> None:
    assert covering_hands(_analysis(), _Detector()) == ()
    assert covering_hands(SimpleNamespace(), _Detector(_hand((128, 250), 60))) == ()


@pytest.mark.realdata
def test_a_hand_under_the_chin_is_found_and_told(shared_data: Path) -> None:
    state = prepare_photo(
        shared_data / "images" / "dchen236__FairFace__race_Asian.jpg", registry=EngineRegistry()
    )
    assert len(state.hands) == 1 and state.hands[0].shape == (21, 2)
    face_bottom = state.crop_transform.inverse_points(state.analysis.crop_landmarks[:, :2])[:, 1].max()
    assert state.hands[0][0, 1] > face_bottom  # its wrist hangs below the chin
    assert any("A hand covers or touches part of the face" in note for note in state.advice())


@pytest.mark.realdata
def test_a_portrait_without_a_hand_gets_no_hand(shared_data: Path) -> None:
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img1.jpg", registry=EngineRegistry())
    assert state.hands == () and not any("hand" in note for note in state.advice())
