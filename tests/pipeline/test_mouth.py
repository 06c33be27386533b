"""The mouth area of the geometric renderer: corners carried by a smile, the chin under a nod."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.mouth import MouthInterior, MouthMotion, carry_corners, opening_columns

LUMA_SPLIT = np.full(24, 0.5)


def _lips(left: tuple[float, float], right: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(left[0], right[0], 7)
    ys = np.linspace(left[1], right[1], 7)
    upper = np.stack([xs, ys - 3.0 * np.sin(np.linspace(0, np.pi, 7))], axis=1)
    lower = np.stack([xs, ys + 3.0 * np.sin(np.linspace(0, np.pi, 7))], axis=1)
    return upper, lower


def test_the_skin_around_a_lifted_corner_moves_with_it() -> None:
    interior = MouthInterior(np.linspace(0.06, 0.94, 24), LUMA_SPLIT, None, None, False)
    source = _lips((40.0, 60.0), (80.0, 60.0))
    target = _lips((40.0, 52.0), (80.0, 52.0))  # both corners 8 px up, the lips' middle still
    flow = np.zeros((120, 120, 2), np.float32)
    carry_corners(flow, MouthMotion(interior, source, target))
    np.testing.assert_allclose(flow[52, 40], [0.0, 8.0], atol=1e-4)  # the corner shows the photo's corner
    assert flow[52, 36, 1] > 7.0 and flow[56, 40, 1] > 7.0  # a few pixels beside it, outwards and across
    assert 4.0 < flow[52, 44, 1] < 7.0  # towards the middle of the mouth the carry falls off sooner
    assert abs(flow[52, 60, 1]) < 0.1 and np.abs(flow[5, 5]).max() < 1e-6  # not the middle, not far away


def test_the_same_columns_are_made_once_per_motion() -> None:
    interior = MouthInterior(np.linspace(0.06, 0.94, 24), LUMA_SPLIT, None, None, False)
    lips, opened = _lips((40.0, 60.0), (80.0, 60.0)), _lips((40.0, 58.0), (80.0, 58.0))
    mouth = MouthMotion(interior, lips, (opened[0], opened[1] + [0.0, 6.0]))
    xs = np.arange(36, 86, dtype=np.float64)
    first = opening_columns(xs, mouth)
    assert opening_columns(xs.copy(), mouth) is first  # the flow's and the paint's columns: made once
    fresh = opening_columns(xs, MouthMotion(interior, mouth.source_lips, mouth.target_lips))
    assert fresh is not first and all(
        np.array_equal(a, b) for a, b in zip(vars(fresh).values(), vars(first).values(), strict=True)
    )
    assert opening_columns(xs[:-1], mouth) is not first


def _corner_lift(points: np.ndarray) -> float:
    """Mean height of the mouth corners (61, 291) above the middle of the lips (13/14), in mouth widths."""
    middle = 0.5 * (points[13, 1] + points[14, 1])
    width = float(np.hypot(*(points[291, :2] - points[61, :2])))
    return float((middle - 0.5 * (points[61, 1] + points[291, 1])) / width)


@pytest.mark.realdata
def test_a_smile_lifts_the_corners_the_detector_sees(shared_data: Path) -> None:
    """Smile 1 on three photos, re-detected on the edited photo: the corners rise by most of what the
    fitted mesh asks for (0.34-0.55 of it before the corners carried their skin; 0.57-1.0 now)."""
    from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
    from reconstruction.detection import FaceDetector

    registry = EngineRegistry(fast=False)
    ratios = []
    with FaceDetector() as detector:
        for name in (
            "cmusatyalab__openface__carell.jpg",
            "dchen236__FairFace__race_Black.jpg",
            "serengil__deepface__img1.jpg",
        ):
            state = prepare_photo(shared_data / "images" / name, registry=registry)
            result = edit(state, EditRequest(values={"smile": 1.0}, engine="preview"), registry=registry)
            engine = registry.geometric(state.backend)
            preview = state.engine_state(engine)
            wanted = _corner_lift(engine.renderer.target_points(preview, result.coeffs)) - _corner_lift(
                preview.points
            )
            seen = _corner_lift(detector.detect_one(result.full_image).face.landmarks) - _corner_lift(
                detector.detect_one(state.image).face.landmarks
            )
            ratios.append(seen / wanted)
    assert min(ratios) > 0.5 and float(np.mean(ratios)) > 0.7, ratios


@pytest.mark.realdata
def test_a_raised_chin_does_not_fold_over_the_neck(shared_data: Path) -> None:
    """Pitch -20 (nose up): down the chin's column the photo is read in order, at least 0.4 photo rows
    per output row (it read the chin again under the chin before, going back by up to 1.8 rows per
    row: a second chin over the neck; now the neck under the chin stretches, 2x at most)."""
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.photo import target_coefficients

    registry = EngineRegistry(fast=False)
    for name in ("cmusatyalab__openface__carell.jpg", "serengil__deepface__img1.jpg"):
        state = prepare_photo(shared_data / "images" / name, registry=registry)
        engine = registry.geometric(state.backend)
        preview = state.engine_state(engine)
        coeffs = target_coefficients(state, EditRequest(values={"pitch": -20}), registry=registry)
        target = engine.renderer.target_points(preview, coeffs)
        flow = engine.renderer.render_flow(preview, coeffs)
        chin, lip = target[152], target[17]
        for x in np.round(chin[0] + np.array([-6.0, 0.0, 6.0])).astype(int):
            ys = np.arange(int(lip[1]) + 2, min(int(chin[1] + 0.4 * preview.face_size), 255))
            read = ys + flow[ys, x, 1]  # photo row shown at each output row
            assert np.diff(read).min() > 0.4, (name, x, np.round(np.diff(read), 2))


def _opened(
    shared_data: Path, name: str, values: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edited photo (H, W, 3) uint8 and the target's inner lips (upper, lower) in photo pixels."""
    from pipeline import EditRequest, EngineRegistry, edit, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    result = edit(state, EditRequest(values=values, engine="preview"), registry=registry)
    engine = registry.geometric(state.backend)
    target = engine.renderer.target_points(state.engine_state(engine), result.coeffs)
    upper, lower = (
        state.crop_transform.inverse_points(target[part, :2])
        for part in engine.renderer.projector.layout.mouth
    )
    return result.full_image, upper, lower


