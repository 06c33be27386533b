"""Tests of pipeline/eyes.py: the gaze read from face-mesh landmarks (synthetic eyes, and a real
portrait whose gaze the product edits); opening eyes that are shut in the photo; shutting eyes
with dark lashes (a lid and a lash line, not the lashes stretched into a black band); shutting an
eye the photo shows nearly shut (a squint closes where it is: one lash line, the brow kept)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.squint_shut_sheet import runs
from core.errors import InputError
from pipeline import EditRequest, EngineRegistry, SourceState, edit, prepare_photo
from pipeline.eyes import (
    CLOSED_EYE,
    DETECTED_GAZE_GAIN,
    GAZE_REACH,
    SQUINT_EYE,
    STRAIGHT_AHEAD,
    Iris,
    gaze_from_landmarks,
    lash_heights,
    paint_opened_eye,
    refine_eye_flow,
)
from pipeline.face_paint import curve_y
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
    expected = np.array(shift) / (np.array(GAZE_REACH) * np.array(DETECTED_GAZE_GAIN))  # (1.0, -0.5)
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
    np.testing.assert_allclose(gaze_from_landmarks(one_closed), [1.0, 0.0], atol=1e-9)
    with pytest.raises(InputError):
        gaze_from_landmarks(np.zeros((468, 2)))  # no iris points


def _redetected_gaze(image: np.ndarray) -> np.ndarray:
    with FaceDetector(search_small_faces=False, max_faces_limit=1) as detector:
        return gaze_from_landmarks(detector.detect_one(image).face.landmarks)


@pytest.mark.slow
def test_a_gaze_edit_reads_back_with_its_sign(state: SourceState, registry: EngineRegistry) -> None:
    """Round trip: the product moves the irises (gaze_x = +-0.8), the face mesh re-detects them and
    the transfer's measure reads the same direction and about as far (`DETECTED_GAZE_GAIN` undoes the
    mesh's under-reading: its iris points lag the iris, and its eye corners follow it a little)."""
    before = _redetected_gaze(state.crop)
    for value in (0.8, -0.8):
        crop = edit(state, EditRequest({"gaze_x": value}, engine="preview"), registry=registry).crop
        change = _redetected_gaze(crop) - before
        assert np.sign(change[0]) == np.sign(value) and 0.5 < abs(change[0]) / abs(value) < 1.5, change
        assert abs(change[1]) < 0.5 * abs(change[0])


