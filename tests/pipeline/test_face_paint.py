"""The mouth and eye parts of the geometric renderer on synthetic drawings: 2-D helpers, reading
the photo's mouth interior, teeth hanging from the lips, the painted gap, lids and gaze flows."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.eyes import analyse_eye, refine_eye_flow
from pipeline.face_paint import apply_affine, box_around, curve_y, similarity_2d
from pipeline.mouth import MouthMotion, analyse_mouth, mouth_source, paint_mouth, refine_mouth_flow

XS = np.linspace(40.0, 88.0, 9)


def _lips(gap: float, centre_y: float = 64.0) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) inner lip curves (9, 2) meeting at the corners, `gap` px apart mid-mouth."""
    bulge = gap / 2.0 * np.sin(np.linspace(0.0, np.pi, len(XS)))
    return np.stack([XS, centre_y - bulge], axis=1), np.stack([XS, centre_y + bulge], axis=1)


def _smile_with_teeth() -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A 128 px skin image whose 12 px mouth opening shows white upper teeth over a dark gap."""
    image = np.full((128, 128, 3), (190, 140, 120), np.uint8)
    upper, lower = _lips(12.0)
    ys = np.arange(128)[:, None]
    xs = np.arange(128)[None, :]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inside = (ys > top) & (ys < bottom) & (xs > 40) & (xs < 88)
    image[inside & (ys < 64 + 2)] = (230, 225, 215)  # upper teeth down to 2 px below the middle
    image[inside & (ys >= 64 + 2)] = (30, 12, 14)  # the dark gap above the lower lip
    return image, (upper, lower)


def test_helpers() -> None:
    curve = np.array([[0.0, 0.0], [10.0, 10.0]])
    np.testing.assert_allclose(curve_y(curve, np.array([-5.0, 5.0, 20.0])), [0.0, 5.0, 10.0])
    sim = similarity_2d(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 3.0]]))
    np.testing.assert_allclose(apply_affine(sim, np.array([[0.5, 0.0]])), [[1.0, 2.0]], atol=1e-12)
    assert box_around(np.array([[5.0, 5.0], [7.0, 9.0]]), (8, 8), pad=1) == (4, 4, 8, 8)
    assert box_around(np.array([[50.0, 50.0]]), (8, 8), pad=1) is None


def test_the_photos_interior_is_read() -> None:
    image, (upper, lower) = _smile_with_teeth()
    interior = analyse_mouth(image, upper, lower)
    assert interior.teeth is not None and interior.teeth.min() > 200
    assert interior.cavity is not None and interior.cavity.max() < 60
    assert not interior.lower_teeth
    mid = interior.split[len(interior.split) // 2]
    assert mid > 0.8, interior.split  # the teeth and the dark gap hang from the upper lip
    closed = analyse_mouth(image, *_lips(0.0))
    assert closed.teeth is None and np.all(closed.split == 0.5)


def test_teeth_hang_from_the_upper_lip_when_the_mouth_opens() -> None:
    image, source = _smile_with_teeth()
    interior = analyse_mouth(image, *source)
    target = _lips(30.0, centre_y=70.0)  # opened, the jaw dropped
    px, py = np.meshgrid(np.arange(40.0, 89.0), np.arange(40.0, 100.0))
    sx, sy, inside = mouth_source(px, py, MouthMotion(interior, source, target))
    # Just under the target's upper lip, mid-mouth, the photo is read just under its upper lip.
    row = int(np.argmin(np.abs(py[:, 0] - (curve_y(target[0], np.array([64.0]))[0] + 2.0))))
    assert abs(sy[row, 24] - (curve_y(source[0], np.array([64.0]))[0] + 2.0)) < 1.0
    assert inside[row, 24] == 1.0 and inside[0, 24] == 0.0
    # The flow only changes inside the opening; the painted gap lies between the two parts.
    flow = np.full((128, 128, 2), 7.0, np.float32)
    refine_mouth_flow(flow, MouthMotion(interior, source, target))
    ys, xs = np.nonzero(np.any(flow != 7.0, axis=2))
    assert np.all(ys >= target[0][:, 1].min() - 1) and np.all(ys <= target[1][:, 1].max() + 1)
    out, cover = image.copy(), np.zeros((128, 128), np.float32)
    paint_mouth(out, cover, MouthMotion(interior, source, target), face_size=100.0, exposure=1.0)
    column = cover[:, 64]
    painted = np.nonzero(column > 0.5)[0]
    assert len(painted) > 5
    top_t = curve_y(target[0], np.array([64.0]))[0]
    assert painted.min() > top_t + 0.8 * 12.0 / 2.0  # below the kept teeth
    assert out[painted, 64].mean() < 140  # a dark cavity, not skin


def test_closing_a_mouth_the_photo_shows_open_stays_finite() -> None:
    image, source = _smile_with_teeth()
    interior = analyse_mouth(image, *source)
    flow = np.zeros((128, 128, 2), np.float32)
    refine_mouth_flow(
        flow, MouthMotion(interior, source, _lips(0.0))
    )  # the lips meet where the photo's were apart
    assert np.all(np.isfinite(flow))
    px, py = np.meshgrid(np.arange(40.0, 89.0), np.arange(50.0, 80.0))
    sx, sy, _ = mouth_source(px, py, MouthMotion(interior, source, _lips(0.3)))
    assert np.all(np.isfinite(sx)) and np.all(np.isfinite(sy))


def test_lids_close_with_the_photos_skin_and_the_iris_follows_the_gaze() -> None:
    image = np.full((64, 96, 3), (200, 160, 140), np.uint8)
    xs = np.linspace(28.0, 68.0, 9)
    bulge = 6.0 * np.sin(np.linspace(0.0, np.pi, 9))
    upper, lower = np.stack([xs, 32.0 - bulge], axis=1), np.stack([xs, 32.0 + bulge], axis=1)
    ys, cols = np.mgrid[0:64, 0:96]
    opening = (ys > curve_y(upper, cols)) & (ys < curve_y(lower, cols))
    image[opening] = (240, 240, 240)
    image[opening & ((cols - 48) ** 2 + (ys - 32) ** 2 < 49)] = (40, 60, 90)  # the iris
    iris = analyse_eye(image, upper, lower)
    assert iris is not None and abs(iris.centre[0] - 48) < 1.0 and abs(iris.centre[1] - 32) < 1.5
    # Gaze to the picture's right: the flow reads the iris from the left (backward flow < 0).
    flow = np.zeros((64, 96, 2), np.float32)
    refine_eye_flow(flow, iris, (upper, lower), (upper, lower), gaze=np.array([1.0, 0.0]))
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert flow[32, 52, 0] < -3.0 and np.all(flow[~near] == 0.0)
    # Shut: every pixel of the opening reads the skin above the lid.
    flow = np.zeros((64, 96, 2), np.float32)
    shut = np.stack([xs, 32.0 + bulge - 0.5], axis=1)
    refine_eye_flow(flow, iris, (upper, lower), (shut, lower))
    src_y = ys + flow[..., 1]
    inner = opening & (cols > 31) & (cols < 65)
    assert np.all(src_y[inner] < curve_y(upper, cols[inner]))