@pytest.mark.realdata
def test_an_opened_smile_keeps_its_lower_teeth(shared_data: Path) -> None:
    """A wide smile showing both rows of teeth, opened by `open_mouth` 1: over the middle 40 % of the
    mouth, the band just above the inner lower lip (6 % of the mouth's width, at the photo's
    resolution) still shows the photo's lower teeth (bright, little saturated) in most columns
    (0.45 of the columns and 0.13 of the band before, the teeth under the painted cavity; 0.67
    and 0.24 now)."""
    from pipeline.face_paint import curve_y

    out, upper, lower = _opened(shared_data, "serengil__deepface__img1.jpg", {"open_mouth": 1.0})
    pixels = out.astype(np.float32)
    luma, chroma = pixels @ np.array([0.299, 0.587, 0.114], np.float32), np.ptp(pixels, axis=2)
    left, right = upper[:, 0].min(), upper[:, 0].max()
    width = right - left
    xs = np.arange(int(left + 0.3 * width), int(right - 0.3 * width))
    teeth = []
    for x, y in zip(xs, curve_y(lower, xs), strict=True):
        rows = slice(int(y - 0.06 * width), int(y + 0.02 * width))
        teeth.append((luma[rows, x] > 150.0) & (chroma[rows, x] < 60.0))
    columns = float(np.mean([column.sum() >= 3 for column in teeth]))
    share = float(np.mean([column.mean() for column in teeth]))
    assert columns > 0.6 and share > 0.2, (columns, share)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "part"),
    [("serengil__deepface__img1.jpg", (0.0, 0.33)), ("KwaiVGI__LivePortrait__s2.jpg", (0.0, 1.0))],
)
def test_no_dark_line_runs_along_the_opened_lower_lip(
    shared_data: Path, name: str, part: tuple[float, float]
) -> None:
    """`open_mouth` 1 on a smile with teeth (its left third, away from the kept lower teeth) and on
    closed lips: down each column, the darkest pixel of the 13 rows around the inner lower lip is
    no darker than the cavity 14-30 rows above it by more than 12 levels, in 9 columns of 10 (the
    photo's dark between its lips ran along the rim as a 1-2 px line, 46 and 60 levels darker)."""
    from pipeline.face_paint import curve_y

    out, upper, lower = _opened(shared_data, name, {"open_mouth": 1.0})
    luma = out.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    left, right = upper[:, 0].min(), upper[:, 0].max()
    width = right - left
    xs = np.arange(int(left + 0.1 * width), int(right - 0.1 * width))
    bottom, top = curve_y(lower, xs), curve_y(upper, xs)
    darker = [
        float(np.median(luma[int(y) - 30 : int(y) - 14, x]) - luma[int(y) - 10 : int(y) + 3, x].min())
        for x, y, y_top in zip(xs, bottom, top, strict=True)
        if y - y_top > 0.15 * width
    ]
    darker = darker[int(part[0] * len(darker)) : int(part[1] * len(darker))]
    assert len(darker) > 5 and np.percentile(darker, 90) < 12.0, np.round(darker, 0)


