"""The near band of the target mesh flattened before rasterisation (a trial, off: docs/NEAR_BALLOON.md):
vertices beyond the near eye corner held to `NEAR_WIDEN_CAP` times their photo distance, the eyes,
the face's inside and the far side left alone; on a real photo the mesh the renderer rasterises has
its near band held with the flag on (main's is 2.44x as wide as in the photo)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pipeline.near_balloon import NEAR_WIDEN_CAP, flatten_near_band
from pipeline.preview_settings import PreviewSettings

EYES = ((np.array([0, 1]), np.array([0, 1])), (np.array([2, 3]), np.array([2, 3])))
FACE = 100.0


def _meshes() -> tuple[np.ndarray, np.ndarray]:
    """Eyes at x 30..45 and 55..70, cheek vertices beyond them; the target turned so the image-left
    band opens 3x and the image-right one shrinks."""
    source = np.array(
        [
            [30, 50, 0],
            [45, 50, 0],
            [55, 50, 0],
            [70, 50, 0],
            [20, 60, 0],
            [10, 70, 0],
            [80, 60, 0],
            [50, 80, 0],
        ],
        dtype=np.float64,
    )
    target = source.copy()
    target[:, 0] += 10.0  # the face slides towards the far side
    target[[4, 5], 0] = 40.0 - 3.0 * (30.0 - source[[4, 5], 0])  # the near band opens 3x
    target[6, 0] = 80.0 + 0.5 * 10.0  # the far band shrinks
    return source, target


def test_the_near_band_is_held_to_the_cap() -> None:
    source, target = _meshes()
    out = flatten_near_band(source, target, EYES, FACE)
    corner_s, corner_t = source[:2, 0].min(), out[:2, 0].min()
    for v in (4, 5):  # 10 and 20 px beyond the corner: the ramp (5 px) is passed
        assert (corner_t - out[v, 0]) == pytest.approx(NEAR_WIDEN_CAP * (corner_s - source[v, 0]))
    np.testing.assert_array_equal(out[:, 1:], target[:, 1:])


def test_the_eyes_the_inside_and_the_far_side_are_left_alone() -> None:
    source, target = _meshes()
    out = flatten_near_band(source, target, EYES, FACE)
    np.testing.assert_array_equal(out[[0, 1, 2, 3, 6, 7]], target[[0, 1, 2, 3, 6, 7]])


def test_an_unturned_mesh_is_unchanged() -> None:
    source, _ = _meshes()
    np.testing.assert_array_equal(
        flatten_near_band(source, source + [5.0, 2.0, 0.0], EYES, FACE), source + [5.0, 2.0, 0.0]
    )


def test_the_flag_is_off_by_default() -> None:
    assert PreviewSettings().near_balloon is False


@pytest.mark.realdata
@pytest.mark.slow
def test_the_rasterised_near_band_is_held(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """img18 at yaw +30: the near band of the mesh the renderer rasterises on its coarse grid is at
    most 1.6x as wide as in the photo (main: 2.44x)."""
    import pipeline.geometric as geometric
    from benchmarks.near_balloon_measure import mesh_widening
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.photo import target_coefficients

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "serengil__deepface__img18.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    renderer, prepared = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest({"yaw": 30.0}, engine="preview"), registry=registry)
    seen: list[tuple[np.ndarray, tuple[int, int]]] = []
    real = geometric.rasterise_meshes

    def spy(meshes):  # noqa: ANN001, ANN202
        seen.append((np.array(meshes[0][0]), meshes[0][2]))  # the coarse grid's mesh comes first
        return real(meshes)

    monkeypatch.setattr(geometric, "rasterise_meshes", spy)
    base = renderer.settings
    try:
        renderer.settings = dataclasses.replace(base, near_balloon=True)
        renderer.render_flow(prepared, target)
    finally:
        renderer.settings = base
    coarse, (rh, rw) = seen[0]
    (h, w), points = prepared.size, coarse.copy()
    points[:, 0] = (coarse[:, 0] + 0.5) * w / rw - 0.5  # back to crop pixels
    points[:, 1] = (coarse[:, 1] + 0.5) * h / rh - 0.5
    layout = renderer.projector.layout
    assert mesh_widening(prepared.points, points, layout, prepared.size, -1) <= 1.6
