"""Hands in a photo: MediaPipe's hand landmarks, kept only when the mirrored photo confirms them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from reconstruction.hands import HandDetector


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_no_hand_in_a_plain_image_and_a_closed_detector_refuses() -> None:
    with HandDetector() as detector:
        assert detector.hands(np.full((128, 128, 3), 128, np.uint8)) == []
        with pytest.raises(InputError, match="uint8"):
            detector.hands(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(InputError, match="closed"):
        detector.hands(np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(InputError, match="min_confidence"):
        HandDetector(min_confidence=1.5)


@pytest.mark.realdata
def test_a_hand_under_the_chin_is_found(shared_data: Path) -> None:
    image = _read(shared_data / "images" / "dchen236__FairFace__race_Asian.jpg")
    with HandDetector() as detector:
        hands = detector.hands(image)
    assert len(hands) == 1 and hands[0].shape == (21, 2) and hands[0].dtype == np.float64
    h, w = image.shape[:2]
    wrist = hands[0][0]
    assert 0 <= wrist[0] < w and h / 2 < wrist[1] < h  # the hand lies in the lower half


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["deepinsight__insightface__Tom_Hanks_54745.png", "sicxu__Deep3DFaceRecon_pytorch__vd025.png"]
)
def test_a_face_read_as_a_hand_is_not_confirmed_by_the_mirror(shared_data: Path, name: str) -> None:
    """MediaPipe's palm detector reads a nose and mouth (Tom Hanks) or an ear (vd025) as a hand;
    in the mirrored photo it does not."""
    with HandDetector() as detector:
        assert detector.hands(_read(shared_data / "images" / name)) == []
