"""Tests of pipeline/lid_edge.py: the real lid's edge above a lid fitted onto an upturned iris (its
lit skin above a shadowed margin), and the photo's real shut lid read from above it (exp_3)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.upward_lids_sheet import dark_share
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.eyes import Iris
from pipeline.lid_edge import UPWARD_REACH, upward_lid_run
from pipeline.photo import target_coefficients

UPPER = np.stack([np.linspace(20.0, 60.0, 9), np.full(9, 50.0)], axis=1)  # 40 px wide, lid at y 50
LOWER = UPPER + [0.0, 13.0]  # a lid gap of 0.33 eye widths: open, not a squint
UP = Iris(np.array([40.0, 52.0]), 6.0)  # its top 4 px above the fitted lid: the eye looks up
DOWN = Iris(np.array([40.0, 57.0]), 6.0)  # its top under the fitted lid


def _photo(dark_rows: int, shadow_rows: int = 0) -> np.ndarray:
    """Lit skin, the lid line at y 50, a dark run `dark_rows` high right above it (iris top,
    lashes), then `shadow_rows` of shadowed lid (darker than half the skin under the eye), the
    opening below it."""
    image = np.full((120, 80, 3), 170, np.uint8)
    image[50 - dark_rows - shadow_rows : 50 - dark_rows, 15:66] = 70
    image[50 - dark_rows : 51, 15:66] = 25
    image[51:63, 15:66] = 200  # the white of the eye
    return image


def test_a_tall_dark_run_above_the_fitted_lid_is_read_past() -> None:
    """A dark run 0.25 eye widths high (past the lashes' 0.2) in the lid's middle: the run returned
    reaches its top there (to a pixel) and lowers to the lashes at the corners."""
    run = upward_lid_run(_photo(10), UPPER, LOWER, np.zeros(9), UP)
    assert np.all(np.abs(run[3:6] - 10.0) <= 1.0), run
    assert run[0] == run[-1] == 0.0
    assert run.max() <= UPWARD_REACH * 40.0


def test_a_shadowed_lid_margin_counts_with_the_run() -> None:
    """Above the dark run, 12 rows of lid skin darker than half the skin under the eye (the lid
    itself in shadow): the run reaches the lit skin above them (round 1 stopped at the shadow's
    foot, 6 rows up, the lid's shadowed skin then read into the shut lid)."""
    run = upward_lid_run(_photo(6, 12), UPPER, LOWER, np.zeros(9), UP)
    assert np.all(np.abs(run[3:6] - 18.0) <= 1.0), run


def test_lashes_squints_and_eyes_not_looking_up_are_left_as_they_are() -> None:
    """A thin lash run (the band a shutting lid reads is skin), a squint, and an eye whose iris
    lies under its fitted lid keep their lashes."""
    lashes = np.full(9, 3.0)
    assert np.array_equal(upward_lid_run(_photo(3), UPPER, LOWER, lashes, UP), lashes)
    squint = UPPER + [0.0, 8.0]  # a lid gap of 0.2 eye widths
    assert np.array_equal(upward_lid_run(_photo(10), UPPER, squint, lashes, UP), lashes)
    assert np.array_equal(upward_lid_run(_photo(10), UPPER, LOWER, lashes, DOWN), lashes)
    assert np.array_equal(upward_lid_run(_photo(10), UPPER, LOWER, lashes, None), lashes)


@pytest.mark.realdata
@pytest.mark.slow
def test_an_eye_looking_up_shuts_with_lid_skin_not_its_iris(shared_data, registry: EngineRegistry) -> None:
    """DECA exp_3.jpg (looking up, the fitted upper lid on the iris, the real lid's edge ~7 crop
    pixels above it), close_eyes 1 with `upward_lids`: the image-left eye's shut lid reads the iris
    or the dark socket on less than 0.3 of its upper half (main: 0.745)."""
    state = prepare_photo(shared_data / "images" / "YadiraF__DECA__exp_3.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    kept = engine.renderer.settings
    engine.renderer.settings = dataclasses.replace(kept, upward_lids=True)  # read when prepared
    try:
        prepared = state.engine_state(engine)
        target = target_coefficients(
            state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry
        )
        flow = engine.renderer.render_frame(prepared, target).flow
    finally:
        engine.renderer.settings = kept
    upper, lower = engine.renderer.projector.layout.eyes[0]
    share = dark_share(
        prepared.source, flow, prepared.points[upper, :2], prepared.points[lower, :2], prepared.irises[0]
    )
    assert share < 0.3, share
