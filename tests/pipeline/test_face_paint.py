"""The mouth and eye parts of the geometric renderer on synthetic drawings: 2-D helpers, reading
the photo's mouth interior, teeth hanging from the lips, the painted gap, lids and gaze flows."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.eyes import analyse_eye, refine_eye_flow, shut_opening
from pipeline.face_paint import apply_affine, box_around, curve_y, paint_lash_line, similarity_2d
from pipeline.mouth import LIP_SEAM, MouthMotion, analyse_mouth, mouth_source, refine_mouth_flow
from pipeline.mouth_paint import paint_mouth
from reconstruction.overlay import photo_alpha

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


def test_upper_teeth_down_to_the_lower_lip_hang_from_the_upper_lip() -> None:
    """A smile whose upper teeth reach the lower lip, under the upper lip's shadow: no gap between
    rows of teeth, so all of the opening hangs from the upper lip (the shadow was taken for the
    gap before, and the teeth dropped with the jaw)."""
    image = np.full((128, 128, 3), (190, 140, 120), np.uint8)
    upper, lower = _lips(12.0)
    ys, xs = np.arange(128)[:, None], np.arange(128)[None, :]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inside = (ys > top) & (ys < bottom) & (xs > 40) & (xs < 88)
    image[inside] = (230, 225, 215)
    image[inside & (ys < top + 2.5)] = (70, 40, 40)  # the upper lip's shadow over the teeth's roots
    interior = analyse_mouth(image, upper, lower)
    assert interior.split[len(interior.split) // 2] > 0.95, interior.split


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
    # The flow only changes inside the opening and in a seam under the lower lip, where the
    # opening's mapping fades into the lip's; the painted gap lies between the two parts.
    flow = np.full((128, 128, 2), 7.0, np.float32)
    refine_mouth_flow(flow, MouthMotion(interior, source, target))
    ys, xs = np.nonzero(np.any(flow != 7.0, axis=2))
    seam = LIP_SEAM * float(np.ptp(target[0][:, 0]))
    assert np.all(ys >= target[0][:, 1].min() - 1) and np.all(ys <= target[1][:, 1].max() + 1 + seam)
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


def _edge_bends(alpha: np.ndarray) -> np.ndarray:
    """|second difference| (pixels) of the row where each column of `alpha` first reaches 0.5."""
    above = alpha >= 0.5
    first = np.argmax(above, axis=0)
    cols = np.arange(alpha.shape[1])
    before, at = alpha[np.maximum(first - 1, 0), cols], alpha[first, cols]
    rim = first - 1 + (0.5 - before) / np.maximum(at - before, 1e-6)
    return np.abs(np.diff(rim[above.any(axis=0)], 2))


def test_the_painted_gaps_rim_is_smooth_at_twelve_times_the_crop() -> None:
    """The gap's coverage, taken to a photo 12 times the crop, has a rim without the crop's pixel
    steps on its top, bottom and sides; the overlay holds the gap's own colour up to its rim."""
    image, source = _smile_with_teeth()
    mouth = MouthMotion(analyse_mouth(image, *source), source, _lips(30.0, centre_y=70.0))
    out, cover, paint = image.copy(), np.zeros((128, 128), np.float32), image.copy()
    paint_mouth(out, cover, mouth, face_size=100.0, exposure=1.0, paint=paint)
    ys, xs = np.nonzero(cover > 0.0)
    x0, y0 = xs.min() - 2, ys.min() - 2
    patch = np.ascontiguousarray(cover[y0 : ys.max() + 3, x0 : xs.max() + 3])
    scale = 12.0
    size = (int(patch.shape[1] * scale), int(patch.shape[0] * scale))
    to_crop = np.array([[1 / scale, 0.0, 0.5 / scale - 0.5], [0.0, 1 / scale, 0.5 / scale - 0.5]])
    up = photo_alpha(patch, to_crop, size, scale)
    width = up.shape[1]
    middle = slice(int(0.15 * width), int(0.85 * width))
    for rim in (up[:, middle], up[::-1, middle]):  # the top and the bottom of the gap
        assert _edge_bends(rim).max() < 1.5
    tall = np.nonzero((up >= 0.5).sum(axis=1) > 0)[0]
    rows = slice(tall[len(tall) // 4], tall[3 * len(tall) // 4])
    for rim in (up[rows].T, up[rows, ::-1].T):  # the left and right ends
        assert _edge_bends(rim).max() < 1.5
    ramp = (up > 0.05) & (up < 0.95)
    assert np.count_nonzero(ramp[:, width // 2]) <= 2 * 4  # sharp: about a photo pixel per rim
    rim = (cover > 0.0) & (cover < 0.5)
    assert paint[rim].mean() < 0.6 * image[rim].mean()  # the gap's colour, not the lips'


def test_a_shut_lid_gets_a_lash_line_along_its_edge() -> None:
    upper, lower = _lips(12.0, centre_y=32.0)  # an eye 48 px wide, 12 px open
    image = np.full((64, 128, 3), (200, 160, 140), np.uint8)
    ys, cols = np.mgrid[0:64, 0:128]
    image[(ys > curve_y(upper, cols)) & (ys < curve_y(lower, cols))] = (240, 240, 240)
    lashes = (np.abs(ys - curve_y(upper, cols) + 1.5) < 1.0) & (cols > 42) & (cols < 86)
    image[lashes] = (30, 20, 20)
    shut = lower - [0.0, 0.5]
    assert shut_opening((upper, lower), (upper, lower), (64, 128)) is None  # an open eye hides nothing
    hidden = shut_opening((upper, lower), (shut, lower), (64, 128))
    assert hidden is not None and hidden[32, 64] == 1.0 and hidden[20, 64] == 0.0
    flow = np.zeros((64, 128, 2), np.float32)
    refine_eye_flow(flow, None, (upper, lower), (shut, lower))
    out, cover, paint = image.copy(), np.zeros((64, 128), np.float32), image.copy()
    paint_lash_line(out, cover, paint, image, flow, hidden)
    line = cover[:, 64] > 0.5
    assert 1 <= line.sum() <= 4  # a line, not a band
    edge = np.nonzero(line)[0].mean()
    # where the lid meets the lower lid (a shut lid reaches a fifth of the opening past the fitted one)
    assert -1.0 < edge - curve_y(lower, np.array([64.0]))[0] < 1.0 + 0.2 * 12.0 + 1.5
    assert paint[cover > 0.5].max() < 80 and out[line, 64].max() < 120  # the lashes' dark colour


def test_teeth_met_by_the_lower_lip_are_not_cut_in_two() -> None:
    """Upper teeth under the upper lip, met by the lower lip with no dark gap, the inner lip lines
    drawn loosely around them (lip above and below the teeth inside the opening). The darkest row
    of the opening's middle is then the ramp from the upper lip into the teeth, no gap: taken for
    one, the split cut the teeth in two and the jaw dropped their lower half (a black zig-zag band
    through a tilted smile's teeth)."""
    image = np.full((128, 128, 3), (190, 140, 120), np.uint8)
    upper, lower = _lips(14.0)
    ys, xs = np.arange(128)[:, None], np.arange(128)[None, :]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inside = (ys > top) & (ys < bottom) & (xs > 40) & (xs < 88)
    depth = (ys - top) / np.maximum(bottom - top, 1.0)  # 0 at the upper inner lip, 1 at the lower
    image[inside] = (150, 80, 85)  # lip inside the loosely drawn lines
    image[inside & (depth > 0.32) & (depth < 0.95)] = (230, 225, 215)
    interior = analyse_mouth(image, upper, lower)
    assert interior.split.min() > 0.9, interior.split  # 0.29 across the mouth before
