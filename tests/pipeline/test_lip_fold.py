"""The skin under an opened mouth's lower lip, squeezed instead of folded (`pipeline.lip_fold`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pipeline.lip_fold import EDGE, OUTER_LOWER, unfold_under_lower_lip
from pipeline.mouth import MouthInterior, MouthMotion

H = W = 256
XS = np.linspace(108.0, 148.0, 9)


def _lips(top: float, bottom: float) -> tuple[np.ndarray, np.ndarray]:
    """A 40 px wide mouth: inner upper lip at `top`, inner lower lip dipping to `bottom` mid-mouth."""
    dip = np.sin(np.linspace(0.0, np.pi, len(XS)))
    return np.stack([XS, top - 2.0 * dip], axis=1), np.stack([XS, top + (bottom - top) * dip], axis=1)


def _motion(opened: float) -> MouthMotion:
    interior = MouthInterior(np.linspace(0.06, 0.94, 24), np.full(24, 0.5), None, None, False)
    return MouthMotion(interior, _lips(60.0, 60.0), _lips(60.0, 60.0 + opened))


def _points(drop: float) -> np.ndarray:
    """Target mesh points whose lower lip's outer contour lies 12 px under the inner lower lip."""
    points = np.zeros((478, 3), np.float32)
    _, lower = _lips(60.0, 60.0 + drop)
    xs = np.linspace(104.0, 152.0, len(OUTER_LOWER))
    points[OUTER_LOWER, 0] = xs
    points[OUTER_LOWER, 1] = np.interp(xs, lower[:, 0], lower[:, 1]) + 12.0
    return points


def _dropped_lip(drop: float) -> np.ndarray:
    """The backward flow of a lower lip dropped by `drop` px over a still chin: under the inner lip,
    down to the lip's outer contour 12 px lower, the photo is read `drop` px higher; below it, in place."""
    flow = np.zeros((H, W, 2), np.float32)
    ys, xs = np.mgrid[0:H, 0:W]
    _, lower = _lips(60.0, 60.0 + drop)
    lip = np.interp(xs, lower[:, 0], lower[:, 1])
    on_lip = (ys > lip) & (ys <= lip + 12.0) & (xs > 108) & (xs < 148)
    flow[on_lip, 1] = -drop
    return flow


def _steps(flow: np.ndarray) -> np.ndarray:
    """(H - 1, W) how many photo rows each output row advances down its column."""
    return 1.0 + np.diff(flow[..., 1], axis=0)


def test_a_dropped_lip_is_spread_over_the_skin_under_it() -> None:
    """A 12 px skip at the lip's contour becomes a squeeze of the skin under it: no row skips more
    than 1.5 photo rows, the lip keeps its reads, and the flow is the same far below."""
    flow = _dropped_lip(12.0)
    assert _steps(flow).max() > 12.0
    out = flow.copy()
    unfold_under_lower_lip(out, _motion(12.0), _points(12.0))
    assert _steps(out)[:, 110:146].max() < 1.5
    assert np.abs(_steps(out)).min() > 0.0  # in order: nothing read twice
    ys = np.arange(H)[:, None]
    lip_rows = (ys > 73) & (ys < 83)  # on the dropped lip, mid-mouth
    assert np.allclose(
        out[:, 124:132][np.broadcast_to(lip_rows, (H, 8))],
        flow[:, 124:132][np.broadcast_to(lip_rows, (H, 8))],
    )
    assert np.allclose(out[-1], flow[-1], atol=1e-3)  # the far end keeps its reads
    assert np.allclose(out[:, 0], flow[:, 0], atol=1e-3) and np.allclose(out[:, -1], flow[:, -1], atol=1e-3)
    assert np.allclose(out[:60], flow[:60])  # nothing above the inner lip


def test_the_skin_beside_the_lip_does_not_shear() -> None:
    """Under the spread, neighbouring columns read neighbouring places (no step across a row larger
    than a few pixels where the dropped lip's sides end)."""
    out = _dropped_lip(12.0)
    unfold_under_lower_lip(out, _motion(12.0), _points(12.0))
    across = np.abs(np.diff(out[80:, :, 1], axis=1))
    assert across.max() < 3.0


def test_the_lip_itself_keeps_its_reads() -> None:
    """A turned lip's own squeeze along the rows (its body, above the outer contour) is not spread:
    only the skin from just above the contour down is (round 1 drew a turned lip's body out 2x)."""
    flow = _dropped_lip(12.0)
    xs = np.arange(W, dtype=np.float32)
    flow[60:90, :, 0] += np.clip(xs - 128.0, 0.0, None) * 0.5  # the lip's right half squeezed 1.5x
    out = flow.copy()
    points = _points(12.0)
    unfold_under_lower_lip(out, _motion(12.0), points)
    contour = np.interp(xs, points[OUTER_LOWER, 0], points[OUTER_LOWER, 1])
    body = np.arange(H)[:, None] < contour[None, :] - EDGE - 1.0
    assert np.allclose(out[body], flow[body], atol=1e-3)
    assert not np.allclose(out[~body], flow[~body], atol=1e-3)  # under it, the skin is spread


def test_a_mouth_no_wider_than_the_photo_is_left_alone() -> None:
    flow = _dropped_lip(12.0)
    out = flow.copy()
    unfold_under_lower_lip(out, _motion(0.0), _points(0.0))
    assert np.array_equal(out, flow)


@pytest.mark.realdata
@pytest.mark.slow
def test_an_opened_mouth_does_not_fold_its_lower_lip_over_the_chin(shared_data: Path) -> None:
    """open_mouth 1 on closed lips (EAMM 7, 256 px): down the columns of the mouth's middle, from the
    inner lower lip to half a mouth width under it, no output row skips more than 2.5 photo rows
    (main: the lip's outer contour skipped ~20 rows in one, a beaded seam round the lower lip)."""
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.photo import target_coefficients

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "jixinya__EAMM__7.png", registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    preview = state.engine_state(engine)
    coeffs = target_coefficients(state, EditRequest(values={"open_mouth": 1.0}), registry=registry)
    kept = renderer.settings
    renderer.settings = dataclasses.replace(kept, lip_seam=True)
    try:
        flow = renderer.render_flow(preview, coeffs)
    finally:
        renderer.settings = kept
    upper, lower = (
        renderer.target_points(preview, coeffs)[lip, :2] for lip in renderer.projector.layout.mouth
    )
    left, right = sorted((upper[0, 0], upper[-1, 0]))
    width = right - left
    order = np.argsort(lower[:, 0])
    for x in np.round(np.linspace(left + 0.3 * width, right - 0.3 * width, 7)).astype(int):
        top = float(np.interp(x, lower[order, 0], lower[order, 1]))
        ys = np.arange(int(top) + 2, int(top + 0.5 * width))
        read = ys + flow[ys, x, 1]
        assert np.diff(read).max() < 2.5, (x, np.round(np.diff(read), 1))
