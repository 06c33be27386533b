from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.face_paint import hull_mask
from pipeline.other_faces import still_weight
from pipeline.photo import Canvas
from reconstruction.crop import CropTransform
from reconstruction.detection import DetectedFace


def _face(cx: float, cy: float, r: float, index: int) -> DetectedFace:
    angles = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    points = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles), np.zeros(478)], axis=1)
    return DetectedFace.from_landmarks(points.astype(np.float32), index=index)


def _analysis(*faces: DetectedFace) -> SimpleNamespace:
    """Photo = crop (identity transform, 256 px); the first face is the edited one."""
    transform = CropTransform(
        affine=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), crop_size=256, original_size=(256, 256)
    )
    detection = SimpleNamespace(face=faces[0], faces=faces)
    return SimpleNamespace(detection=detection, crop_transform=transform, crop_landmarks=faces[0].landmarks)


def test_one_face_makes_no_weight():
    assert still_weight(_analysis(_face(128, 128, 60, 0))) is None
    assert still_weight(SimpleNamespace()) is None


def test_another_face_is_held_and_the_edited_one_is_not():
    weight = still_weight(_analysis(_face(160, 128, 60, 0), _face(40, 128, 30, 1)))
    assert weight is not None and weight.shape == (256, 256) and weight.dtype == np.float32
    assert 0.0 <= weight.min() and weight.max() <= 1.0
    assert weight[128, 40] == 0.0  # the other face's centre
    assert weight[128, 160] == 1.0  # the edited face's centre
    assert weight[128, 100:150].min() == 1.0  # all of the edited face up to its rim
    assert np.all(np.diff(weight[128, 40:100]) >= 0)  # rising between the two, no step back


def test_a_face_beyond_the_crop_is_ignored():
    assert still_weight(_analysis(_face(128, 128, 60, 0), _face(900, 128, 60, 1))) is None


def _own_pixels(face: DetectedFace, others: list[DetectedFace], shape: tuple[int, int]) -> np.ndarray:
    own = hull_mask(face.landmarks[:, :2], shape) > 0
    for other in others:
        own &= hull_mask(other.landmarks[:, :2], shape) == 0
    return own


@pytest.mark.realdata
def test_a_neighbour_cheek_to_cheek_stays_still(shared_data):
    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "deepinsight__insightface__7242.jpg", registry=registry)
    detection = state.analysis.detection
    neighbour = next(f for f in detection.faces if f.index != detection.face.index)
    pixels = _own_pixels(neighbour, [detection.face], state.image.shape[:2])
    plain = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)
    request = EditRequest({"yaw": -30.0})
    held = edit(state, request, registry=registry).full_image
    dragged = edit(state, request, registry=registry, canvas=plain).full_image

    def error(image: np.ndarray) -> float:
        return float(np.abs(image[pixels].astype(np.int16) - state.image[pixels]).mean())

    assert error(dragged) > 3.0  # without the hold the neighbour was pulled along (18.5 dB)
    assert error(held) < 0.05


@pytest.mark.realdata
def test_a_photo_of_one_face_is_not_held(shared_data):
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img1.jpg", registry=EngineRegistry())
    assert state.still_weight() is None