def _lids(cx: float, cy: float, width: float, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) lid curves (9, 2) of an almond eye `width` wide, lid gap `gap` at its middle."""
    x = np.linspace(cx - width / 2, cx + width / 2, 9)
    bulge = 1.0 - ((x - cx) / (width / 2)) ** 2
    return np.stack([x, cy - 0.5 * gap * bulge], axis=1), np.stack([x, cy + 0.5 * gap * bulge], axis=1)


def _skin(value: float) -> np.ndarray:
    return np.full((96, 96, 3), [value, 0.8 * value, 0.7 * value], np.uint8)


def test_a_shut_eye_that_opens_is_painted_inside_the_target_lids():
    shut, opened = _lids(48, 40, 40, 0.05 * 40), _lids(48, 40, 40, 0.35 * 40)
    out, cover = _skin(200), np.zeros((96, 96), np.float32)
    paint_opened_eye(out, cover, None, (shut, opened))
    assert cover[40, 48] == pytest.approx(1.0) and cover[40, 20] == 0.0 and cover[60, 48] == 0.0
    luma = out.astype(np.float64) @ [0.299, 0.587, 0.114]
    assert luma[40, 48] < 40  # the pupil, in the middle (looking ahead)
    assert luma[42, 35] > 120  # the white beside the iris
    # a darker face gets a darker eye white; nothing is painted for an eye the photo shows, or a
    # target that stays shut
    dark, dark_cover = _skin(90), np.zeros((96, 96), np.float32)
    paint_opened_eye(dark, dark_cover, None, (shut, opened))
    assert (dark.astype(np.float64) @ [0.299, 0.587, 0.114])[42, 35] < 0.7 * luma[42, 35]
    for iris, target in ((Iris(np.array([48.0, 40.0]), 8.0), opened), (None, shut)):
        blank = np.zeros((96, 96), np.float32)
        paint_opened_eye(_skin(200), blank, iris, (shut, target))
        assert blank.max() == 0.0


def test_the_gaze_moves_the_painted_iris():
    shut, opened = _lids(48, 40, 40, 0.05 * 40), _lids(48, 40, 40, 0.35 * 40)
    centres = []
    for gaze in (np.array([-1.0, 0.0]), np.array([1.0, 0.0])):
        out = _skin(200)
        paint_opened_eye(out, np.zeros((96, 96), np.float32), None, (shut, opened), gaze)
        row = out[40].astype(np.float64) @ [0.299, 0.587, 0.114]
        centres.append(int(np.argmin(row)))
    assert centres[0] < 48 - 4 and centres[1] > 48 + 4


def test_opening_a_shut_eye_lifts_its_lashes():
    """The flow above the opened eye reads the photo's lid from lower down (its lashes), and
    below it the lower lid's skin from the lashes down: nothing of the shut eye is left."""
    shut, opened = _lids(48, 40, 40, 0.05 * 40), _lids(48, 40, 40, 0.35 * 40)
    flow = np.zeros((96, 96, 2), np.float32)
    refine_eye_flow(flow, None, shut, opened)
    top = int(np.floor(opened[0][4, 1]))  # just above the target's upper lid, mid-eye
    assert top - 1 + flow[top - 1, 48, 1] > shut[0][4, 1]  # reads the photo's lashes, below its lid line
    bottom = int(np.ceil(opened[1][4, 1]))
    lashes = shut[1][4, 1] + 0.08 * 40  # a shut eye's lashes hang over its lower lid
    assert bottom + 1 + flow[bottom + 1, 48, 1] >= lashes - 1e-3  # the lower lid's skin, from below them
    assert np.abs(flow[5:15, 48]).max() == 0.0  # the brow stays


SHUT_EYES = "images/deepinsight__insightface__close_eyes.jpeg"


def _eye_openings(image: np.ndarray) -> np.ndarray:
    """(2,) lid gap / eye width of each eye of the face re-detected in `image`."""
    with FaceDetector(search_small_faces=False, max_faces_limit=1) as detector:
        lm = detector.detect_one(image).face.landmarks[:, :2]
    return np.array(
        [
            np.linalg.norm(lm[u] - lm[lo]) / np.linalg.norm(lm[a] - lm[b])
            for a, b, u, lo in ((33, 133, 159, 145), (362, 263, 386, 374))
        ]
    )


@pytest.mark.realdata
@pytest.mark.slow
def test_a_photo_with_shut_eyes_opens_them(shared_data, registry: EngineRegistry) -> None:
    """A real photo with closed eyes: the neutral expression opens them with a painted eye (the
    face mesh finds open eyes with an iris looking ahead), the photo's own look keeps them shut."""
    state = prepare_photo(shared_data / SHUT_EYES, registry=registry)
    assert _eye_openings(state.crop).max() < CLOSED_EYE
    same = edit(state, EditRequest({}, engine="preview"), registry=registry).crop
    assert _eye_openings(same).max() < CLOSED_EYE
    opened = edit(state, EditRequest({"neutralise": 1.0}, engine="preview"), registry=registry).crop
    assert _eye_openings(opened).min() > 0.2
    gaze = _redetected_gaze(opened) - np.array(STRAIGHT_AHEAD)
    assert abs(gaze[0]) < 0.3, gaze


def test_lash_heights_find_the_dark_run_above_the_lid() -> None:
    """A dark run 3 rows high above a lid line in lit skin is found (to a pixel) in the lid's middle
    and fades out at its corners; skin alone and a shadowed, not dark, margin have no lashes."""
    upper = np.stack([np.linspace(20.0, 60.0, 9), np.full(9, 50.0)], axis=1)
    skin = np.full((100, 80, 3), 170, np.uint8)
    lashes = skin.copy()
    lashes[47:51, 15:66] = 20  # rows 47-50: the lashes down to the lid line (y = 50)
    heights = lash_heights(lashes, upper)
    assert np.all(np.abs(heights[3:6] - 3.5) <= 1.0), heights
    assert heights[0] == heights[-1] == 0.0
    assert np.all(lash_heights(skin, upper) == 0.0)
    shadow = skin.copy()
    shadow[47:51, 15:66] = 110  # a margin in shadow: 0.65 of the skin, not lashes
    assert np.all(lash_heights(shadow, upper) == 0.0)


