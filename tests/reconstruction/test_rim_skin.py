"""Tests of reconstruction/rim_skin.py: a band the warp magnifies along its rows keeps its colour but
takes the photo's fine detail 1:1, not one photo row smeared into a streak, and an outline across
it comes back at the photo's steepness where it was; laid on final images, not drag previews
(docs/RIM_SKIN.md)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pipeline.photo import Canvas, place_frame
from pipeline.renderer import RenderedFrame
from reconstruction.crop import CropTransform, warp_photo
from reconstruction.rim_skin import _alike, _copied_share, _seams, lay_rim_texture, magnified_band

_SCALE = 4  # photo pixels per crop pixel


def _flow() -> np.ndarray:
    """(100, 100, 2) backward flow: crop columns 20-50 read columns 20-30 (3x magnified), columns
    50-70 read 30-70 (squeezed), the rest themselves."""
    x = np.arange(100, dtype=np.float32)
    reads = np.where(x < 20, x, np.where(x < 50, 20 + (x - 20) / 3, np.where(x < 70, 30 + 2 * (x - 50), x)))
    flow = np.zeros((100, 100, 2), np.float32)
    flow[..., 0] = (reads - x)[None, :]
    return flow


def _photo() -> tuple[np.ndarray, CropTransform]:
    """A photo of fine isotropic grain (skin's pores) on a mid tone, and its 100 px crop."""
    side = 100 * _SCALE
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.standard_normal((side, side)).astype(np.float32), (0, 0), 1.2)
    luma = 160.0 + 12.0 * grain / grain.std()
    photo = np.clip(np.repeat(luma[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    return photo, CropTransform.from_box(side / 2, side / 2, side, (side, side), crop_size=100)


def _streak(image: np.ndarray) -> float:
    """E_y / E_x of the fine detail of the band's middle (crop columns 24-46, rows 25-75)."""
    part = image[25 * _SCALE : 75 * _SCALE, 24 * _SCALE : 46 * _SCALE, 1].astype(np.float32)
    detail = part - cv2.GaussianBlur(part, (0, 0), 1.5)
    return float(np.mean(np.diff(detail, axis=0) ** 2) / np.mean(np.diff(detail, axis=1) ** 2))


def test_the_band_is_where_the_rows_are_magnified_beyond_twice() -> None:
    band = magnified_band(_flow(), (55.0, 99.0))
    assert band is not None
    assert band.weight[50, 26:44].min() > 0.9  # 3x
    assert band.weight[50, 60:].max() == 0.0  # squeezed, or not moved
    assert band.weight[50, :12].max() == 0.0
    assert magnified_band(np.zeros((100, 100, 2), np.float32), (55.0, 99.0)) is None
    # never between the eyes' outer corners (a feature's own magnified edge)
    assert magnified_band(_flow(), (5.0, 99.0)) is None


def test_a_magnified_band_takes_the_photos_grain_instead_of_streaks() -> None:
    """3x along the rows, the warped grain is horizontal streaks (E_y / E_x far above 1); laid over,
    about the photo's own (isotropic) grain, at the same brightness; nothing changes outside."""
    photo, transform = _photo()
    flow = _flow()
    band = magnified_band(flow, (55.0, 99.0))
    assert band is not None
    stretched = warp_photo(photo, flow, transform)
    assert _streak(stretched) > 3.0
    out = lay_rim_texture(stretched.copy(), photo, transform, flow, band)
    assert _streak(out) < 1.6
    inside = (slice(25 * _SCALE, 75 * _SCALE), slice(24 * _SCALE, 46 * _SCALE))
    assert abs(float(out[inside].mean()) - float(stretched[inside].mean())) < 2.0
    assert out[inside].std() > 0.6 * photo[inside].std()  # textured, not flat
    assert np.array_equal(out[:, 62 * _SCALE :], stretched[:, 62 * _SCALE :])


def test_an_outline_across_the_band_comes_back_steep_where_it_was() -> None:
    """A step from skin to a dark scarf inside the magnified strip is drawn 3x wider by the warp;
    laid over, the step is steeper (fewer columns between 20 % and 80 % of it) and its middle stays
    within a crop pixel of where the warp put it."""
    photo, transform = _photo()
    photo[:, : 25 * _SCALE] = 30  # the scarf, up to photo column 100 (read at crop column 35)
    flow = _flow()
    band = magnified_band(flow, (55.0, 99.0))
    assert band is not None
    stretched = warp_photo(photo, flow, transform)
    out = lay_rim_texture(stretched.copy(), photo, transform, flow, band)
    low, high = 30.0, 160.0

    def row(image: np.ndarray) -> np.ndarray:
        return image[40 * _SCALE : 60 * _SCALE, 20 * _SCALE : 50 * _SCALE, 1].astype(np.float32).mean(axis=0)

    def width(image: np.ndarray) -> int:
        values = row(image)
        return int(np.sum((values > low + 0.2 * (high - low)) & (values < low + 0.8 * (high - low))))

    def middle(image: np.ndarray) -> float:
        return float(np.argmax(row(image) > 0.5 * (low + high)))

    assert width(out) < 0.6 * width(stretched)
    assert abs(middle(out) - middle(stretched)) <= _SCALE


def test_the_copies_seams_run_along_strands_as_the_band_shows_them() -> None:
    """Strands read at a slope s (photo columns per row) in a band read at `advance` a show at s / a
    columns per row: the seams shift by as much per row; none where there are no strands."""
    reads = np.tile(np.arange(40, dtype=np.float32) * 0.5, (60, 1))
    advance = np.full((60, 40), 0.5, np.float32)
    seams = _seams(np.full((60, 40), 0.4, np.float32), reads, advance, 4.0)
    assert np.allclose(np.diff(seams[10:50, 20]), -0.8, atol=0.05)
    assert not _seams(np.zeros((60, 40), np.float32), reads, advance, 4.0).any()


def test_a_busy_texture_is_left_as_the_warp_made_it() -> None:
    """Strong detail without a direction (curly hair: most pixels depart far from their blur) still
    reads as itself magnified; its clipped copies would blot it: the band is left alone there."""
    photo, transform = _photo()
    rng = np.random.default_rng(5)
    curls = cv2.GaussianBlur(rng.standard_normal(photo.shape[:2]).astype(np.float32), (0, 0), 1.0)
    photo = np.clip(110.0 + 45.0 * curls / curls.std(), 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    flow = _flow()
    band = magnified_band(flow, (55.0, 99.0))
    assert band is not None
    stretched = warp_photo(photo, flow, transform)
    out = lay_rim_texture(stretched.copy(), photo, transform, flow, band)
    inside = (slice(25 * _SCALE, 75 * _SCALE), slice(24 * _SCALE, 46 * _SCALE))
    assert np.abs(out[inside].astype(np.float32) - stretched[inside]).mean() < 1.0


def test_a_drag_preview_is_left_as_the_warp_made_it() -> None:
    """`place_frame` lays the pass on a final image (the band changes) and not on a drag preview's
    canvas (`Canvas.quick`: the warp's own output, and the band is never computed)."""
    photo, transform = _photo()
    flow = _flow()
    asked: list[int] = []

    def band() -> object:
        asked.append(1)
        return magnified_band(flow, (55.0, 99.0))

    frame = RenderedFrame(crop=np.zeros((100, 100, 3), np.uint8), flow=flow, magnified=band)
    warped = warp_photo(photo, flow, transform)
    assert np.array_equal(place_frame(Canvas(photo, transform, quick=True), frame), warped)
    assert not asked
    assert not np.array_equal(place_frame(Canvas(photo, transform), frame), warped)
    assert asked


def test_untiled_copies_stay_inside_a_fine_enough_photo() -> None:
    """`rim_untiled` (docs/RIM_SKIN.md, rounds 3 and 4): a fifth of the copies' detail on a photo of 1 photo
    pixel per crop pixel (there it is mostly a feature's scale: repeated, tiles), all of it inside a
    fine photo, none where a copy (a slip behind its read to half a slip ahead) would reach the
    border."""
    reads_x = np.tile(np.arange(0.0, 100.0, dtype=np.float32), (5, 1))
    reads_y = np.full_like(reads_x, 50.0)
    advance = np.full_like(reads_x, 0.5)  # slip: 12 px of a 24 px period
    coarse = _copied_share(reads_x, reads_y, advance, 24.0, 1.5, 1.0, (100, 100))
    assert 0.0 < coarse.max() <= 0.2 + 1e-6
    fine = _copied_share(reads_x, reads_y, advance, 24.0, 1.5, 4.0, (100, 100))
    assert fine[:, 30:80].min() == 1.0
    assert fine[:, :15].max() == 0.0  # the copy a slip behind would read left of column 3
    assert fine[:, 93:].max() == 0.0  # half a slip ahead, right of column 96


def test_untiled_copies_bring_no_other_materials_detail() -> None:
    """`rim_untiled` (docs/RIM_SKIN.md, round 4): a copy read across an outline (the local mean there
    a quarter darker: a background, hair) brings no detail; one read on the same material keeps it."""
    mean = np.full((10, 60), 200.0, np.float32)
    mean[:, 30:] = 150.0  # beyond column 30: another material
    copy = np.full((10, 20), 1.1, np.float32)
    reads_x = np.tile(np.arange(5.0, 25.0, dtype=np.float32), (10, 1))
    reads_y = np.tile(np.arange(10.0, dtype=np.float32)[:, None], (1, 20))
    own = np.full_like(reads_x, 200.0)
    near = _alike(copy, mean, own, (reads_x + 3.0, reads_y))
    assert np.allclose(near[:, :20], 1.1)
    far = _alike(copy, mean, own, (reads_x + 20.0, reads_y))
    assert np.allclose(far[:, :4], 1.1)  # reads 25-28: still the cheek
    assert np.allclose(far[:, 6:], 1.0)  # reads from 31 on: another material, no detail


def test_untiled_band_on_a_coarse_photo_has_less_of_the_copies() -> None:
    """On a photo of 1 photo pixel per crop pixel, the untiled band keeps its colour, blurred down its
    columns, with a fifth of the copies' detail: less fine detail than with all of it."""
    photo, _ = _photo()
    photo = photo[:100, :100]
    transform = CropTransform.from_box(50.0, 50.0, 100.0, (100, 100), crop_size=100)
    flow = _flow()
    band = magnified_band(flow, (55.0, 99.0))
    assert band is not None
    stretched = warp_photo(photo, flow, transform)
    tiled = lay_rim_texture(stretched.copy(), photo, transform, flow, band)
    untiled = lay_rim_texture(
        stretched.copy(), photo, transform, flow, dataclasses.replace(band, untiled=True)
    )
    inside = (slice(25, 75), slice(24, 46))

    def fine(image: np.ndarray) -> float:
        luma = image[..., 1].astype(np.float32)
        return float((luma - cv2.GaussianBlur(luma, (0, 0), 1.5))[inside].std())

    assert fine(untiled) < 0.7 * fine(tiled)
    assert abs(float(untiled[inside].mean()) - float(stretched[inside].mean())) < 2.0
    assert np.array_equal(untiled[:, 62:], stretched[:, 62:])


@pytest.mark.realdata
@pytest.mark.slow
def test_a_small_photos_turned_cheek_has_no_tiles(shared_data) -> None:
    """John_Simm (150 px) at yaw +30: the repeated patches the rim's texture adds to the band
    (`benchmarks.rim_tiles`, `added`) are at most 0.01 with `rim_untiled` (main, without: 0.035,
    a grid of pale blobs)."""
    from benchmarks.rim_tiles import at_crop, band_on_crop, render, tiles
    from pipeline import EngineRegistry, prepare_photo

    registry = EngineRegistry(fast=False)
    state = prepare_photo(
        shared_data / "images" / "davisking__dlib__John_Simm_000288_00470387.jpg", registry=registry
    )
    band = band_on_crop(state, registry, 30.0)
    off = tiles(at_crop(render(state, registry, 30.0, rim_skin=False), state), band)
    new = tiles(at_crop(render(state, registry, 30.0, rim_skin=True, rim_untiled=True), state), band)
    assert new - off <= 0.01


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["dchen236__FairFace__race_Middle_Eastern.jpg", "OpenTalker__SadTalker__people_0.png"]
)
def test_a_turned_near_side_at_full_resolution_is_not_streaked(shared_data, name: str) -> None:
    """At yaw 30 with `PreviewSettings.rim_skin` on, the magnified band's `streak` (docs/RIM_SKIN.md)
    is at most 1.6 (without it: Middle_Eastern 0.66, its outline's step dominating the measure;
    people_0 4.85, the temple smeared into the hair)."""
    from benchmarks.rim_skin_sheet import band_mask, cheek_mask, streak_ratio
    from pipeline import EditRequest, EngineRegistry, edit, prepare_photo
    from pipeline.photo import target_coefficients

    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    engine = registry.geometric(state.backend)
    base = engine.renderer.settings
    request = EditRequest({"yaw": 30.0}, engine="preview")
    try:
        engine.renderer.settings = dataclasses.replace(base, rim_skin=True)
        out = edit(state, request, registry=registry).full_image
        target = target_coefficients(state, request, registry=registry)
        flow = engine.renderer.render_frame(state.engine_state(engine), target).flow
    finally:
        engine.renderer.settings = base
    assert streak_ratio(out, state.image, band_mask(state, flow, 2.0), cheek_mask(state)) <= 1.6
