"""pipeline.lower_lip: the chin squeezed under an opened mouth's lower lip (docs/LOWER_LIP.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pipeline.lower_lip import squeezed_under_lip
from pipeline.mouth import MouthInterior, MouthMotion


def _outer(drop: float) -> np.ndarray:
    """The target's outer lower lip, 4 px under the inner one."""
    xs = np.linspace(38.0, 82.0, 9)
    return np.stack([xs, 60.0 + (7.0 + drop) * np.sin(np.linspace(0, np.pi, 9))], axis=1)


def _mouth(drop: float) -> MouthMotion:
    """A level mouth 40 px wide whose lower lip drops by `drop` px in the target."""
    xs = np.linspace(40.0, 80.0, 9)
    upper = np.stack([xs, 60.0 - 3.0 * np.sin(np.linspace(0, np.pi, 9))], axis=1)
    lower = np.stack([xs, 60.0 + 3.0 * np.sin(np.linspace(0, np.pi, 9))], axis=1)
    dropped = lower.copy()
    dropped[:, 1] += drop * np.sin(np.linspace(0, np.pi, 9))
    interior = MouthInterior(np.linspace(0.06, 0.94, 24), np.full(24, 0.5), None, None, False)
    return MouthMotion(interior, (upper, lower), (upper, dropped))


def test_only_under_the_lower_lip() -> None:
    c = 128
    y = np.arange(c, dtype=np.float32)
    read = np.where(y < 74, y, np.where(y < 80, 74 + (y - 74) * 4.0, 98 + (y - 80)))
    flow = np.zeros((c, c, 2), np.float32)
    flow[..., 1] = (read - y)[:, None]
    band = squeezed_under_lip(flow, _mouth(6.0), np.zeros((c, c), np.float32), None, _outer(6.0))
    assert band is not None
    x0, y0 = band.origin
    weight = np.zeros((c, c), np.float32)
    weight[y0 : y0 + band.weight.shape[0], x0 : x0 + band.weight.shape[1]] = band.weight
    assert weight[77, 60] > 0.9
    assert weight[:, :20].max() == 0.0 and weight[:, 110:].max() == 0.0  # beside the mouth
    assert weight[:60].max() == 0.0  # nothing above the target's lower lip
    assert weight[76, 45] > 0.5 and weight[71, 60] == 0.0  # under its outer edge only
    assert squeezed_under_lip(flow, _mouth(6.0), np.zeros((c, c), np.float32), None, np.zeros((0, 2))) is None
    covered = squeezed_under_lip(flow, _mouth(6.0), np.ones((c, c), np.float32), None, _outer(6.0))
    assert covered is None  # painted over: nothing of the moved photo shows
    large = squeezed_under_lip(flow, _mouth(6.0), np.zeros((c, c), np.float32), None, _outer(6.0), 0.0)
    assert large is None  # a large photo: no band
    half = squeezed_under_lip(flow, _mouth(6.0), np.zeros((c, c), np.float32), None, _outer(6.0), 0.5)
    assert half is not None and half.share == 0.5 and np.array_equal(half.weight, band.weight)


@pytest.mark.realdata
@pytest.mark.slow
def test_the_squeezed_chin_of_a_small_soft_photo_has_no_ragged_outline(shared_data: Path) -> None:
    """s11 (a child, soft, 37 px mouth) at open_mouth 1: the band round the lower lip's outer edge
    has few thin dark / pale lines more than the photo's own (the flag off: 2.05 luma levels; on,
    round 3: 0.56)."""
    from benchmarks.lower_lip_sheet import lips_of, raggedness
    from pipeline import EditRequest, EngineRegistry, edit, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "KwaiVGI__LivePortrait__s11.jpg", registry=registry)
    renderer = registry.geometric(state.backend).renderer
    kept = renderer.settings
    own, values = lips_of(state, registry, None), {"open_mouth": 1.0}
    target = lips_of(state, registry, values)
    excess = {}
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(kept, lower_lip=on)
            image = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            excess[on] = raggedness(image, target) - raggedness(state.image, own)
    finally:
        renderer.settings = kept
    assert excess[True] < 1.0 < excess[False], excess


@pytest.mark.realdata
@pytest.mark.slow
def test_a_large_photo_gets_no_band_in_its_drag_preview(shared_data: Path) -> None:
    """s2 (2048 px): the photo is large for its crop, so no frame makes a band, whatever canvas it
    is laid in (round 1 decided from the canvas: its 768 px previews were smoothed and paid for it)."""
    from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo
    from pipeline.photo import place_frame, target_coefficients

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "KwaiVGI__LivePortrait__s2.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    kept = renderer.settings
    target = target_coefficients(state, EditRequest({"open_mouth": 1.0}, engine="preview"), registry=registry)
    previews = {}
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(kept, lower_lip=on)
            frame = renderer.render_frame(prepared, target)
            assert frame.squeezed is None
            previews[on] = place_frame(photo_canvas(state, 768), frame)
    finally:
        renderer.settings = kept
    assert np.array_equal(previews[False], previews[True]) and prepared.small == 0.0