def _interior(teeth: bool, lower_teeth: bool, lower_share: float) -> MouthInterior:
    across = np.linspace(0.06, 0.94, 24)
    share = np.where(np.abs(across - 0.5) < 0.25, lower_share, 0.0)
    colour = np.array([230.0, 220.0, 205.0], np.float32) if teeth else None
    return MouthInterior(across, np.ones(24), None, colour, lower_teeth, share if teeth else None)


def test_upper_teeth_only_is_a_smile_that_shows_no_lower_teeth() -> None:
    assert _interior(True, False, 0.0).upper_teeth_only
    assert not _interior(False, False, 0.0).upper_teeth_only  # closed lips or no teeth
    assert not _interior(True, True, 0.0).upper_teeth_only  # lower teeth under the split
    assert not _interior(True, False, 0.4).upper_teeth_only  # lower teeth the painted gap keeps
    smile = _interior(True, False, 0.0)
    lips = _lips((40.0, 60.0), (80.0, 60.0))
    assert not MouthMotion(smile, lips, lips).under_upper_teeth  # off unless asked for
    assert MouthMotion(smile, lips, lips, lower_row=True).under_upper_teeth


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "upper_only"),
    [
        ("serengil__deepface__img22.jpg", True),  # a smile, its lower teeth behind the lower lip
        ("justadudewhohacks__face-api.js__happy.jpg", True),
        ("serengil__deepface__img1.jpg", False),  # both rows
        ("serengil__deepface__img3.jpg", False),  # closed lips
    ],
)
def test_the_analysis_finds_photos_with_upper_teeth_only(
    shared_data: Path, name: str, upper_only: bool
) -> None:
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    assert state.engine_state(registry.geometric(state.backend)).mouth.upper_teeth_only is upper_only


