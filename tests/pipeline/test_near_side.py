"""The near side of a turn: a synthetic face's magnified strip off the skin keeps near its width (the
rim's read, the band's inner end and the far side stay), and on real photos at yaw 30 the near cheek
reads less of the strip beyond the skin than before."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import pipeline.near_side as near_side
from pipeline import EditRequest, EngineRegistry, prepare_photo
from pipeline.near_side import NEAR_BAND, STRIP_MAGNIFICATION, keep_strip_width, skin_map
from pipeline.photo import target_coefficients

SIZE = 128
FACE = 30.0 / NEAR_BAND  # a face size whose near band is 30 pixels wide


def _turned_face() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A face square (columns 30..97) on a grid of one pixel per crop pixel whose left band reads the
    photo slowly (columns 30..50 read 26..36: a 2x magnified strip, then catching up by column 60),
    a skin map that is skin from photo column 32 on, and the cover."""
    cover = np.zeros((SIZE, SIZE), np.float32)
    cover[20:108, 30:98] = 1.0
    cols = np.arange(SIZE, dtype=np.float32)
    read = cols.copy()
    read[30:51] = 26.0 + 0.5 * (cols[30:51] - 30.0)
    read[51:61] = 36.5 + 2.35 * (cols[51:61] - 50.0)  # back on the mesh's own path by column 60
    flow = np.zeros((SIZE, SIZE, 2), np.float32)
    flow[:, :, 0] = (read - cols)[None, :]
    flow *= cover[:, :, None]
    skin = np.zeros((SIZE, SIZE), np.float32)
    skin[:, 32:] = 1.0
    return flow, cover, skin


def _reads(flow: np.ndarray, row: int) -> np.ndarray:
    return np.arange(SIZE, dtype=np.float32) + flow[row, :, 0]


def test_the_strip_off_the_skin_keeps_near_its_width() -> None:
    flow, cover, skin = _turned_face()
    out = keep_strip_width(flow, cover, skin, FACE, scale=1.0)
    before, now = _reads(flow, 64), _reads(out, 64)
    # Before: photo columns 26..32 (off the skin) take output columns 30..42; now at most 1.3x + a pixel.
    strip_now = int(np.argmax(now[30:] >= 32.0))
    assert int(np.argmax(before[30:] >= 32.0)) == 12
    assert strip_now <= 6.0 * STRIP_MAGNIFICATION + 1.5
    assert now[30] == pytest.approx(before[30], abs=0.05)  # the rim's read: the flow beyond continues from it
    assert np.all(np.diff(now[30:61]) > 0.0)  # still in order
    np.testing.assert_allclose(now[62:], before[62:], atol=1e-4)  # the band's inner end and the far side
    np.testing.assert_allclose(out[:, :29], flow[:, :29], atol=1e-4)  # nothing outside the face


def test_nothing_changes_on_skin_or_when_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    flow, cover, skin = _turned_face()
    np.testing.assert_array_equal(keep_strip_width(flow, cover, np.ones_like(skin), FACE, 1.0), flow)
    monkeypatch.setattr(near_side, "STRIP_MAGNIFICATION", 0.0)
    np.testing.assert_array_equal(keep_strip_width(flow, cover, skin, FACE, 1.0), flow)


def test_skin_map_tells_the_cheek_from_hair_and_background() -> None:
    image = np.full((SIZE, SIZE, 3), (170, 190, 230), np.uint8)  # pale blue background
    cv2.ellipse(image, (64, 64), (40, 52), 0, 0, 360, (60, 40, 30), -1)  # dark hair
    cv2.ellipse(image, (64, 70), (30, 40), 0, 0, 360, (225, 180, 160), -1)  # skin
    ys, xs = np.mgrid[40:100:2, 40:90:2]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    skin = skin_map(image, points)
    assert skin.shape == (SIZE, SIZE) and skin.dtype == np.float32
    assert skin[70, 64] > 0.9
    assert skin[64, 27] < 0.1  # hair beside the face
    assert skin[5, 5] < 0.1  # background


