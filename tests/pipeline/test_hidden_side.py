"""The hidden side of a turned face read from its seen side: visibility and the mirrored layer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import EngineRegistry, prepare_photo
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.hidden_side import hidden_side, lay_gain, revealed, vertex_visibility
from pipeline.photo import EditRequest, target_coefficients
from reconstruction.symmetry import mirror_pairs


def _dome(yaw_degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A half-sphere facing the camera (a face-like shell), turned by `yaw`: points in a 128-px
    crop (x, y, depth), its triangles and its mirror pairs."""
    n = 21
    u, v = np.meshgrid(np.linspace(-1.3, 1.3, n), np.linspace(-1.0, 1.0, n))
    shell = np.stack([np.sin(u) * np.cos(v), np.sin(v), -np.cos(u) * np.cos(v)], axis=-1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1, 4)
    triangles = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    a = np.radians(yaw_degrees)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    posed = shell @ rot.T
    points = np.stack([64 + 40 * posed[:, 0], 64 + 40 * posed[:, 1], 40 * posed[:, 2]], axis=1)
    return points, triangles, mirror_pairs(shell)


def test_a_frontal_shell_is_seen_alike_on_both_sides_and_needs_no_mirror() -> None:
    points, triangles, mirror = _dome(0.0)
    visible = vertex_visibility(points, triangles, (128, 128))
    np.testing.assert_allclose(visible, visible[mirror], atol=0.22)  # the grid's diagonals lean one way
    assert hidden_side(points, triangles, mirror, (128, 128)) is None


def test_a_turned_shell_reads_its_far_rim_from_the_near_side() -> None:
    points, triangles, mirror = _dome(35.0)
    visible = vertex_visibility(points, triangles, (128, 128))
    # The side turned away from the camera (larger depth) is seen less than its partner.
    far = points[:, 2] > np.percentile(points[:, 2], 90)
    assert visible[far].mean() < 0.3 and visible[mirror[far]].mean() > 0.7
    hidden = hidden_side(points, triangles, mirror, (128, 128))
    assert hidden is not None
    # Two rings in from the outline the far side reads its partner; the outline itself never does
    # (the mirrored region ends softly inside the face).
    n = 21
    col, row = np.meshgrid(np.arange(n), np.arange(n))
    inner = ((col >= 2) & (col <= n - 3) & (row >= 2) & (row <= n - 3)).ravel()
    outline = ((col == 0) | (col == n - 1) | (row == 0) | (row == n - 1)).ravel()
    far_inner = inner & (points[:, 2] > np.percentile(points[inner, 2], 85))
    assert hidden.share[far_inner].mean() > 0.5 and hidden.share[mirror[far_inner]].max() == 0.0
    assert hidden.share[outline].max() == 0.0
    np.testing.assert_allclose(hidden.mirror_corners[:, :, :], points[mirror][:, :2][triangles])


def test_only_a_turn_towards_the_camera_reveals_the_hidden_side() -> None:
    points, triangles, mirror = _dome(35.0)
    hidden = hidden_side(points, triangles, mirror, (128, 128))
    assert hidden is not None
    assert revealed(hidden, triangles, points) is None  # the photo's own pose: nothing to fill
    assert revealed(hidden, triangles, _dome(45.0)[0]) is None  # turned further away
    towards = revealed(hidden, triangles, _dome(5.0)[0])
    assert towards is not None and towards.max() > 0.5


@pytest.mark.realdata
def test_a_three_quarter_face_turned_to_the_camera_reads_its_far_cheek_from_the_face(
    shared_data: Path,
) -> None:
    """teaser_1 (turned ~25 degrees) at yaw -30: the target shows the far cheek the photo hides,
    and its mirrored reads land on the photo's face (its hull), not on hair or background."""
    photo = shared_data / "images" / "YadiraF__DECA__teaser_1.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo.name} not found")
    registry = EngineRegistry()
    state = prepare_photo(photo, registry=registry)
    target = target_coefficients(state, EditRequest({"yaw": -30.0}), registry=registry)
    off = GeometricRenderer(
        "mediapipe-linear" if False else registry.geometric(state.backend).renderer.projector.model
    )
    on = GeometricRenderer(off.projector.model, PreviewSettings(hidden_side=True))
    ps_off, ps_on = (r.prepare(state.crop, state.coefficients) for r in (off, on))
    frame_off, frame_on = off.render_frame(ps_off, target), on.render_frame(ps_on, target)
    assert frame_off.front_alpha is None and frame_on.front_alpha is not None
    size = ps_on.size
    face = np.zeros(size, np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(np.round(ps_on.points[:, :2]).astype(np.int32)), 1)
    grid = np.stack([ps_on.grid_x, ps_on.grid_y], axis=-1)
    far = frame_on.front_alpha < 0.5  # the target's pixels the photo hides, with a seen partner
    assert far.sum() > 200

    def off_face(reads: np.ndarray) -> float:
        xy = np.clip(np.round(reads[far]).astype(int), 0, size[0] - 1)
        return float(1.0 - face[xy[:, 1], xy[:, 0]].mean())

    before = off_face(grid + frame_off.flow)
    now = off_face(grid + frame_on.back_flow)
    # The mirrored region ends two rings inside the outline, so the ordinary reads there mostly
    # land on the face as well (measured 0.02); the mirrored reads never leave it (measured 0.0).
    assert before < 0.1 and now < 0.01, (before, now)


def test_colour_factors_are_laid_only_where_they_differ_from_one() -> None:
    photo = np.full((40, 60, 3), 200, np.uint8)
    gain = np.ones((20, 20, 3), np.float32)
    gain[5:10, 5:10] = 0.5
    to_crop = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])  # photo pixel -> crop pixel (2 : 1)
    lay_gain(photo, gain, to_crop)
    assert photo[15, 15].tolist() == [100, 100, 100]  # crop (7.5, 7.5): fully inside the factors
    assert (photo[:, 30:] == 200).all() and (photo[30:] == 200).all()  # far from them: untouched
