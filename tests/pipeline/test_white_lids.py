"""Tests of pipeline/white_lids.py: a squint shut from both sides (docs/WHITE_LIDS.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.images import LUMA
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.eyes import Iris, refine_eye_flow
from pipeline.white_lids import SQUINT_SHARE, squint_reads

ANGRY = "justadudewhohacks__face-api.js__angry.jpg"


def _column(closure: float, shut: bool) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """One column of a squint: lid line at row 50, lower lid at 56, skin drawn up down to 70."""
    qy = np.arange(20.0, 80.0, 0.25)
    lid, low, bottom = (np.full_like(qy, v) for v in (50.0, 56.0, 70.0))
    root = lid - 1.5 if shut else np.full_like(qy, np.inf)
    return (qy, lid, low, bottom), root, lid - 16.0


def test_no_share_is_main_s_squint() -> None:
    """share 0: the photo as it is down to `root`, the skin under the lower lid risen to the lid line."""
    closure = 1.0
    q, root, start = _column(closure, shut=True)
    qy, lid, low, bottom = q
    read, margin = squint_reads(q, root, start, closure)
    rise = low - closure * np.maximum(low - lid, 0.0)
    lower_y = low + 0.5 + (qy - rise) * (bottom - low - 0.5) / np.maximum(bottom - rise, 1e-3)
    meet = np.clip(qy - rise + 0.5, 0.0, 1.0)
    np.testing.assert_array_equal(read, (1.0 - meet) * np.minimum(qy, root) + meet * lower_y)
    np.testing.assert_array_equal(margin, lid)


def test_a_shared_squint_meets_in_the_slit() -> None:
    """Shut with a share of 0.5: the upper lid's skin (down to `root`) reaches the middle of the
    slit, where the risen skin from under the lower lid meets it; above the band the photo stays."""
    q, root, start = _column(1.0, shut=True)
    qy = q[0]
    read, margin = squint_reads(q, root, start, 1.0, 0.5)
    np.testing.assert_allclose(margin, 53.0)
    above = qy < start[0]
    np.testing.assert_array_equal(read[above], qy[above])
    upper = (qy >= start[0]) & (qy <= 52.5)
    assert np.all(read[upper] <= root[0] + 1e-9)  # never the hidden eyeball or its lashes
    assert np.all(np.diff(read[upper]) >= 0.0)
    assert root[0] - 0.5 < read[np.searchsorted(qy, 52.5)] <= root[0]  # stretched to the margin
    assert np.all(read[qy >= 53.5] > 56.0)  # under the meeting row: the skin under the lower lid


def test_a_partly_closed_squint_lowers_its_lid_over_the_eyeball() -> None:
    """Not shut (closure 0.4): the upper lid's margin comes 0.4 * 0.5 of the gap down over the eyeball,
    which shows as it is below it."""
    q, root, start = _column(0.4, shut=False)
    qy = q[0]
    read, margin = squint_reads(q, root, start, 0.4, 0.5)
    np.testing.assert_allclose(margin, 51.2)
    assert read[np.searchsorted(qy, 51.0)] < 50.0  # the lid's skin
    eyeball = (qy > 51.5) & (qy < 52.5)
    np.testing.assert_allclose(read[eyeball], qy[eyeball])


def test_refine_eye_flow_puts_a_shut_squint_s_edge_lower() -> None:
    """In the flow, the row where a shut squint's reads jump over the slit (where the lash line is
    painted) lies at the lid line with no share and half-way down the slit with one."""
    x = np.linspace(28.0, 68.0, 9)
    bulge = 1.0 - ((x - 48.0) / 20.0) ** 2
    photo = (np.stack([x, 50.0 - 4.0 * bulge], 1), np.stack([x, 50.0 + 4.0 * bulge], 1))
    target = (np.stack([x, np.full(9, 50.0)], 1), np.stack([x, np.full(9, 50.0)], 1))
    iris = Iris(np.array([48.0, 50.0]), 6.0)
    jumps = []
    for share in (0.0, SQUINT_SHARE):
        flow = np.zeros((96, 96, 2), np.float32)
        refine_eye_flow(flow, iris, photo, target, squint=True, share=share)
        reads = np.arange(96)[:, None] + flow[:, 48, 1:2]
        jumps.append(int(np.argmax(np.diff(reads[:, 0]))))
    assert jumps[0] <= 46, jumps  # the photo's lid line at the middle: row 46
    assert jumps[1] >= 49, jumps  # half-way down the 8 px slit: row 50


@pytest.mark.realdata
@pytest.mark.slow
def test_angry_s_shut_squint_has_its_lash_line_in_the_slit(shared_data, registry: EngineRegistry) -> None:
    """face-api.js angry at close_eyes 1: with `white_lids` the image-left shut eye's lash line (its
    darkest row, middle half of the eye) lies at least 0.35 of the photo's slit below the upper lid
    line; main draws it at the top of the slit (about 0.1), over risen lit skin."""
    state = prepare_photo(shared_data / "images" / ANGRY, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    prepared = state.engine_state(engine)
    u, lo = renderer.projector.layout.eyes[0]
    upper, lower = (state.crop_transform.inverse_points(prepared.points[i, :2]) for i in (u, lo))
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, white_lids=True)
    try:
        image = edit(state, EditRequest({"close_eyes": 1.0}, engine="preview"), registry=registry).full_image
    finally:
        renderer.settings = kept
    left, right = upper[0, 0], upper[-1, 0]
    depths = []
    for x in range(int(left + 0.25 * (right - left)), int(right - 0.25 * (right - left)) + 1):
        top = float(np.interp(x, upper[:, 0], upper[:, 1]))
        bottom = float(np.interp(x, lower[:, 0], lower[:, 1]))
        rows = np.arange(int(np.floor(top - 1)), int(np.ceil(bottom + 1)) + 1)
        darkest = rows[int(np.argmin(image[rows, x].astype(np.float64) @ LUMA))]
        depths.append((darkest - top) / max(bottom - top, 1.0))
    assert float(np.median(depths)) >= 0.35, depths
