"""Tests of pipeline/eyes.py: the gaze read from face-mesh landmarks (synthetic eyes, and a real
portrait whose gaze the product edits)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from pipeline import EditRequest, EngineRegistry, SourceState, edit
from pipeline.eyes import CLOSED_EYE, GAZE_REACH, gaze_from_landmarks
from reconstruction.detection import FaceDetector


def _face(
    iris_shift: tuple[float, float] = (0.0, 0.0), tilt: float = 0.0, open_gap: float = 0.3
) -> np.ndarray:
    """(478, 3) landmarks with two 30-px-wide eyes; the irises shifted by `iris_shift` eye widths
    (x right, y up) and everything rotated by `tilt` radians about the face's centre."""
    lm = np.zeros((478, 3))
    lm[:, :2] = 100.0
    width = 30.0
    for (a, b, upper, lower), iris, cx in zip(
        ((33, 133, 159, 145), (362, 263, 386, 374)), (468, 473), (70, 130), strict=True
    ):
        lm[a, :2], lm[b, :2] = (cx - width / 2, 100), (cx + width / 2, 100)
        lm[upper, :2], lm[lower, :2] = (cx, 100 - open_gap * width / 2), (cx, 100 + open_gap * width / 2)
        lm[iris, :2] = (cx + iris_shift[0] * width, 100 - iris_shift[1] * width)
    c, s = np.cos(tilt), np.sin(tilt)
    lm[:, :2] = (lm[:, :2] - 100) @ np.array([[c, s], [-s, c]]) + 100
    return lm


def test_gaze_is_the_iris_offset_in_slider_units():
    np.testing.assert_allclose(gaze_from_landmarks(_face()), [0.0, 0.0], atol=1e-9)
    shift = (0.1, -0.07)
    expected = np.array(shift) / np.array(GAZE_REACH)  # (0.5, -0.5)
    np.testing.assert_allclose(gaze_from_landmarks(_face(shift)), expected, atol=1e-9)
    # a tilted head reads the same; a batch of frames gives one gaze per frame
    np.testing.assert_allclose(gaze_from_landmarks(_face(shift, tilt=0.3)), expected, atol=1e-9)
    batch = np.stack([_face(), _face(shift)])
    np.testing.assert_allclose(gaze_from_landmarks(batch), [[0.0, 0.0], expected], atol=1e-9)


def test_closed_eyes_and_missing_faces_have_no_gaze():
    assert np.isnan(gaze_from_landmarks(_face((0.1, 0.0), open_gap=0.5 * CLOSED_EYE))).all()
    assert np.isnan(gaze_from_landmarks(np.full((478, 3), np.nan))).all()
    one_closed = _face((0.1, 0.0))
    one_closed[386, 1] = one_closed[374, 1] = 100.0  # the image-right eye shut: the other one counts
    np.testing.assert_allclose(gaze_from_landmarks(one_closed), [0.5, 0.0], atol=1e-9)
    with pytest.raises(InputError):
        gaze_from_landmarks(np.zeros((468, 2)))  # no iris points


def _redetected_gaze(image: np.ndarray) -> np.ndarray:
    with FaceDetector(search_small_faces=False, max_faces_limit=1) as detector:
        return gaze_from_landmarks(detector.detect_one(image).face.landmarks)


@pytest.mark.slow
def test_a_gaze_edit_reads_back_with_its_sign(state: SourceState, registry: EngineRegistry) -> None:
    """Round trip: the product moves the irises (gaze_x = +-0.8), the face mesh re-detects them and
    the transfer's measure reads the same direction, about half as far (the mesh's iris points lag
    the iris, and its eye corners follow it a little)."""
    before = _redetected_gaze(state.crop)
    for value in (0.8, -0.8):
        crop = edit(state, EditRequest({"gaze_x": value}, engine="preview"), registry=registry).crop
        change = _redetected_gaze(crop) - before
        assert np.sign(change[0]) == np.sign(value) and 0.2 < abs(change[0]) < 1.0, change
        assert abs(change[1]) < 0.5 * abs(change[0])