def _dark_band(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """Photo pixels per column (median over the middle 60 % of the eye) inside the shut lid (the
    photo's opening and 0.1 eye widths above it) darker than halfway between the photo's lashes
    (10th percentile above the lid line) and its lid skin (0.1-0.4 eye widths up)."""
    width = float(np.ptp(upper[:, 0]))
    x0, x1 = int(upper[:, 0].min()), int(upper[:, 0].max()) + 1
    y0, y1 = int(upper[:, 1].min() - 0.45 * width), int(lower[:, 1].max()) + 1
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    middle = np.abs(xs - 0.5 * (x0 + x1)) < 0.4 * width
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    before, after = (im[y0:y1, x0:x1].astype(np.float32) @ luma for im in (image, out))
    lash = np.percentile(before[(ys > top - 0.1 * width) & (ys <= top) & middle], 10)
    skin = np.median(before[(ys > top - 0.4 * width) & (ys < top - 0.1 * width) & middle])
    dark = (after < 0.5 * (lash + skin)) & (ys > top - 0.1 * width) & (ys < bottom)
    return float(np.median(dark[:, (np.abs(xs - 0.5 * (x0 + x1)) < 0.3 * width)[0]].sum(axis=0)))


@pytest.mark.realdata
@pytest.mark.slow
def test_shut_eyes_with_mascara_show_a_lid_not_a_black_band(shared_data, registry: EngineRegistry) -> None:
    """deepface img3 (mascara): shut, each eye shows its lid skin down to the lash line; the lashes
    above its lid line are not stretched over the lid into a black band (it was 18-24 photo px)."""
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img3.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    out = edit(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry).full_image
    for u, lo in engine.renderer.projector.layout.eyes:
        upper, lower = (state.crop_transform.inverse_points(points[i, :2]) for i in (u, lo))
        assert _dark_band(state.image, out, upper, lower) <= 4.0


def test_a_squint_closes_where_it_is() -> None:
    """An eye 0.2 eye widths open (a squint) shuts with its upper lid where it is (the skin above
    the lid line reads itself: no crease or brow drawn down onto the lash line) and the skin under
    its lower lid risen to meet it; without `squint` its upper lid is drawn down as before."""
    photo, target = _lids(48, 40, 40, 0.2 * 40), _lids(48, 40, 40, 0.0)
    iris = Iris(np.array([48.0, 40.0]), 8.0)
    lid, low = photo[0][4, 1], photo[1][4, 1]
    flows = []
    for squint in (True, False):
        flow = np.zeros((96, 96, 2), np.float32)
        refine_eye_flow(flow, iris, photo, target, squint=squint)
        flows.append(flow)
    above = slice(int(lid - 0.3 * 40), int(lid) - 1)  # the lid's skin up to its crease
    assert np.abs(flows[0][above, 48]).max() < 1e-4
    first = int(np.ceil(lid)) + 1  # the first row under the closed lids' line
    assert first + flows[0][first, 48, 1] >= low  # reads the lower lid, from below its line
    assert flows[1][above, 48, 1].min() < -1.0  # main's: the skin above drawn down from higher up
    half = np.zeros((96, 96, 2), np.float32)
    refine_eye_flow(half, iris, photo, _lids(48, 40, 40, 0.1 * 40), squint=True)  # half shut
    assert np.abs(half[int(np.ceil(lid)) + 1, 48]).max() < 1e-4  # the eyeball under the lid still shows


def test_an_open_eye_is_not_a_squint() -> None:
    """An eye the photo shows open (0.3 eye widths, above `SQUINT_EYE`) shuts as before, and an eye
    that stays nearly open (a wink's other eye closes by about 0.12) is left as before too."""
    iris = Iris(np.array([48.0, 40.0]), 8.0)
    for photo, target in (
        (_lids(48, 40, 40, 0.3 * 40), _lids(48, 40, 40, 0.0)),
        (_lids(48, 40, 40, 0.2 * 40), _lids(48, 40, 40, 0.88 * 0.2 * 40)),
    ):
        flows = []
        for squint in (True, False):
            flow = np.zeros((96, 96, 2), np.float32)
            refine_eye_flow(flow, iris, photo, target, squint=squint)
            flows.append(flow)
        np.testing.assert_array_equal(flows[0], flows[1])
    assert 0.2 < SQUINT_EYE < 0.3


@pytest.mark.realdata
@pytest.mark.slow
def test_a_laughing_squint_shuts_with_one_lash_line(shared_data, registry: EngineRegistry) -> None:
    """insightface happy.png (a laugh, eyes squeezed to slits), close_eyes 1: per column across each
    shut eye one dark run (the lash line), not the crease drawn down beside it (main: 2 on both)."""
    state = prepare_photo(shared_data / "images" / "deepinsight__insightface__happy.png", registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    out = edit(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry).full_image
    for u, lo in engine.renderer.projector.layout.eyes:
        upper, lower = (state.crop_transform.inverse_points(points[i, :2]) for i in (u, lo))
        assert runs(state.image, out, upper, lower) <= 1.0


def _largest_step_above(flow: np.ndarray, lid: float, width: float) -> float:
    """The flow's largest step between neighbouring pixels over the skin 0.15-0.8 eye widths above
    the lid line (y = `lid`), both axes, both components."""
    box = flow[int(lid - 0.8 * width) : int(lid - 0.15 * width)]
    return float(max(np.abs(np.diff(box, axis=0)).max(), np.abs(np.diff(box, axis=1)).max()))


@pytest.mark.parametrize("gap", [0.3, 0.2])  # an open eye, and a squint (`_close_squint`)
def test_a_closing_lid_meets_a_lowered_brow_without_a_tear(gap: float) -> None:
    """The face's flow lowers everything above the eye by 5 px (a wink lowers its brow): with
    `follow` the shutting lid's band meets it at its top and corners (steps under 1 photo px per
    px); without, the band held in the eye's frame tears from it (docs/LID_FAULTS.md)."""
    photo, target = _lids(48, 50, 40, gap * 40), _lids(48, 50, 40, 0.0)
    iris = Iris(np.array([48.0, 50.0]), 8.0)
    steps = {}
    for follow in (False, True):
        flow = np.zeros((96, 96, 2), np.float32)
        flow[..., 1] = -5.0
        refine_eye_flow(flow, iris, photo, target, squint=True, follow=follow)
        steps[follow] = _largest_step_above(flow, float(photo[0][0, 1]), 40.0)
    assert steps[False] > 1.5, steps
    assert steps[True] < 1.0, steps


@pytest.mark.realdata
@pytest.mark.slow
def test_a_wink_under_a_low_brow_keeps_the_brow_whole(shared_data, registry: EngineRegistry) -> None:
    """RenYurui's squinting frame under low brows: a wink on either eye lowers the brow without a
    tear (main cut the brow as a dark box between the eye's corners: tear contrast 139 and 89)."""
    from benchmarks.lid_faults_measure import FAULTS, flow_seam  # noqa: PLC0415
    from pipeline.photo import target_coefficients  # noqa: PLC0415

    state = prepare_photo(shared_data / "images" / FAULTS[0], registry=registry)
    engine = registry.geometric(state.backend)
    prepared = state.engine_state(engine)
    for k, name in enumerate(("wink_left", "wink_right")):
        target = target_coefficients(state, EditRequest({name: 1.0}, engine="preview"), registry=registry)
        frame = engine.renderer.render_frame(prepared, target)
        upper = prepared.points[engine.renderer.projector.layout.eyes[k][0], :2]
        assert flow_seam(frame.flow, frame.crop, upper) < 30.0, name
