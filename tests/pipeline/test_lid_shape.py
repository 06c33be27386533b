"""Tests of pipeline/lid_shape.py: a painted shut lid is cut to an arch over the opening (never
beyond the paint it was given), lit as skin over a ball and given the photo's own skin detail (a
tile made once per photo, left out on photos large enough for `lay_skin_texture`); on a real photo
(MakeItTalk morgan) the shut lids are no longer smooth discs (docs/LID_SHAPE.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.lid_shape_sheet import lid_rough, side_ratio
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.geometric import PreviewSettings
from pipeline.lid_shape import LidDetail, lid_detail, shape_lids
from pipeline.photo import Canvas, place_frame, target_coefficients
from reconstruction.crop import CropTransform

#: A crop about as large as its photo (1.25 photo px per crop px): the crop-level texture is laid.
SMALL = CropTransform(((0.8, 0.0, 0.0), (0.0, 0.8, 0.0)), 128, (160, 160))


def _painted_box() -> tuple[np.ndarray, ...]:
    """A box painted like main's straight-sided lid: alpha 1 over columns 18-61, rows 10-39; one flat
    colour; an opening (columns 20-59) with a lash line on row 40: (alpha, colour, lashes, hidden)."""
    alpha = np.zeros((50, 80), np.float32)
    alpha[10:40, 18:62] = 1.0
    colour = np.full((50, 80, 3), 160.0, np.float32)
    lashes = np.zeros((50, 80), np.float32)
    lashes[40, 20:60] = 1.0
    hidden = np.zeros((50, 80), np.float32)
    hidden[30:40, 20:60] = 1.0
    return alpha, colour, lashes, hidden


def _skin(seed: int = 5) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A (128, 128) crop of fine random skin and one eye (upper, lower lid curves) in its middle."""
    rng = np.random.default_rng(seed)
    source = np.clip(150 + 12 * rng.standard_normal((128, 128, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    xs = np.linspace(44.0, 84.0, 9)
    upper = np.stack([xs, 60.0 - 8.0 * np.sin(np.linspace(0, np.pi, 9))], axis=1)
    lower = np.stack([xs, 60.0 + 6.0 * np.sin(np.linspace(0, np.pi, 9))], axis=1)
    return source, [(upper, lower)]


def test_the_painted_lid_is_cut_to_an_arch_and_never_grows() -> None:
    alpha, colour, lashes, hidden = _painted_box()
    shaped, _ = shape_lids(alpha.copy(), colour.copy(), lashes, [(20, 60)], (0, 0), LidDetail(None))
    assert np.all(shaped <= alpha + 1e-6)
    height = (shaped > 0.5).sum(axis=0)
    # main's box is as tall at its sides as in its middle; the lid's outline falls toward the corners
    assert height[21] < 0.5 * height[40] and height[58] < 0.5 * height[40]
    assert height[40] >= 28  # the middle keeps the paint's reach
    assert side_ratio(shaped, hidden, 0) < 0.65
    assert side_ratio(alpha, hidden, 0) > 0.9


def test_the_lid_is_lit_and_carries_the_photos_skin_detail() -> None:
    alpha, colour, lashes, _ = _painted_box()
    source, eyes = _skin()
    detail = lid_detail(source, eyes, SMALL)
    assert detail.tile is not None and abs(float(detail.tile.mean()) - 1.0) < 0.02
    shaped, painted = shape_lids(alpha, colour, lashes, [(20, 60)], (0, 0), detail)
    luma = painted @ np.array([0.299, 0.587, 0.114], np.float32)
    lid = shaped > 0.9
    # skin over a ball: the middle of the lid (low on it) lighter than main's flat colour
    assert luma[34:37, 36:44].mean() > 163.0
    # not one flat colour: the skin's own fine detail, column to column
    assert np.std(np.diff(luma, axis=1)[lid[:, 1:] & lid[:, :-1]]) > 2.0


def test_the_detail_tile_is_left_out_where_the_photo_texture_is_laid() -> None:
    source, eyes = _skin()
    large = CropTransform(((0.25, 0.0, 0.0), (0.0, 0.25, 0.0)), 128, (512, 512))  # 4 photo px per crop px
    assert lid_detail(source, eyes, large).tile is None
    assert lid_detail(source, eyes, None).tile is None  # a video's frame: no tile picked per frame
    flat = np.full_like(source, 150)
    tile = lid_detail(flat, eyes, SMALL).tile
    assert tile is not None and np.allclose(tile, 1.0)  # a smooth photo's lid stays smooth


def test_an_eye_without_paint_is_left_as_it_is() -> None:
    alpha, colour, lashes, _ = _painted_box()
    alpha[:] = 0.0
    shaped, painted = shape_lids(alpha.copy(), colour.copy(), lashes, [(20, 60)], (0, 0), LidDetail(None))
    assert np.array_equal(shaped, alpha) and np.array_equal(painted, colour)


@pytest.mark.realdata
@pytest.mark.slow
def test_morgans_shut_lids_are_not_smooth_discs(shared_data, registry: EngineRegistry) -> None:
    """MakeItTalk morgan (deeply wrinkled skin), close_eyes 1: with `lid_shape` the shut lids carry
    at least 0.45 of the skin ring's fine detail on both eyes (main: 0.07-0.10, smooth discs) and
    their painted outline falls toward the corners (`side` <= 0.65)."""
    state = prepare_photo(shared_data / "images" / "yzhou359__MakeItTalk__morgan.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    points = state.engine_state(engine).points
    settings = renderer.settings
    request = EditRequest({"close_eyes": 1.0}, engine="preview")
    target = target_coefficients(state, request, registry=registry)
    outs = {}
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(settings, lid_shape=on)
            prepared = engine.prepare_in_photo(
                state.crop, state.coefficients, state.crop_transform, hand_at_face=bool(state.hands)
            )
            frame = renderer.render_frame(prepared, target)
            canvas = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)
            outs[on] = (place_frame(canvas, frame), frame)
    finally:
        renderer.settings = settings
    for k, (u, lo) in enumerate(renderer.projector.layout.eyes):
        upper, lower = (state.crop_transform.inverse_points(points[i, :2]) for i in (u, lo))
        main, shaped = (lid_rough(state.image, outs[on][0], upper, lower) for on in (False, True))
        assert main < 0.2 and shaped >= 0.45, (k, main, shaped)
        assert side_ratio(outs[True][1].skin, outs[True][1].hidden, k) <= 0.65


def test_the_flag_is_on_by_default() -> None:
    assert PreviewSettings().lid_shape  # it met its rule (docs/LID_SHAPE.md, round 2)


def test_a_lash_line_that_stops_short_of_the_eyes_middle_is_handled() -> None:
    """A lash line drawn only over the eye's outer end (a wink in a small video frame) leaves the
    middle third without a lash row of its own: the lid's edge there is read off the same line."""
    alpha = np.ones((30, 40), np.float32)
    colour = np.full((30, 40, 3), 0.5, np.float32)
    lashes = np.zeros((30, 40), np.float32)
    lashes[20, :6] = 1.0
    shaped, _ = shape_lids(alpha.copy(), colour.copy(), lashes, [(0, 24)], (0, 0), LidDetail(None))
    assert shaped.shape == alpha.shape
    assert np.all(shaped <= alpha)
