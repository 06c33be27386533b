"""Tests of pipeline/eyes.py::paint_lid_skin: a shut lid whose fitted line lies inside the iris (a
deep-set eye) gets lid skin over the iris it would carry (synthetic eyes; KwaiVGI s2)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.eyes import Iris, paint_lid_skin, refine_eye_flow
from pipeline.face_paint import curve_y

_LUMA = np.array([0.299, 0.587, 0.114])
SKIN, SCLERA, IRIS, GLINT = 110.0, 220.0, 40.0, 250.0
LOWER = np.array([[20.0, 40.0], [40.0, 52.0], [60.0, 40.0]])
REAL_UPPER = np.array([[20.0, 40.0], [40.0, 35.0], [60.0, 40.0]])


def _eye() -> np.ndarray:
    """(80, 80, 3) uint8: shadowed lid skin, an eye open between REAL_UPPER and LOWER (white, an
    iris of radius 8 at (40, 44) with a catchlight up-left), lashes along the real lid line."""
    ys, xs = np.mgrid[0:80, 0:80].astype(np.float64)
    luma = np.full((80, 80), SKIN)
    opening = (ys > curve_y(REAL_UPPER, xs)) & (ys < curve_y(LOWER, xs))
    luma[opening] = SCLERA
    luma[opening & (np.hypot(xs - 40, ys - 44) < 8)] = IRIS
    luma[opening & (np.hypot(xs - 37, ys - 38) < 1.2)] = GLINT
    luma[(np.abs(ys - curve_y(REAL_UPPER, xs) + 0.5) < 0.8) & (xs > 21) & (xs < 59)] = 30.0
    return np.repeat(np.clip(luma, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _shut(source: np.ndarray, fitted_upper: np.ndarray, paint: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(out, coverage): the eye shut by `refine_eye_flow` from the `fitted_upper` lid line, lid
    skin painted (`paint`) or not."""
    iris = Iris(np.array([40.0, 44.0]), 8.0)
    target = (np.array([[20.0, 40.0], [40.0, 52.0], [60.0, 40.0]]), LOWER)
    flow = np.zeros((80, 80, 2), np.float32)
    refine_eye_flow(flow, iris, (fitted_upper, LOWER), target)
    grid_x, grid_y = np.meshgrid(np.arange(80, dtype=np.float32), np.arange(80, dtype=np.float32))
    out = cv2.remap(source, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR)
    coverage = np.zeros((80, 80), np.float32)
    if paint:
        paint_lid_skin(out, coverage, out.copy(), source, flow, iris, ((fitted_upper, LOWER), target))
    return out, coverage


def test_a_lid_fitted_inside_the_iris_shuts_over_skin_not_iris() -> None:
    source = _eye()
    fitted = REAL_UPPER + [0.0, 4.0]  # the fit lies 4 pixels low, inside the iris
    plain, _ = _shut(source, fitted, paint=False)
    out, coverage = _shut(source, fitted)
    lid = (slice(43, 49), slice(35, 46))  # the shut lid's lower part, over the iris
    luma_plain, luma = plain[lid] @ _LUMA, out[lid] @ _LUMA
    assert luma_plain.min() < 60 and luma_plain.max() > 200  # iris and catchlight under the lid
    assert coverage.max() > 0.9
    assert np.percentile(luma, 5) > 0.7 * SKIN, np.percentile(luma, 5)
    assert luma.max() < 0.5 * (SKIN + GLINT)


def test_a_well_fitted_lid_is_left_as_it_is() -> None:
    _, coverage = _shut(_eye(), REAL_UPPER)
    assert coverage.max() == 0.0


def _shut_lid_figures(
    image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray
) -> tuple[float, int]:
    """(darkest 5 % luma / the input's lid skin median, pixels brighter than that skin's 99th
    percentile) inside the shut lid: the photo's opening, inner 80 %, without its lower 35 %."""
    width = float(np.ptp(upper[:, 0]))
    x0, x1 = int(upper[:, 0].min()), int(upper[:, 0].max()) + 1
    y0, y1 = int(upper[:, 1].min() - 0.45 * width), int(lower[:, 1].max()) + 1
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    inner = np.abs(xs - 0.5 * (x0 + x1)) < 0.4 * width
    shut = (ys > top) & (ys < bottom - 0.35 * (bottom - top)) & inner
    skin = (ys > top - 0.4 * width) & (ys < top - 0.1 * width) & inner
    luma_in, luma_out = image[y0:y1, x0:x1] @ _LUMA, out[y0:y1, x0:x1] @ _LUMA
    level = float(np.median(luma_in[skin]))
    return float(np.percentile(luma_out[shut], 5)) / level, int(
        (luma_out[shut] > np.percentile(luma_in[skin], 99)).sum()
    )


@pytest.mark.realdata
@pytest.mark.slow
def test_deep_set_eyes_shut_without_the_iris_under_the_lid(shared_data, registry: EngineRegistry) -> None:
    """KwaiVGI s2 (deep-set eyes, the fitted lids lie in the irises) at close_eyes 1, lid skin on:
    the image-right eye's shut lid carries no dark band and no catchlight (the default: the
    darkest 5 % at 0.49 of the lid skin, 14 catchlight pixels), the other's dark band is lighter."""
    state = prepare_photo(shared_data / "images" / "KwaiVGI__LivePortrait__s2.jpg", registry=registry)
    renderer = registry.geometric(state.backend).renderer
    default = renderer.settings
    points = state.engine_state(registry.geometric(state.backend)).points
    eyes = [
        (
            state.crop_transform.inverse_points(points[u, :2]),
            state.crop_transform.inverse_points(points[lo, :2]),
        )
        for u, lo in renderer.projector.layout.eyes
    ]
    request = EditRequest({"close_eyes": 1.0}, engine="preview")
    images = {}
    try:
        for on in (False, True):
            renderer.settings = dataclasses.replace(default, lid_skin=on)
            images[on] = edit(state, request, registry=registry).full_image
    finally:
        renderer.settings = default
    plain, out = images[False], images[True]
    (dark_0, _), (dark_1, glints_1) = (_shut_lid_figures(state.image, out, *eye) for eye in eyes)
    plain_0, _ = _shut_lid_figures(state.image, plain, *eyes[0])
    assert dark_1 > 0.9 and glints_1 == 0, (dark_1, glints_1)
    assert dark_0 > plain_0 + 0.05, (dark_0, plain_0)
