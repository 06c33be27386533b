"""Tests of pipeline/lid_shape.py: a painted shut lid is cut to a lid's outline (an arch from corner
to corner, never beyond the paint it was given), shaded as skin over a ball and given the photo's
own skin detail; on a real photo (MakeItTalk morgan) the shut lids are no longer smooth discs
(docs/LID_SHAPE.md). `PreviewSettings.lid_shape` is off by default (it lost its rule)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.lid_shape_sheet import lid_rough, side_ratio
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.geometric import PreviewSettings
from pipeline.lid_shape import shape_lids
from pipeline.photo import Canvas, place_frame, target_coefficients


def _painted_box() -> tuple[np.ndarray, ...]:
    """A box painted like main's straight-sided lid: alpha 1 over columns 18-61, rows 10-39; one flat
    colour; an opening (rows 30-39, columns 20-59) with a lash line on row 40; a source crop whose
    skin above the eye (rows 10-29) carries fine random texture: (alpha, colour, source, shut, lashes)."""
    rng = np.random.default_rng(5)
    alpha = np.zeros((50, 80), np.float32)
    alpha[10:40, 18:62] = 1.0
    colour = np.full((50, 80, 3), 160.0, np.float32)
    source = np.full((50, 80, 3), 160, np.uint8)
    source[5:30] = np.clip(160 + 25 * rng.standard_normal((25, 80, 1)), 0, 255).astype(np.uint8)
    shut = np.zeros((50, 80), bool)
    shut[30:40, 20:60] = True
    lashes = np.zeros((50, 80), np.float32)
    lashes[40, 20:60] = 1.0
    return alpha, colour, source, shut, lashes


def test_the_painted_lid_is_cut_to_an_arch_and_never_grows() -> None:
    alpha, colour, source, shut, lashes = _painted_box()
    shaped, _ = shape_lids(alpha, colour, source, shut, lashes, [(20, 60)], (0, 0))
    assert np.all(shaped <= alpha + 1e-6)
    height = (shaped > 0.5).sum(axis=0)
    # main's box is as tall at its sides as in its middle; the lid's outline falls toward the corners
    assert height[21] < 0.5 * height[40] and height[58] < 0.5 * height[40]
    assert height[40] >= 25  # the middle keeps the paint's reach
    skin = np.zeros((50, 80), np.float32)
    skin[:40] = shaped[:40]
    hidden = shut.astype(np.float32)
    assert side_ratio(skin, hidden, 0) < 0.65
    assert side_ratio(alpha, hidden, 0) > 0.9


def test_the_lid_is_shaded_and_carries_the_skins_detail() -> None:
    alpha, colour, source, shut, lashes = _painted_box()
    shaped, painted = shape_lids(alpha, colour, source, shut, lashes, [(20, 60)], (0, 0))
    luma = painted @ np.array([0.299, 0.587, 0.114], np.float32)
    lid = shaped > 0.9
    # skin over a ball: the middle of the lid lighter than near its corners
    assert luma[34, 38:42].mean() > luma[36, 22:24].mean() + 3.0
    # not one flat colour: the skin's own fine detail, row to row and column to column
    detail = luma - np.mean(luma[lid])
    assert np.std(np.diff(luma, axis=1)[lid[:, 1:] & lid[:, :-1]]) > 2.0
    assert np.abs(detail[lid]).max() > 5.0


def test_an_eye_without_paint_is_left_as_it_is() -> None:
    alpha, colour, source, shut, lashes = _painted_box()
    alpha[:] = 0.0
    shaped, painted = shape_lids(alpha, colour, source, shut, lashes, [(20, 60)], (0, 0))
    assert np.array_equal(shaped, alpha) and np.array_equal(painted, colour)


@pytest.mark.realdata
@pytest.mark.slow
def test_morgans_shut_lids_are_not_smooth_discs(shared_data, registry: EngineRegistry) -> None:
    """MakeItTalk morgan (deeply wrinkled skin), close_eyes 1: with `lid_shape` the shut lids carry
    at least 0.4 of the skin ring's fine detail on both eyes (main: 0.07-0.10, smooth discs) and
    their painted outline falls toward the corners (`side` <= 0.65)."""
    assert not PreviewSettings().lid_shape  # it lost its rule (docs/LID_SHAPE.md)
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
            frame = renderer.render_frame(state.engine_state(engine), target)
            canvas = Canvas(state.image, state.crop_transform, paint_blur=state.paint_blur)
            outs[on] = (place_frame(canvas, frame), frame)
    finally:
        renderer.settings = settings
    for k, (u, lo) in enumerate(renderer.projector.layout.eyes):
        upper, lower = (state.crop_transform.inverse_points(points[i, :2]) for i in (u, lo))
        main, shaped = (lid_rough(state.image, outs[on][0], upper, lower) for on in (False, True))
        assert main < 0.2 and shaped >= 0.4, (k, main, shaped)
        assert side_ratio(outs[True][1].skin, outs[True][1].hidden, k) <= 0.65
