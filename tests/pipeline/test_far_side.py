"""The far side of a turn (`PreviewSettings.far_side`, `pipeline.far_side`, docs/FAR_SIDE.md):
triangles a turn sets edge-on (or past it) are not drawn, and the holes they leave are filled."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.far_side import (
    AWAY,
    BEHIND,
    DRAWN,
    FEATHER,
    SPECK,
    Holes,
    PhotoDepth,
    rasterise_drawn,
    turned_edge_on,
)
from pipeline.photo import Canvas, place_frame, target_coefficients


def _sheet(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A flat n x n grid of points (x, y, depth 0) and its triangles."""
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64)
    points = np.stack([xs.ravel() * 10, ys.ravel() * 10, np.zeros(n * n)], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return points, np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])


def _turned(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    return points @ rot.T


def test_a_turn_past_edge_on_hides_the_triangles_a_smaller_one_keeps_them() -> None:
    points, triangles = _sheet()
    for degrees, hidden in ((30.0, False), (80.0, True), (100.0, True)):
        target = _turned(points, degrees)
        assert turned_edge_on(points, target, target, triangles).all() == hidden
        assert turned_edge_on(points, target, target, triangles).any() == hidden


def test_a_squeeze_without_a_turn_hides_nothing() -> None:
    """A lid or a lip pressed flat by an expression: the pose alone leaves the triangles as they were."""
    points, triangles = _sheet()
    squeezed = points * [1.0, 0.1, 1.0]
    assert not turned_edge_on(points, squeezed, points, triangles).any()


def test_the_hole_a_turned_away_triangle_leaves_is_split_between_its_two_sides() -> None:
    """Two flat strips with a hidden column of cells between them (a turned nose's far wall): each
    hole pixel reads its nearest side mirrored back into that side, so the reads step once, in the
    middle of the gap, and never read the strip between the sides."""
    points, triangles = _sheet(n=7)  # 6 x 6 cells of 10 px
    cells = np.arange(len(triangles)) % 36  # both triangles of a cell share its index
    drawn = np.where(cells % 6 == 2, AWAY, DRAWN).astype(np.int8)  # the third column of cells
    pix, tri, _, holes = rasterise_drawn(points, triangles, drawn, (60, 60), step=2.0)
    assert (drawn[tri] == DRAWN).all()
    # The flow in units of half a grid pixel (step 2): the left side reads itself, the right side
    # reads 40 grid pixels further on (the strip between is hidden).
    flow = np.zeros((60, 60, 2), np.float32)
    flow.reshape(-1, 2)[pix, 0] = np.where(pix % 60 < 25, 0.0, 80.0)
    cover = np.zeros((60, 60), np.float32)
    cover.reshape(-1)[pix] = 1.0
    holes.fill(flow, cover)
    assert cover[30, 15:40].all()
    columns = np.arange(15, 40)
    reads = columns + flow[30, 15:40, 0] / 2.0  # grid pixels
    left, right = reads[columns <= 20], reads[columns >= 30]
    hole = reads[(columns > 20) & (columns < 30)]
    assert (hole <= left.max() + 1e-6).sum() + (hole >= right.min() - 1e-6).sum() == len(hole)
    assert (np.abs(np.diff(reads)) > 10).sum() == 1  # one step, no ramp


def test_a_wide_revealed_strip_is_no_gap_to_fill_a_speck_is_and_without_a_turn_nothing_changes() -> None:
    points, triangles = _sheet(n=7)
    cells = np.arange(len(triangles)) % 36
    drawn = np.where(cells % 6 == 2, BEHIND, DRAWN).astype(np.int8)
    _, _, _, holes = rasterise_drawn(points, triangles, drawn, (60, 60))
    assert holes.left_out and not len(holes.away)  # left to what fills the face's outside
    speck = np.full(len(triangles), DRAWN, np.int8)
    speck[[14, 14 + 36]] = BEHIND  # one cell of 10 x 10 px: wider than a speck ...
    assert not len(rasterise_drawn(points, triangles, speck, (60, 60))[3].away)
    small = points * [0.3, 0.3, 1.0]  # ... a cell of 3 x 3 px is one, filled from its sides
    assert 0 < len(rasterise_drawn(small, triangles, speck, (60, 60))[3].away) <= SPECK
    # Nothing left out: the raster is rasterise_triangles', the box laid as before, no feathering.
    all_drawn = np.full(len(triangles), DRAWN, np.int8)
    pix, tri, bary, none = rasterise_drawn(points, triangles, all_drawn, (60, 60))
    region = np.full((60, 60, 2), 7.0, np.float32)
    gy, gx = np.divmod(pix, 60)
    src = np.stack([gx + 1.5, gy - 2.5], axis=1).astype(np.float64)
    none.lay(region, gy, gx, src, (0, 0))
    assert not none.left_out and np.allclose(region.reshape(-1, 2)[pix], [1.5, -2.5])


def test_a_box_with_triangles_left_out_is_faded_in_from_its_border() -> None:
    holes = Holes((8, 8), np.zeros(0, np.int64), np.zeros(0, np.int64), left_out=True)
    region = np.zeros((20, 20, 2), np.float32)
    gy, gx = np.divmod(np.arange(400), 20)
    src = np.stack([gx + 10.0, gy.astype(np.float64)], axis=1)
    holes.lay(region, gy, gx, src, (0, 0))
    assert region[10, 10, 0] == pytest.approx(10.0)  # inside: the raster's flow
    assert 0.0 < region[0, 10, 0] < region[2, 10, 0] < 10.0  # at the border: faded in
    assert region[FEATHER, 10, 0] == pytest.approx(10.0)


def test_a_surface_the_photo_does_not_see_is_hidden() -> None:
    """Two sheets, one 50 depth units behind the other over its left half: the photo sees the front
    sheet everywhere it lies, and the back one only where the front does not reach."""
    front, triangles = _sheet()
    back = front + [0.0, 0.0, 50.0]
    points = np.concatenate([front * [0.5, 1.0, 1.0], back])  # the front sheet covers x 0..25
    both = np.concatenate([triangles, triangles + len(front)])
    photo = PhotoDepth(points, both, (60, 60))
    ids = np.array([[18, 19, 24]])  # a triangle at x 0..10 (row 3)
    bary = np.full((1, 3), 1.0 / 3.0)
    left, right = ids + len(front), ids + len(front) + 3  # on the back sheet: x about 3 and 33
    assert photo.hidden(left, bary).all()
    assert not photo.hidden(right, bary).any()
    assert not photo.hidden(ids, bary).any()  # the front sheet is seen


def _render(registry: EngineRegistry, state, values: dict, far_side: bool) -> np.ndarray:  # noqa: ANN001
    engine = registry.geometric("default")
    renderer = engine.renderer
    before = renderer.settings
    renderer.settings = dataclasses.replace(before, far_side=far_side)
    try:
        target = target_coefficients(state, EditRequest(values=values), registry=registry)
        frame = engine.render_frame(state.engine_state(engine), target)
        return place_frame(Canvas(state.image, state.crop_transform), frame)
    finally:
        renderer.settings = before


def _thin_dark(image: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Pixels of the box (x0, y0, x1, y1) 25 levels darker than both neighbours 2 px away along x or y."""
    x0, y0, x1, y1 = box
    y = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int16)[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2]
    c = y[2:-2, 2:-2]
    across = (y[2:-2, :-4] - c >= 25) & (y[2:-2, 4:] - c >= 25)
    down = (y[:-4, 2:-2] - c >= 25) & (y[4:, 2:-2] - c >= 25)
    return int((across | down).sum())


@pytest.mark.realdata
@pytest.mark.slow
def test_the_far_cheek_of_a_turn_shows_no_dark_streak(shared_data: Path) -> None:
    """people_0 at yaw -30: on the far cheek beside the nose (left of the nose, under the far eye) the
    default renderer drew a dark streak, the turned-away rim squeezed into a line."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "OpenTalker__SadTalker__people_0.png", registry=registry)
    lm = state.analysis.detection.face.landmarks[:, :2]
    # The far cheek beside the turned nose: around the photo's outline on the image-left (the face
    # turns towards it), from under the eye to above the mouth.
    left, wing = float(lm[:, 0].min()), float(lm[129, 0])
    x0, x1 = int(left - 0.4 * (wing - left)), int(left + 0.05 * (wing - left))
    y0, y1 = int(lm[145, 1]) + 10, int(lm[0, 1]) - 25
    off = _thin_dark(_render(registry, state, {"yaw": -30}, far_side=False), (x0, y0, x1, y1))
    on = _thin_dark(_render(registry, state, {"yaw": -30}, far_side=True), (x0, y0, x1, y1))
    assert off >= 8
    assert on <= off // 4


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ("OpenTalker__SadTalker__people_0.png", "serengil__deepface__img1.jpg", "KwaiVGI__LivePortrait__s2.jpg"),
)
def test_edits_without_a_turn_are_unchanged(shared_data: Path, name: str) -> None:
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    for values in ({"open_mouth": 1.0}, {"smile": 1.0}, {"close_eyes": 1.0}):
        off = _render(registry, state, values, far_side=False)
        np.testing.assert_array_equal(_render(registry, state, values, far_side=True), off)