def _near_side_figures(shared_data: Path, name: str, yaw: float) -> dict[str, tuple[float, float]]:
    """With the correction off and on: "share", the share of the near cheek band (the target face's
    outer 12 % of each row's width on the near side) whose reads' colour is closer to the photo's
    strip beyond the skin (a ring 3 % of the face size wide inside the mesh's near outline) than to
    the cheek (Lab medians); "magnification", the 90th percentile of the horizontal magnification
    (output pixels per photo pixel along a row) of the band's reads that land off the skin map."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    engine = registry.geometric("default")
    preview = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": yaw}), registry=registry)
    lab = cv2.cvtColor(preview.source, cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = preview.size
    hull = cv2.convexHull(np.round(preview.points[:, :2]).astype(np.int32))
    mesh = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mesh, hull, 1)
    ring = mesh - cv2.erode(
        mesh, np.ones((3, 3), np.uint8), iterations=max(1, round(0.03 * preview.face_size))
    )
    x_mid = int(np.median(preview.points[:, 0]))
    if yaw > 0:  # the near side: our left
        ring[:, x_mid:] = 0
    else:
        ring[:, :x_mid] = 0
    ring_colour = np.median(lab[ring > 0], axis=0)
    xy = preview.points[:, :2]
    middle = np.all(np.abs(xy - xy.mean(axis=0)) < 0.25 * np.ptp(xy, axis=0), axis=1)
    pix = np.round(xy[middle]).astype(np.int64)
    cheek_colour = np.median(lab[pix[:, 1], pix[:, 0]], axis=0)
    face = engine.renderer.face_mask(preview, target) > 127
    band = np.zeros_like(face)
    for y in np.nonzero(face.any(axis=1))[0]:
        cols = np.nonzero(face[y])[0]
        width = int(round(0.12 * (cols[-1] - cols[0] + 1)))
        if yaw > 0:
            band[y, cols[0] : cols[0] + width] = True
        else:
            band[y, cols[-1] - width + 1 : cols[-1] + 1] = True
    ys, xs = np.nonzero(band)
    figures: dict[str, list[float]] = {"share": [], "magnification": []}
    for magnification in (0.0, STRIP_MAGNIFICATION):
        near_side.STRIP_MAGNIFICATION = magnification
        try:
            flow = engine.render_frame(preview, target).flow
        finally:
            near_side.STRIP_MAGNIFICATION = STRIP_MAGNIFICATION
        read_x = (np.arange(w)[None, :] + flow[:, :, 0]).astype(np.float32)
        read_y = (np.arange(h)[:, None] + flow[:, :, 1]).astype(np.float32)
        read = cv2.remap(lab, read_x, read_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[ys, xs]
        closer = np.linalg.norm(read - ring_colour, axis=1) < np.linalg.norm(read - cheek_colour, axis=1)
        figures["share"].append(float(np.mean(closer)))
        off = cv2.remap(preview.skin, read_x, read_y, cv2.INTER_LINEAR)[ys, xs] < 0.5
        pace = np.abs(np.gradient(read_x, axis=1))[ys, xs][off]
        figures["magnification"].append(
            float(np.percentile(1.0 / np.maximum(pace, 1e-3), 90)) if off.any() else 0.0
        )
    return {key: (values[0], values[1]) for key, values in figures.items()}


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the trial loses its rule: the near band's reads barely change (docs/NEAR_SIDE.md)",
)
@pytest.mark.parametrize("name", ["KwaiVGI__LivePortrait__d38.jpg", "tanshuai0219__EDTalk__uncrop_face.jpg"])
def test_the_near_cheek_reads_less_of_the_strip_beyond_the_skin(shared_data: Path, name: str) -> None:
    figures = _near_side_figures(shared_data, name, 30.0)
    (share_before, share_now), (zoom_before, zoom_now) = figures["share"], figures["magnification"]
    assert share_now < 0.8 * share_before
    assert zoom_now < 0.8 * zoom_before
