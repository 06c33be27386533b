"""Glasses in the photo (pipeline/glasses.py) and closing the eyes behind them (docs/GLASSES.md)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.eyes import lash_heights
from pipeline.glasses import find_glasses, frame_heights, hold_frame

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.glasses_sheet import PHOTO, rim_shifts  # noqa: E402

NO_GLASSES = (
    "serengil__deepface__img1.jpg",
    "serengil__deepface__img3.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "fudan-generative-vision__hallo__7.jpg",
    "cmusatyalab__openface__carell.jpg",
    "ageitgey__face_recognition__biden2.jpg",
    "dchen236__FairFace__race_Asian.jpg",
)


def _eyes() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two eyes 30 px wide, lid lines at y = 60, inner corners at x = 70 and x = 90."""
    out = []
    for x0 in (40.0, 90.0):
        xs = np.linspace(x0, x0 + 30.0, 9)
        out.append((np.stack([xs, np.full(9, 60.0)], axis=1), np.stack([xs, np.full(9, 66.0)], axis=1)))
    return out


def _face(glasses: bool) -> np.ndarray:
    image = np.full((120, 160, 3), 180, np.uint8)
    image[58:61, 40:71] = 30  # lashes along both lids
    image[58:61, 90:121] = 30
    if glasses:
        image[50:54, 30:130] = 40  # the frame's upper rim above both eyes, 6-10 px above the lids
        image[50:54, 65:95] = 25  # and the bridge across the nose
    return image


def test_a_frame_above_both_eyes_with_a_bridge_is_found() -> None:
    eyes, image = _eyes(), _face(True)
    lashes = [lash_heights(image, upper) for upper, _ in eyes]  # the lashes are no frame
    frames = frame_heights(image, eyes, lashes)
    for frame in frames:
        assert frame is not None
        # the rim's lower edge (row 53) or lower: a dark run below it (the lashes here) counts too,
        # the lid then reads no skin below the frame
        assert np.all(frame[:, 0] <= 7.5), frame
        assert np.all(np.abs(frame[:, 1] - 10.0) <= 1.0), frame  # its upper edge (row 50)
    assert frame_heights(_face(False), eyes, [lash_heights(_face(False), u) for u, _ in eyes]) == (None, None)


def test_a_dark_brow_without_a_bridge_is_no_frame() -> None:
    image = _face(False)
    image[44:48, 35:65] = 40  # brows above each eye, nothing across the nose
    image[44:48, 95:125] = 40
    eyes = _eyes()
    assert frame_heights(image, eyes, [lash_heights(image, upper) for upper, _ in eyes]) == (None, None)


def test_the_frame_mask_holds_the_frame_not_the_eye() -> None:
    eyes, image = _eyes(), _face(True)
    lashes = tuple(lash_heights(image, upper) for upper, _ in eyes)
    found = find_glasses(image, eyes, lashes)
    assert found is not None
    (x0, y0, x1, y1), share = found[1]
    full = np.zeros(image.shape[:2], np.float32)
    full[y0:y1, x0:x1] = share
    assert full[50:54, 45:65].min() > 0.9  # the rim above the left eye
    assert full[50:54, 72:88].min() > 0.9  # the bridge
    assert full[61:70, 40:71].max() < 0.05  # the opening and the skin under it close and turn freely
    assert find_glasses(_face(False), eyes, tuple(lash_heights(_face(False), u) for u, _ in eyes)) is None


def test_the_frame_keeps_a_still_heads_flow_and_rides_a_turning_one() -> None:
    share = np.ones((4, 4), np.float32)
    rigid = np.zeros((5, 2))
    flow = np.full((10, 10, 2), 3.0, np.float32)
    hold_frame(flow, ((2, 2, 6, 6), share), rigid, rigid + 0.5)  # a wink: the skull stays
    assert np.all(flow[2:6, 2:6] == 0.0) and np.all(flow[0] == 3.0)
    flow = np.full((10, 10, 2), 3.0, np.float32)
    hold_frame(flow, ((2, 2, 6, 6), share), rigid, rigid + 10.0)  # a turn: the frame moves with it
    assert np.all(flow == 3.0)


def _render(
    shared_data: Path, registry: EngineRegistry, name: str, edit_name: str, glasses: bool
) -> np.ndarray:
    renderer = registry.geometric("default").renderer
    default = renderer.settings
    renderer.settings = dataclasses.replace(default, glasses=glasses)
    try:
        state = prepare_photo(shared_data / "images" / name, registry=registry)
        request = EditRequest({edit_name: 1.0}, engine="preview")
        return np.asarray(edit(state, request, registry=registry).full_image)
    finally:
        renderer.settings = default


@pytest.mark.realdata
@pytest.mark.slow
def test_closing_the_eyes_behind_glasses_leaves_the_frame(
    shared_data: Path, registry: EngineRegistry
) -> None:
    """clapton, close_eyes 1 with the glasses setting on: the frame's upper rim above each eye stays
    within 1 photo px (the lid dragged it 6 px down into the eye)."""
    photo = np.asarray(prepare_photo(shared_data / "images" / PHOTO, registry=registry).image)
    out = _render(shared_data, registry, PHOTO, "close_eyes", glasses=True)
    for eye, shifts in rim_shifts(photo, out).items():
        assert np.abs(shifts).max() <= 1.0, (eye, shifts)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_wink_behind_glasses_leaves_the_frame(shared_data: Path, registry: EngineRegistry) -> None:
    """clapton, wink_left 1 with the setting on: the shut eye's rim stays within 1 photo px (round 1
    moved it 2.9 px by the bridge; main 6 px)."""
    photo = np.asarray(prepare_photo(shared_data / "images" / PHOTO, registry=registry).image)
    out = _render(shared_data, registry, PHOTO, "wink_left", glasses=True)
    assert np.abs(rim_shifts(photo, out)["left"]).max() <= 1.0


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", NO_GLASSES[:2])
def test_photos_without_glasses_render_as_before(
    shared_data: Path, registry: EngineRegistry, name: str
) -> None:
    """No glasses found: closing the eyes renders pixel-identical with the setting on and off."""
    on, off = (_render(shared_data, registry, name, "close_eyes", glasses=g) for g in (True, False))
    assert np.array_equal(on, off)
