"""The background beside a moved head stays still (`pipeline.still_background`)."""

from __future__ import annotations

import copy
from dataclasses import replace

import cv2
import numpy as np
import pytest

from pipeline.still_background import background_flow, person_grid, still_layers, usable_person


def _scene(shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 120-px grid: a person (disc of radius 30 at the centre) whose face (radius 20) and hair
    move by `shift` px to the right (backward flow -shift), the carried flow everywhere."""
    yy, xx = np.mgrid[0:120, 0:120].astype(np.float32)
    r = np.hypot(xx - 60, yy - 60)
    cover = (r < 20).astype(np.float32)
    person = (r < 30).astype(np.float32)
    flow = np.zeros((120, 120, 2), np.float32)
    flow[..., 0] = -shift
    return flow, cover, person


def test_back_layer_stays_still_beside_what_the_head_covers() -> None:
    flow, cover, person = _scene(4.0)  # the head moves right: it covers on the right
    back = background_flow(flow, cover, person)
    assert np.abs(back[60, 95:]).max() == 0.0  # beyond the covering side
    assert np.abs(back[:5, :5]).max() == 0.0  # far background


def test_uncovered_background_is_filled_from_beside_it() -> None:
    flow, cover, person = _scene(4.0)  # ... and uncovers on the left
    back = background_flow(flow, cover, person)
    reads = np.arange(120, dtype=np.float32) + back[60, :, 0]
    assert np.all(reads[31:34] < 30.0)  # what the head uncovers reads the background beyond the silhouette
    assert np.abs(back[60, :29]).max() == 0.0  # the background itself stays
    _, alpha = still_layers(flow, cover, person)
    assert alpha[60, 60] == 1.0 and alpha[60, 31] == 0.0 and alpha[60, 92] == 1.0


def test_unusable_segmentations_are_refused() -> None:
    face = np.zeros((40, 40), bool)
    face[10:20, 10:20] = True
    assert not usable_person(np.zeros((40, 40), np.float32), face)  # nothing found
    assert not usable_person(np.ones((40, 40), np.float32), face)  # the person fills the crop
    person = np.zeros((40, 40), np.float32)
    person[5:30, 5:30] = 1.0
    assert usable_person(person, face)


def test_person_grid_is_on_the_coarse_grid() -> None:
    person = np.zeros((200, 200), np.float32)
    cv2.circle(person, (100, 100), 60, 1.0, -1)
    points = np.array([[80, 80], [120, 80], [100, 125]], np.float32)
    grid = person_grid(person, points, 0.5)
    assert grid is not None and grid.shape == (100, 100)
    assert person_grid(np.zeros_like(person), points, 0.5) is None


def _shown_motion(frame) -> np.ndarray:
    """(c, c) length of the motion the output shows: the front's flow, over the back layer's where
    the front does not cover."""
    if frame.front_alpha is None:
        return np.linalg.norm(frame.flow, axis=2)
    alpha = frame.front_alpha[:, :, None]
    return np.linalg.norm(alpha * frame.flow + (1.0 - alpha) * frame.back_flow, axis=2)


PHOTOS = ("tanshuai0219__EDTalk__uncrop_face.jpg", "KwaiVGI__LivePortrait__d38.jpg")


@pytest.mark.realdata
@pytest.mark.parametrize("name", PHOTOS)
def test_background_beside_the_head_stays_still(shared_data, name) -> None:
    """Background pixels farther than 0.15 face sizes from the person (photo pixels of motion): a
    nod or a tilt leaves them still; a turn moves them less than before."""
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.head_fill import valid_region
    from pipeline.photo import target_coefficients
    from reconstruction.segmentation import PersonSegmenter

    registry = EngineRegistry()
    state = prepare_photo(str(shared_data / "images" / name), registry=registry)
    engine = registry.select("preview", state.backend, state.face_model)
    renderer = copy.copy(engine.renderer)
    renderer.settings = replace(renderer.settings, still_background=True)
    now = renderer.prepare(state.crop, state.coefficients, transform=state.crop_transform)
    before = replace(now, person=None)
    with PersonSegmenter() as segmenter:
        person = segmenter.person_mask(state.crop) > 0.5
    distance = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5)
    far = ~person & (distance > 0.15 * now.face_size) & (valid_region(state.crop_transform) > 0.5)
    for edit in ("yaw=30", "yaw=-30", "pitch=15", "pitch=-15", "roll=15"):
        key, value = edit.split("=")
        target = target_coefficients(state, EditRequest({key: float(value)}), registry=registry)
        moved = [
            _shown_motion(renderer.render_frame(s, target))[far].mean() / state.crop_transform.scale
            for s in (before, now)
        ]
        assert moved[1] <= moved[0] + 1e-3, edit
        if key != "yaw":
            assert moved[1] < 0.5, (edit, moved)
