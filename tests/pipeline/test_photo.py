"""Portrait editing on a real portrait: prepare once, edit per slider move, paste into the photo or a
smaller canvas (no renderer weights installed)."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.paint_match_measure import paint_figures as paint_match_figures
from benchmarks.paint_match_measure import placed as paint_match_placed
from benchmarks.paint_match_measure import render as paint_match_render
from benchmarks.paint_softness_sheet import figures as paint_softness_figures
from core.coefficients import DEFAULT_FACE_MODEL
from core.errors import InputError, WeightsNotFoundError
from pipeline import (
    GEOMETRIC,
    OWN_NEURAL,
    EditRequest,
    EngineRegistry,
    SourceState,
    edit,
    make_clip,
    photo_canvas,
    read_video_metadata,
    request_from_preset,
)
from pipeline.photo import Canvas, place_frame, prepare_photo, target_coefficients
from pipeline.renderer import RenderedFrame
from pirender import save_pretrained
from reconstruction.crop import CropTransform
from tests.pipeline.conftest import mae, tiny_renderer


def test_prepare_photo(state: SourceState, astronaut: np.ndarray) -> None:
    assert state.face_model == DEFAULT_FACE_MODEL and state.backend == "default"
    assert state.crop.shape == (256, 256, 3) and state.image.shape == astronaut.shape
    assert state.num_faces == 1


def test_zero_controls_keep_the_photo(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry
) -> None:
    result = edit(state, EditRequest(), registry=registry)
    assert result.engine_used == GEOMETRIC  # "auto" without neural weights
    assert result.full_image.shape == astronaut.shape and result.full_image.dtype == np.uint8
    assert mae(result.full_image, astronaut) < 1.0  # < 1/255 of the range


def test_yaw_changes_the_face_only(
    state: SourceState, astronaut: np.ndarray, registry: EngineRegistry
) -> None:
    result = edit(state, EditRequest({"yaw": 15.0}, engine="preview"), registry=registry)
    assert np.degrees(result.coeffs.angles[1] - state.coefficients.angles[1]) == pytest.approx(15.0, abs=1e-3)
    x0, y0, x1, y1 = (int(v) for v in state.analysis.detection.face.bbox)
    face = (slice(y0, y1), slice(x0, x1))
    assert mae(result.full_image[face], astronaut[face]) > 4.0
    bx0, by0, bx1, by1 = state.crop_transform.box
    outside = np.ones(astronaut.shape[:2], bool)
    outside[max(0, int(by0) - 1) : int(by1) + 2, max(0, int(bx0) - 1) : int(bx1) + 2] = False
    np.testing.assert_array_equal(result.full_image[outside], astronaut[outside])
    assert mae(result.crop, state.crop) > 2.0


def test_edit_into_a_smaller_canvas(state: SourceState, registry: EngineRegistry) -> None:
    """Pasting into the photo shrunk to 200 px == shrinking the full-resolution result; the engine is prepared once."""
    request = EditRequest({"yaw": 12.0})
    canvas = photo_canvas(state, 200)
    assert canvas.image.shape == (200, 200, 3) and canvas.scale == pytest.approx(200 / 512)
    small = edit(state, request, registry=registry, canvas=canvas)
    full = edit(state, request, registry=registry)
    np.testing.assert_array_equal(small.crop, full.crop)
    shrunk = cv2.resize(full.full_image, (200, 200), interpolation=cv2.INTER_AREA)
    assert mae(small.full_image, shrunk) < 0.4
    assert photo_canvas(state, 4000).image is state.image  # never enlarged
    assert photo_canvas(state, 301, even=True).image.shape == (300, 300, 3)


def test_a_photo_at_a_canvas_edits_as_the_photo_and_pickles(
    state: SourceState, registry: EngineRegistry
) -> None:
    """`at_canvas`: the small stand-in another process renders drag previews from."""
    request = EditRequest({"yaw": -8.0, "smile": 0.5}, engine="preview")
    canvas = photo_canvas(state, 200)
    edit(state, request, registry=registry)  # controls and an engine state now cached on `state`
    small = pickle.loads(pickle.dumps(state.at_canvas(canvas)))
    assert small.image.shape == (200, 200, 3) and small.image is not state.image
    np.testing.assert_array_equal(
        edit(small, request, registry=registry).full_image,
        edit(state, request, registry=registry, canvas=canvas).full_image,
    )


def test_neural_without_weights_says_what_to_install(state: SourceState, registry: EngineRegistry) -> None:
    with pytest.raises(WeightsNotFoundError, match="epoch_00190_iteration_000400000_checkpoint.pt"):
        edit(state, EditRequest({"yaw": 5.0}, engine="neural"), registry=registry)


def test_neural_engine_through_the_pipeline(state: SourceState, tmp_path: Path) -> None:
    """A (tiny, untrained) renderer trained for the default face model is used for "neural"/"auto"."""
    save_pretrained(tiny_renderer(state.coefficients.expression.shape[0]), tmp_path / "renderer")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "none"))
        own = EngineRegistry(own_dir=tmp_path / "renderer", fast=False)
        for choice in ("neural", "auto"):
            result = edit(state, EditRequest({"yaw": 10.0}, engine=choice), registry=own)
            assert result.engine_used == OWN_NEURAL
            assert result.crop.shape == (256, 256, 3) and result.full_image.shape == state.image.shape
        assert edit(state, EditRequest(engine="preview"), registry=own).engine_used == GEOMETRIC
        clip = make_clip(
            state, EditRequest({"smile": 0.5}, engine="neural"), 0.2, 10, tmp_path / "n.mp4", registry=own
        )
        assert "engine=own" in read_video_metadata(clip).metadata["description"]


def test_bad_requests_and_presets() -> None:
    with pytest.raises(InputError):
        EditRequest({"yaw": float("nan")})
    with pytest.raises(InputError):
        EditRequest(engine="fastest")
    with pytest.raises(InputError, match="unknown preset"):
        request_from_preset("grumpy")
    request = request_from_preset("smile", {"yaw": 5.0}, engine="preview")
    assert request.values["smile"] == pytest.approx(0.8) and request.values["yaw"] == 5.0
    assert request.details() == {"smile": "0.8", "yaw": "5"}


MOVE_TEST_PHOTOS = (
    "serengil__deepface__img1.jpg",
    "dchen236__FairFace__race_Latino.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
    "ageitgey__face_recognition__biden2.jpg",
)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", MOVE_TEST_PHOTOS)
def test_a_pure_move_reproduces_the_shifted_photo_inside_the_face(shared_data: Path, name: str) -> None:
    """`move_x` at full resolution: inside the moved face the result is the photo shifted by the same
    amount (no ghost of the old position, no softening), on real photos up to 12 megapixels."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    engine = registry.geometric("default")
    target = target_coefficients(state, EditRequest(values={"move_x": 5}), registry=registry)
    frame = engine.render_frame(state.engine_state(engine), target)
    out = place_frame(Canvas(state.image, state.crop_transform), frame)
    face = engine.renderer.face_mask(state.engine_state(engine), target) > 128
    face = cv2.erode(face.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0  # away from the face's rim
    transform = state.crop_transform
    shift = np.linalg.inv(transform.matrix[:, :2]) @ np.median(frame.flow[face], axis=0)  # photo pixels
    h, w = state.image.shape[:2]
    moved = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    inverse = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    expected = cv2.warpAffine(state.image, moved, (w, h), flags=inverse, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(
        face.astype(np.uint8), transform.matrix, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    mask = mask > 0
    assert abs(shift[0]) > 10 and mask.sum() > 10_000
    mse = np.mean((out[mask].astype(float) - expected[mask].astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 38.0
    ys, xs = np.nonzero(mask)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))

    def sharpness(image: np.ndarray) -> float:
        lap = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F)
        return float(lap[box][mask[box]].var())

    assert 0.8 <= sharpness(out) / sharpness(expected) <= 1.15


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", ("serengil__deepface__img1.jpg", "fudan-generative-vision__hallo__7.jpg"))
def test_a_shut_eye_shows_nothing_of_the_old_iris(shared_data: Path, name: str) -> None:
    """close_eyes 1 at the photo's resolution (12 photo pixels per crop pixel on hallo): no pixel of
    the iris the photo showed (marked pure green between the lids) is left inside the closed eyes,
    where the flow's jump at the lid's edge, upsampled, used to show a sliver of it."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    engine = registry.geometric("default")
    preview = state.engine_state(engine)
    transform = state.crop_transform
    marked = state.image.copy()
    for (upper, lower), iris in zip(engine.renderer.projector.layout.eyes, preview.irises, strict=True):
        assert iris is not None
        disc, opening = np.zeros(marked.shape[:2], np.uint8), np.zeros(marked.shape[:2], np.uint8)
        centre = transform.inverse_points(iris.centre[None])[0]
        cv2.circle(disc, tuple(int(v) for v in np.round(centre)), int(iris.radius / transform.scale), 1, -1)
        ring = np.concatenate([preview.points[upper, :2], preview.points[lower[::-1], :2]])
        cv2.fillPoly(opening, [np.round(transform.inverse_points(ring)).astype(np.int32)], 1)
        marked[(disc & opening) > 0] = (0, 255, 0)
    target = target_coefficients(state, EditRequest(values={"close_eyes": 1.0}), registry=registry)
    frame = engine.render_frame(preview, target)
    assert frame.hidden is not None
    out = place_frame(Canvas(marked, transform), frame).astype(int)
    green = out[..., 1] - np.maximum(out[..., 0], out[..., 2]) > 60
    iris_pixels = int(np.count_nonzero(np.all(marked == (0, 255, 0), axis=2)))
    assert green.sum() <= 0.01 * iris_pixels  # it was 14 to 18 % of it (a sliver along each lid)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    (
        "sczhou__CodeFormer__0143.png",
        "TencentARC__GFPGAN__Justin_Timberlake_crop.png",
        "deepinsight__insightface__Mary_Katherine_Smart_0001_5k.jpg",
    ),
)
def test_paint_on_a_soft_photo_is_as_soft_as_the_photo(shared_data: Path, name: str) -> None:
    """On a blurred or small photo the painted cavity's edge (open_mouth 1) and the lash line
    (close_eyes 1) spread 0.7-1.4x as wide (10-90 %, photo pixels) as the photo's own lips' and
    lids' edges (docs/PAINT_SOFTNESS.md; laid as sharp as before, 0.28x and 0.24x on two of them)."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / name, registry=registry)
    figures = paint_softness_figures(state, registry)
    assert 0.7 <= figures["cavity_now"] / figures["lips"] <= 1.4, figures
    assert 0.7 <= figures["lash_now"] / figures["eyes"] <= 1.4, figures


def test_a_finer_overlay_is_made_only_where_a_crop_pixel_covers_enough_canvas_pixels() -> None:
    """`RenderedFrame.finer` (n, make): the overlay drawn n times finer is made only when laid over
    a canvas with at least n of its pixels per crop pixel (on a coarser one it buys nothing)."""
    crop, made = 32, []

    def make() -> np.ndarray:
        made.append(True)
        return np.zeros((2 * crop, 2 * crop, 3), np.uint8)

    frame = RenderedFrame(
        crop=np.zeros((crop, crop, 3), np.uint8),
        flow=np.zeros((crop, crop, 2), np.float32),
        overlay=np.zeros((crop, crop, 3), np.uint8),
        overlay_alpha=np.zeros((crop, crop), np.float32),
        finer=(2, make),
    )
    for canvas_per_crop, calls in ((1.5, 0), (3.0, 1)):
        side, s = int(crop * canvas_per_crop), 1.0 / canvas_per_crop
        transform = CropTransform(
            affine=((s, 0.0, 0.0), (0.0, s, 0.0)), crop_size=crop, original_size=(side, side)
        )
        place_frame(Canvas(np.zeros((side, side, 3), np.uint8), transform), frame)
        assert len(made) == calls, canvas_per_crop


@pytest.mark.realdata
@pytest.mark.slow
def test_paint_on_a_grainy_faded_photo_matches_it(shared_data: Path) -> None:
    """On a small, grainy, faded photo with a colour cast, the opened mouth (open_mouth 1) is about
    as grainy and as sharp as the skin around it (fine-detail ratio 0.5-2.0) and stays within
    the face's own grey levels (range excess <= 0.7 of its span) with `PreviewSettings.paint_match`
    (docs/PAINT_MATCH.md; off, as on main, 3.11 and 3.28)."""
    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "TencentARC__GFPGAN__10045.png", registry=registry)
    frame = paint_match_render(state, {"open_mouth": 1.0}, registry, True)
    figures = paint_match_figures(state, frame, paint_match_placed(state, frame))
    assert 0.5 <= figures["paint"] / figures["skin"] <= 2.0, figures
    assert figures["range_excess"] <= 0.7, figures