def _warm_mouth(teeth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (128, 128, 3) warm, soft photo's mouth: red lips around a dark opening, with two lower
    teeth as warm as the baby's of GFPGAN's photo (max - min channel 70, over the absolute test's
    limit) when `teeth`; and its inner lip curves."""
    xs = np.linspace(40.0, 88.0, 13)
    bulge = 6.0 * np.sin(np.linspace(0.0, np.pi, 13))
    upper, lower = (np.stack([xs, 60.0 + sign * bulge], axis=1) for sign in (-1.0, 1.0))
    image = np.empty((128, 128, 3), np.uint8)
    image[...] = (230, 185, 150)  # skin
    grid_x, grid_y = np.meshgrid(np.arange(128.0), np.arange(128.0))
    top, bottom = np.interp(grid_x, xs, upper[:, 1]), np.interp(grid_x, xs, lower[:, 1])
    across = (grid_x >= 40) & (grid_x <= 88)
    image[across & (grid_y > top - 7) & (grid_y < bottom + 7)] = (150, 75, 55)  # lips
    image[across & (grid_y >= top) & (grid_y <= bottom)] = (60, 25, 20)  # the dark opening
    if teeth:
        image[(np.abs(grid_x - 64) < 10) & (grid_y > 60) & (grid_y <= bottom)] = (205, 160, 135)
    return cv2.GaussianBlur(image, (0, 0), 0.8), upper, lower


def test_warm_lower_teeth_are_read_against_the_lips() -> None:
    from pipeline.mouth import analyse_mouth

    image, upper, lower = _warm_mouth(teeth=True)
    assert analyse_mouth(image, upper, lower).teeth is None  # the absolute test alone: no teeth
    interior = analyse_mouth(image, upper, lower, relative_teeth=True)
    assert interior.teeth is not None and interior.lower_teeth and not interior.upper_teeth_only
    assert interior.teeth.max() - interior.teeth.min() > 50.0  # the photo's own warm colour


def test_a_dark_opening_or_grey_lips_get_no_teeth_against_the_lips() -> None:
    from pipeline.mouth import analyse_mouth

    image, upper, lower = _warm_mouth(teeth=False)
    assert analyse_mouth(image, upper, lower, relative_teeth=True).teeth is None
    # Black and white (its teeth under the absolute test's luma): no colour to read teeth by.
    grey = 0.7 * _warm_mouth(teeth=True)[0].mean(axis=2, keepdims=True)
    grey = np.repeat(grey, 3, axis=2).astype(np.uint8)
    assert analyse_mouth(grey, upper, lower, relative_teeth=True).teeth is None


@pytest.mark.realdata
def test_the_baby_of_a_soft_warm_photo_shows_lower_teeth(shared_data: Path) -> None:
    """GFPGAN's baby (two lower teeth, RGB about 211/161/138): read with teeth and lower teeth
    when teeth are read against the lips (`PreviewSettings.own_teeth`), without them otherwise."""
    import dataclasses

    from pipeline import EngineRegistry, prepare_photo

    for own in (False, True):
        registry = EngineRegistry(fast=False)
        state = prepare_photo(
            shared_data / "images" / "TencentARC__GFPGAN__Justin_Timberlake_crop.png", registry=registry
        )
        renderer = registry.geometric(state.backend).renderer
        renderer.settings = dataclasses.replace(renderer.settings, own_teeth=own)
        mouth = state.engine_state(registry.geometric(state.backend)).mouth
        assert (mouth.teeth is not None) is own
        assert (mouth.teeth is not None and not mouth.upper_teeth_only) is own


def test_own_teeth_is_on_by_default() -> None:
    """Teeth read against the lips passed its rule in round 2 (docs/OWN_TEETH.md)."""
    from pipeline.geometric import PreviewSettings

    assert PreviewSettings().own_teeth


def _screaming_mouth(front: bool, shine: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (128, 128, 3) photo of a wide-open mouth (30 px tall, 48 wide) over a dark red inside,
    with two small front teeth under the upper lip's middle when `front` (3-4 % of the opening),
    or a light spot low on the tongue when `shine`; and its inner lip curves."""
    xs = np.linspace(40.0, 88.0, 13)
    bulge = np.sin(np.linspace(0.0, np.pi, 13))
    upper = np.stack([xs, 50.0 - 4.0 * bulge], axis=1)
    lower = np.stack([xs, 50.0 + 26.0 * bulge], axis=1)
    image = np.empty((128, 128, 3), np.uint8)
    image[...] = (225, 170, 140)  # skin
    grid_x, grid_y = np.meshgrid(np.arange(128.0), np.arange(128.0))
    top, bottom = np.interp(grid_x, xs, upper[:, 1]), np.interp(grid_x, xs, lower[:, 1])
    across = (grid_x >= 40) & (grid_x <= 88)
    image[across & (grid_y > top - 6) & (grid_y < bottom + 6)] = (170, 90, 80)  # lips
    image[across & (grid_y >= top) & (grid_y <= bottom)] = (90, 30, 30)  # the inside
    if front:
        image[(np.abs(grid_x - 64) < 6) & (grid_y >= top) & (grid_y < top + 6)] = (235, 230, 215)
    if shine:
        image[(np.abs(grid_x - 64) < 6) & (grid_y > bottom - 9) & (grid_y < bottom - 3)] = (235, 230, 215)
    return cv2.GaussianBlur(image, (0, 0), 0.6), upper, lower


def test_a_wide_open_mouths_front_teeth_are_read() -> None:
    """Two incisors under the upper lip of a scream cover too little of the opening for the
    absolute test; read as the upper rim's middle they are upper teeth (`relative_teeth` only)."""
    from pipeline.mouth import analyse_mouth

    image, upper, lower = _screaming_mouth(front=True)
    assert analyse_mouth(image, upper, lower).teeth is None
    interior = analyse_mouth(image, upper, lower, relative_teeth=True)
    assert interior.teeth is not None and interior.upper_teeth_only
    assert interior.teeth.min() > 180.0  # the teeth's colour, not the inside's
    for front, shine in ((False, False), (False, True)):  # no teeth; a light spot low on the tongue
        image, upper, lower = _screaming_mouth(front, shine)
        assert analyse_mouth(image, upper, lower, relative_teeth=True).teeth is None


def test_soft_lower_teeth_are_kept_a_pixel_further() -> None:
    """Lower teeth read against the lips: the kept part reaches a column further along the mouth
    and, where it is kept, starts a crop pixel higher (10 px tall opening: 0.1 of it)."""
    from pipeline.mouth import _soft_lower_teeth

    share = np.zeros(24)
    share[9:15] = 0.8
    split = np.full(24, 0.4)
    split[0] = 1.0  # upper teeth down to the lower lip: all hangs from the upper lip
    higher, wider = _soft_lower_teeth(split, share, np.full(24, 10.0))
    assert wider[8] == wider[15] == 0.8 and wider[7] == wider[16] == 0.0
    np.testing.assert_allclose(higher[10:14], 0.3)  # a pixel higher where the teeth are kept
    assert higher[0] == 1.0 and np.all(higher[20:] == 0.4) and np.all(higher <= split)


@pytest.mark.realdata
def test_a_screams_two_front_teeth_are_read_as_upper_teeth(shared_data: Path) -> None:
    """DECA's image02673: two incisors under the upper lip of a wide-open mouth."""
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "YadiraF__DECA__image02673.png", registry=registry)
    engine = registry.geometric(state.backend)
    mouth = state.engine_state(engine).mouth
    assert mouth.teeth is not None and mouth.upper_teeth_only
