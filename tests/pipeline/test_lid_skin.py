"""Tests of pipeline/lid_skin.py: a shut lid stretched well beyond twice is laid as paint (its
colours once per photo, `lid_colours`; `smooth_shut_lids` per frame) instead of one photo row
repeated down the lid, and, on a real photo with a low crease, the default's shut lid is not made
of vertical streaks at the photo's resolution (docs/SHUT_LIDS.md, "Skin without streaks")."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
from pipeline.eyes import Iris, lash_heights
from pipeline.face_paint import curve_y
from pipeline.geometric import PreviewSettings
from pipeline.lid_skin import lid_colours, shut_lid_parts, smooth_shut_lids


def _stretched_lid(advance: float) -> tuple[np.ndarray, ...]:
    """A crop whose rows 20-57 read the photo's rows from 20 down at `advance` rows per row over
    a hidden opening (rows 50-57, columns 20-59), the lid in vertical streaks (one value per
    column), a painted lash line (coverage 1) on row 57: (out, coverage, paint, flow, hidden)."""
    rng = np.random.default_rng(3)
    out = np.full((100, 80, 3), 170, np.uint8)
    out[20:57, 20:60] = (150 + 40 * rng.random(40))[None, :, None].astype(np.uint8)
    flow = np.zeros((100, 80, 2), np.float32)
    rows = np.arange(20, 58, dtype=np.float32)[:, None]
    flow[20:58, 20:60, 1] = (20.0 + (rows - 20.0) * advance) - rows
    hidden = np.zeros((100, 80), np.float32)
    hidden[50:58, 20:60] = 1.0
    coverage = np.zeros((100, 80), np.float32)
    coverage[57, 20:60] = 1.0
    paint = out.copy()
    paint[57, 20:60] = 30
    return out, coverage, paint, flow, hidden


def test_lid_colours_average_the_hairs_out_of_the_skin_above_a_lid() -> None:
    """Dark hairs across the skin above a lid hardly count towards its colour; far from the eye
    the field is the crop itself."""
    source = np.full((100, 100, 3), 180, np.uint8)
    source[20:50:4, 30:70] = 40  # dark hairs, one row in four
    upper = np.stack([np.linspace(30, 70, 9), np.full(9, 50.0)], axis=1)
    field = lid_colours(source, [upper])
    assert field[28:48, 40:60].min() > 150.0  # (a plain average would be 145)
    assert np.array_equal(field[80:], source[80:].astype(np.float32))


def test_a_lid_stretched_well_beyond_twice_is_laid_as_paint_without_streaks() -> None:
    """Stretched 3.3x: the lid's middle is covered by paint, smoothed across its streaks, the lash
    line stays on top and the painted skin is returned; stretched 1.8x (the photo's texture still
    reads as skin): untouched."""
    out, coverage, paint, flow, hidden = _stretched_lid(0.3)
    colours = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 3.0)
    before = out.copy()
    skin = smooth_shut_lids(out, coverage, paint, flow, hidden, colours)
    middle = (slice(32, 50), slice(28, 52))
    assert coverage[middle].min() > 0.9 and skin is not None and skin[middle].min() > 0.9
    streaks = np.diff(before[middle][..., 0].astype(float), axis=1).std()
    assert np.diff(paint[middle][..., 0].astype(float), axis=1).std() < 0.5 * streaks
    assert np.all(coverage[57, 20:60] == 1.0) and np.all(paint[57, 20:60] == 30)  # the lash line
    assert np.all(skin[57, 20:60] == 0.0)  # the line is no skin
    out, coverage, paint, flow, hidden = _stretched_lid(0.55)
    before, painted = out.copy(), paint.copy()
    assert smooth_shut_lids(out, coverage, paint, flow, hidden, colours) is None
    assert np.array_equal(out, before) and np.array_equal(paint, painted)
    assert coverage.sum() == 40.0


def _streak(image: np.ndarray, out: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """`streak` (docs/SHUT_LIDS.md): E_x / E_y of the output's fine detail (minus a 1.5 px blur) in
    the shut lid above its lash line (inner 60 %; upper lid - 0.15 to lower lid - 0.15 eye widths)
    over the same of the input's skin above the lid (- 0.45 to - 0.2 eye widths): about 1 for
    skin, large for vertical streaks."""
    width = float(np.ptp(upper[:, 0]))
    middle = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
    x0, x1 = int(middle - 0.3 * width), int(middle + 0.3 * width) + 1
    y0, y1 = int(upper[:, 1].min() - 0.5 * width), int(lower[:, 1].max()) + 2
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    lid = (ys >= top - 0.15 * width) & (ys <= np.maximum(bottom - 0.15 * width, top - 0.15 * width + 3))
    skin = (ys >= top - 0.45 * width) & (ys <= top - 0.2 * width)

    def ratio(im: np.ndarray, mask: np.ndarray) -> float:
        luma = im[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
        dx, dy = np.diff(detail, axis=1)[1:, :], np.diff(detail, axis=0)[:, 1:]
        inner = mask[1:, 1:]
        return float(np.mean(dx[inner] ** 2) / max(float(np.mean(dy[inner] ** 2)), 1e-6))

    return ratio(out, lid) / ratio(image, skin)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_shut_low_creased_lid_is_not_made_of_vertical_streaks(
    shared_data, registry: EngineRegistry
) -> None:
    """DECA teaser_1 (a low lid crease; the lid's skin is drawn down about 3x), close_eyes 1: the
    default's shut lid reads at most 1.5x the skin's own across/down detail on both eyes (the
    rule's threshold); without `smooth_lids` 4.7-7.5x (vertical streaks)."""
    assert PreviewSettings().smooth_lids
    state = prepare_photo(shared_data / "images" / "YadiraF__DECA__teaser_1.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    points = state.engine_state(engine).points
    settings = engine.renderer.settings
    request = EditRequest({"close_eyes": 1.0}, engine="preview")
    outs = []
    try:
        for on in (True, False):
            engine.renderer.settings = dataclasses.replace(settings, smooth_lids=on)
            outs.append(edit(state, request, registry=registry).full_image)
    finally:
        engine.renderer.settings = settings
    for u, lo in engine.renderer.projector.layout.eyes:
        upper, lower = (state.crop_transform.inverse_points(points[i, :2]) for i in (u, lo))
        upper, lower = upper[np.argsort(upper[:, 0])], lower[np.argsort(lower[:, 0])]
        default, streaked = (_streak(state.image, out, upper, lower) for out in outs)
        assert default <= 1.5 and streaked > 4.0, (default, streaked)


def test_a_deep_set_eyes_lid_colours_leave_out_the_iris_and_its_catchlight() -> None:
    """The shut lid hides 4 px above the fitted lid (y 50): from y 46 down the field is the skin's
    own colour carried down, with nothing of the dark iris or its bright catchlight; without it
    the average takes them in."""
    source = np.full((100, 100, 3), 180, np.uint8)
    source[47:58, 44:57] = 40  # the iris above and below the fitted lid
    source[48:50, 52:54] = 255  # its catchlight
    upper = np.stack([np.linspace(30, 70, 9), np.full(9, 50.0)], axis=1)
    run = np.array([0.0, 0.0, 2.0, 4.0, 4.0, 4.0, 2.0, 0.0, 0.0])
    field = lid_colours(source, [upper], [run])
    assert np.abs(field[40:60, 45:56] - 180.0).max() < 1.0
    assert lid_colours(source, [upper])[46:50, 50:56].max() > 190.0  # the catchlight spread


def test_without_deep_lids_the_shut_lid_parts_are_the_lash_run_and_lid_colours_alone() -> None:
    """An iris seen 4 px above the fitted lid (too light for lashes: `lash_heights` finds none):
    with `deep_lids` the eye is deep-set and its run reaches the iris's top; without, main's parts."""
    source = np.full((100, 100, 3), 180, np.uint8)
    source[46:58, 42:58] = 100
    upper = np.stack([np.linspace(30, 70, 9), np.full(9, 50.0)], axis=1)
    lower = np.stack([np.linspace(30, 70, 9), np.full(9, 60.0)], axis=1)
    points = np.concatenate([upper, lower])
    eyes = [(np.arange(9), np.arange(9, 18))]
    iris = Iris(np.array([50.0, 52.0]), 6.0)
    parts = shut_lid_parts(source, points, eyes, [iris], deep_lids=False)
    assert np.array_equal(parts.lashes[0], lash_heights(source, upper)) and parts.deep == (False,)
    assert np.array_equal(parts.lid_colours, lid_colours(source, [upper]))
    deep = shut_lid_parts(source, points, eyes, [iris], deep_lids=True)
    assert deep.deep == (True,) and deep.lashes[0][4] >= 4.0  # the iris's top, 4 px above the lid


def test_a_deep_set_eyes_painted_lid_also_covers_reads_into_its_opening() -> None:
    """Where the lid's soft lower edge blends its reads with the eye's (rows 54-56 read the
    opening), a deep-set eye's painted lid covers them too; an eye that is not deep keeps the
    photo there."""
    for deep, covered in ((False, False), (True, True)):
        out, coverage, paint, flow, hidden = _stretched_lid(0.3)
        flow[54:57, 20:60, 1] = 52.0 - np.arange(54, 57, dtype=np.float32)[:, None]  # reads row 52
        colours = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 3.0)
        smooth_shut_lids(out, coverage, paint, flow, hidden, colours, hidden if deep else None)
        assert coverage[54:57, 28:52].min() > 0.5 if covered else coverage[54:57, 28:52].max() < 0.05


def test_a_deep_set_eyes_lid_is_painted_only_in_its_lowest_part() -> None:
    """A lid drawn down over a deep-set eye's opening (rows 50-57) reading 3/4 of a row per row:
    painted where it reads within 2 crop pixels above the opening (its lowest part, which the
    deep read takes from one row), not where it reads 3 or more above (the photo's own skin)."""
    out, coverage, paint, flow, hidden = _stretched_lid(0.3)
    rows = np.arange(30, 58, dtype=np.float32)[:, None]
    flow[30:58, 20:60, 1] = (30.0 + (rows - 30.0) * 0.75) - rows  # row 54 reads 48, row 50 reads 45
    colours = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 3.0)
    skin = smooth_shut_lids(out, coverage, paint, flow, hidden, colours, hidden)
    assert skin is not None
    assert coverage[54:57, 28:52].min() > 0.5
    assert coverage[20:53, 28:52].max() < 0.05
