"""The background beside a moved head stays still (`pipeline.still_background`)."""

from __future__ import annotations

import copy
from dataclasses import replace

import cv2
import numpy as np
import pytest

from pipeline.flow_spread import STRETCH_BOUND
from pipeline.still_background import background_fade, person_grid, usable_person


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


def test_fade_keeps_the_person_and_stills_the_far_background() -> None:
    flow, cover, person = _scene(4.0)
    keep = background_fade(flow, cover, person, face_size=50.0, stretch_bound=STRETCH_BOUND)
    assert keep[60, 60] == 1.0 and keep[60, 88] == 1.0  # face and hair (as shown: moved right by 4)
    assert keep[60, 119] == 0.0 and keep[5, 5] == 0.0  # far background


def test_uncovered_background_stretches_at_most_one_and_a_half() -> None:
    flow, cover, person = _scene(-4.0)  # the head moves left: its right side uncovers background
    keep = background_fade(flow, cover, person, face_size=50.0, stretch_bound=STRETCH_BOUND)
    reads = np.arange(120, dtype=np.float32) + flow[60, :, 0] * keep[60]
    steps = np.diff(reads[70:])  # beyond the shown silhouette on the right
    assert steps.min() >= 1.0 / 1.5 - 1e-3 and np.all(np.diff(reads) > 0)


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
            np.linalg.norm(renderer.render_flow(s, target), axis=2)[far].mean() / state.crop_transform.scale
            for s in (before, now)
        ]
        assert moved[1] <= moved[0] + 1e-3, edit
        if key != "yaw":
            assert moved[1] < 0.5, (edit, moved)
