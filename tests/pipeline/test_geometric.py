"""Geometric preview renderer on a real face: identity at zero change, head turns and
expressions checked by re-detecting landmarks on the result, locality, flow fade, BFM smoke test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.coefficients import BFM_DEEP3D, FaceCoefficients
from core.errors import FaceModelMismatchError, InputError
from pipeline.geometric import GeometricRenderer, rasterise_triangles
from pipeline.preview_state import PreviewState
from reconstruction.controls import ControlSet, control_set_for, interpolate
from reconstruction.face_model import LinearFaceModel, load_default_face_model

NOSE_TIP = 1
MOUTH_HEIGHT = (0, 17)
EYES = ((159, 145), (386, 374))  # (upper lid, lower lid), image-left eye first
MOUTH_CORNERS = (61, 291)


@dataclass(frozen=True)
class Scene:
    model: LinearFaceModel
    controls: ControlSet
    renderer: GeometricRenderer
    state: PreviewState
    crop: np.ndarray
    coeffs: FaceCoefficients
    landmarks: np.ndarray  # (478, 3) detected on the crop
    detector: object

    def render(self, **values: float) -> np.ndarray:
        return self.renderer.render(self.state, self.controls.apply(self.coeffs, values))

    def detect(self, image: np.ndarray) -> np.ndarray:
        return self.detector.detect_one(image).face.landmarks.astype(np.float64)


@pytest.fixture(scope="module")
def scene(astronaut: np.ndarray):
    from reconstruction.crop import crop_face, crop_transform_for_face
    from reconstruction.detection import FaceDetector
    from reconstruction.fitting import fit_landmarks

    detector = FaceDetector()
    face = detector.detect_one(astronaut).face
    crop = crop_face(astronaut, crop_transform_for_face(face, astronaut.shape[:2]))
    landmarks = detector.detect_one(crop).face.landmarks
    model = load_default_face_model()
    coeffs = fit_landmarks(model, landmarks, (crop.shape[1], crop.shape[0]))
    renderer = GeometricRenderer(model)
    yield Scene(
        model,
        control_set_for(model),
        renderer,
        renderer.prepare(crop, coeffs),
        crop,
        coeffs,
        landmarks.astype(np.float64),
        detector,
    )
    detector.close()


def _opening(lm: np.ndarray, upper: int, lower: int) -> float:
    return float(lm[lower, 1] - lm[upper, 1])


# --- rasterisation -----------------------------------------------------------------------------


def test_rasteriser_covers_each_pixel_once_and_keeps_the_nearest() -> None:
    square = np.array([[1.5, 1.5, 0.0], [9.5, 1.5, 0.0], [9.5, 9.5, 0.0], [1.5, 9.5, 0.0]])
    pix, tri, bary = rasterise_triangles(square, np.array([[0, 1, 2], [0, 2, 3]]), (12, 12))
    assert len(np.unique(pix)) == len(pix) == 64  # pixel centres 2..9 in x and y
    np.testing.assert_allclose(bary.sum(axis=1), 1.0, atol=1e-9)
    assert (bary >= -1e-6).all()
    # Two overlapping triangles: the nearer one (smaller depth) wins where they overlap.
    verts = np.array([[0, 0, 5.0], [10, 0, 5.0], [0, 10, 5.0], [0, 0, 1.0], [10, 0, 1.0], [0, 10, 1.0]])
    pix, tri, _ = rasterise_triangles(verts, np.array([[0, 1, 2], [3, 5, 4]]), (12, 12))
    assert set(tri.tolist()) == {1}
    empty = rasterise_triangles(square + 100, np.array([[0, 1, 2]]), (12, 12))
    assert len(empty[0]) == 0


def _rasterise_one_by_one(
    vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The textbook z-buffer: each triangle over the whole grid in turn, a pixel taken by a nearer one."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    depth_of, tri_of, bary_of = np.full((h, w), np.inf), np.full((h, w), -1), np.zeros((h, w, 3))
    for f, (a, b, c) in enumerate(vertices[triangles]):
        bx, by, cx, cy = b[0] - a[0], b[1] - a[1], c[0] - a[0], c[1] - a[1]
        area = bx * cy - by * cx
        if abs(area) <= 1e-9:
            continue
        dx, dy, inv = xs - a[0], ys - a[1], 1.0 / area
        l1 = (dx * cy - dy * cx) * inv
        l2 = (bx * dy - by * dx) * inv
        l0 = 1.0 - l1 - l2
        depth = l0 * a[2] + l1 * b[2] + l2 * c[2]
        nearer = (l0 >= -1e-7) & (l1 >= -1e-7) & (l2 >= -1e-7) & (depth < depth_of)
        depth_of[nearer], tri_of[nearer] = depth[nearer], f
        bary_of[nearer] = np.stack([l0, l1, l2], axis=-1)[nearer]
    pix = np.flatnonzero(tri_of >= 0)
    return pix, tri_of.reshape(-1)[pix], bary_of.reshape(-1, 3)[pix]


def test_rasteriser_gives_the_textbook_z_buffer_bit_for_bit() -> None:
    """The vectorised rasteriser (the preview's hot spot) is exactly the per-triangle one: same
    pixels, same nearest triangle, the same float64 barycentric weights (a release renders the same
    picture however the rasteriser is organised)."""
    rng = np.random.default_rng(7)
    centres = rng.uniform(-4, 44, (60, 1, 2))
    corners = centres + rng.normal(0, 6, (60, 3, 2))  # overlapping triangles of any orientation
    depth = rng.uniform(0, 10, (60, 3, 1))
    vertices = np.concatenate([corners, depth], axis=2).reshape(-1, 3)
    triangles = np.arange(180).reshape(60, 3)
    pix, tri, bary = rasterise_triangles(vertices, triangles, (40, 36))
    ref_pix, ref_tri, ref_bary = _rasterise_one_by_one(vertices, triangles, (40, 36))
    assert len(pix) > 500
    np.testing.assert_array_equal(pix, ref_pix)
    np.testing.assert_array_equal(tri, ref_tri)
    np.testing.assert_array_equal(bary, ref_bary)


# --- identity and input checks -----------------------------------------------------------------


def test_zero_change_returns_the_crop(scene: Scene) -> None:
    out = scene.renderer.render(scene.state, scene.controls.apply(scene.coeffs, {"smile": 0.0, "yaw": 0.0}))
    np.testing.assert_array_equal(out, scene.crop)
    # A change too small to see goes through the whole warp and still leaves the picture as it was.
    tiny = scene.render(yaw=0.05)
    diff = np.abs(tiny.astype(np.int16) - scene.crop.astype(np.int16))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 3
    flow = scene.renderer.render_flow(scene.state, scene.coeffs)
    assert np.abs(flow).max() < 0.02


def test_bad_inputs_are_refused(scene: Scene) -> None:
    with pytest.raises(InputError):
        scene.renderer.prepare(scene.crop.astype(np.float32), scene.coeffs)
    with pytest.raises(FaceModelMismatchError):
        scene.renderer.render(scene.state, scene.coeffs.replace(face_model=BFM_DEEP3D))
    with pytest.raises(InputError):
        scene.renderer.render(scene.state, scene.coeffs.replace(expression=np.zeros(5)))


# --- head pose ---------------------------------------------------------------------------------


def test_yaw_turns_the_head_the_right_way(scene: Scene) -> None:
    from reconstruction.fitting import fit_landmarks, project_coefficients

    right, left = scene.render(yaw=15), scene.render(yaw=-15)
    nose0 = scene.landmarks[NOSE_TIP, 0]
    assert scene.detect(right)[NOSE_TIP, 0] > nose0 + 3.0  # positive yaw: nose to the picture's right
    assert scene.detect(left)[NOSE_TIP, 0] < nose0 - 3.0
    # The target mesh itself is turned by exactly +15 degrees ...
    target = scene.controls.apply(scene.coeffs, {"yaw": 15}).replace(identity=scene.coeffs.identity)
    mesh = project_coefficients(scene.model, target, (256, 256))
    yaw0 = fit_landmarks(scene.model, scene.landmarks, (256, 256)).angles_degrees[1]
    assert fit_landmarks(scene.model, mesh, (256, 256)).angles_degrees[1] - scene.coeffs.angles_degrees[
        1
    ] == (pytest.approx(15.0, abs=1.5))
    # ... and the detector, re-fitted on the warped photo, reads the turn: +9.0 / -10.5 degrees
    # here. It reads about 2/3 of any turn of a 2D warp of a frontal photo (its depth guess follows
    # the unturned shading; docs/TURNS.md), and one face's reading moves by a degree with small
    # changes inside the mouth: the bound asked for (the mean within 5 of 15) is checked over
    # several faces in test_yaw_refit_over_many_faces; here, that the turn reads as most of one.
    for image, yaw in ((right, 15.0), (left, -15.0)):
        refit = fit_landmarks(scene.model, scene.detect(image), (256, 256)).angles_degrees[1] - yaw0
        assert abs(refit - yaw) < 6.5, (yaw, refit)


@pytest.mark.slow
@pytest.mark.realdata
def test_yaw_refit_over_many_faces(shared_data: Path) -> None:
    """The issue's check over several real faces (near-frontal first frames of the shared clips):
    the mean re-fitted turn of a +-15 degree preview is within 5 degrees of 15."""
    from reconstruction.detection import FaceDetector
    from reconstruction.fitting import fit_landmarks
    from training.evaluation.turns import near_frontal_crops

    model = load_default_face_model()
    controls = control_set_for(model)
    renderer = GeometricRenderer(model)
    reads: dict[float, list[float]] = {15.0: [], -15.0: []}
    with FaceDetector() as detector:
        for crop, coeffs in near_frontal_crops(shared_data / "videos", detector, model):
            state = renderer.prepare(crop, coeffs)
            for yaw in reads:
                turned = detector.detect(renderer.render(state, controls.apply(coeffs, {"yaw": yaw})))
                if turned:
                    fit = fit_landmarks(model, turned[0].landmarks, (256, 256))
                    reads[yaw].append(fit.angles_degrees[1] - coeffs.angles_degrees[1])
            if len(reads[15.0]) >= 8:
                break
    assert len(reads[15.0]) >= 4 and len(reads[-15.0]) >= 4, reads
    for yaw, values in reads.items():
        assert abs(float(np.mean(values)) - yaw) < 5.0, (yaw, values)
        assert all(abs(v - yaw) < 7.0 for v in values), (yaw, values)


def test_flow_fades_to_zero_far_from_the_face(scene: Scene) -> None:
    from reconstruction.fitting import project_coefficients

    target = scene.controls.apply(scene.coeffs, {"yaw": 6, "move_x": 1})
    flow = scene.renderer.render_flow(scene.state, target)
    assert flow.shape == (256, 256, 2) and flow.dtype == np.float32
    size = scene.state.face_size
    centre = scene.state.points[:, :2].mean(axis=0)
    # The turned head moves (it turns about the neck): far from where the face was and where it goes.
    moved = project_coefficients(scene.model, target.replace(identity=scene.coeffs.identity), (256, 256))
    # The fade reaches 0.3 face sizes, or 4.5 times the face rim's motion when that is longer.
    reach = max(0.35 * size, 4.5 * float(np.abs(moved[:, :2] - scene.state.points[:, :2]).max()))
    yy, xx = np.mgrid[0:256, 0:256]
    far = np.ones((256, 256), dtype=bool)
    for cx, cy in (centre, moved[:, :2].mean(axis=0)):
        far &= np.hypot(xx - cx, yy - cy) > 0.5 * size + reach + 6
    assert far.mean() > 0.1  # a real part of the picture is tested
    assert np.abs(flow[far]).max() < 0.01  # background still (up to the flow's bilinear upsampling)
    assert np.abs(flow[int(centre[1]), int(centre[0])]).max() > 1.0  # the face moves
    out = scene.renderer.render(scene.state, target)
    np.testing.assert_array_equal(out[far], scene.crop[far])


@pytest.mark.parametrize("yaw", [-30, 30])
def test_a_turn_does_not_pull_what_lies_beyond_the_face_into_a_wedge(scene: Scene, yaw: float) -> None:
    """Outside the face (ears, hair, neck) the warp's local area change stays above 1/2 on 99 % of the
    moving pixels (with a fade of fixed length it fell to 1/7: the far ear became a thin wedge)."""
    target = scene.controls.apply(scene.coeffs, {"yaw": yaw})
    flow = scene.renderer.render_flow(scene.state, target).astype(np.float64)
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    area = (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx  # output area per source area, inverted
    face = scene.renderer.face_mask(scene.state, target) > 0
    outside = ~cv2.dilate(face.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    moving = outside & (np.abs(flow).max(axis=2) > 0.5)
    assert moving.mean() > 0.02
    assert np.percentile(area[moving], 1) > 0.5


@pytest.mark.parametrize("yaw", [-30, -20, 20, 30])
def test_a_turn_spreads_the_unfolding_cheek_across_the_rim(scene: Scene, yaw: float) -> None:
    """Within 7 px of the face's rim the warp's local area ratio stays above 0.3 on 99 % of the pixels
    (the turned cheek's rim unfolded into a few pixels, ratio down to 0.05 and folds below 0: the
    streaked band between the cheek and the ear or earring)."""
    target = scene.controls.apply(scene.coeffs, {"yaw": yaw})
    flow = scene.renderer.render_flow(scene.state, target).astype(np.float64)
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    area = (1.0 + du_dx) * (1.0 + dv_dy) - du_dy * dv_dx
    face = (scene.renderer.face_mask(scene.state, target) > 0).astype(np.uint8)
    kernel = np.ones((15, 15), np.uint8)
    rim = cv2.dilate(face, kernel).astype(bool) & ~cv2.erode(face, kernel).astype(bool)
    assert np.percentile(area[rim], 1) > 0.3


# --- expressions (landmarks re-detected on the result) -----------------------------------------


def test_open_mouth_opens_the_lips(scene: Scene) -> None:
    out = scene.render(open_mouth=1.0)
    # The mouth's height, upper lip top (0) to lower lip bottom (17): the detector places the inner
    # lip points (13, 14) unreliably in a synthetic open mouth (see the report).
    before, after = _opening(scene.landmarks, *MOUTH_HEIGHT), _opening(scene.detect(out), *MOUTH_HEIGHT)
    assert after > before + 2.5, (before, after)
    # The mouth's inside is dark where it opened (the photo's teeth were shown closed).
    lm = scene.landmarks
    mouth = out[int(lm[14, 1]) + 2 : int(lm[17, 1]), int(lm[14, 0]) - 3 : int(lm[14, 0]) + 4]
    assert (
        mouth.mean()
        < scene.crop[int(lm[14, 1]) + 2 : int(lm[17, 1]), int(lm[14, 0]) - 3 : int(lm[14, 0]) + 4].mean()
    )


def test_close_eyes_closes_the_eyes(scene: Scene) -> None:
    lm = scene.detect(scene.render(close_eyes=1.0))
    for upper, lower in EYES:
        before, after = _opening(scene.landmarks, upper, lower), _opening(lm, upper, lower)
        assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize(("control", "shut"), [("wink_left", 0), ("wink_right", 1)])
def test_a_wink_closes_one_eye(scene: Scene, control: str, shut: int) -> None:
    lm = scene.detect(scene.render(**{control: 1.0}))
    for i, (upper, lower) in enumerate(EYES):
        before, after = _opening(scene.landmarks, upper, lower), _opening(lm, upper, lower)
        if i == shut:
            assert after < 0.7 * before, (control, before, after)
        else:  # the other eye stays open
            assert after > 0.9 * before, (control, before, after)


def test_smile_raises_the_mouth_corners(scene: Scene) -> None:
    lm = scene.detect(scene.render(smile=1.0))
    for corner in MOUTH_CORNERS:
        assert lm[corner, 1] < scene.landmarks[corner, 1] - 1.0  # y down: up is smaller
    sad = scene.detect(scene.render(smile=-1.0))
    for corner in MOUTH_CORNERS:
        assert sad[corner, 1] > scene.landmarks[corner, 1] + 0.5  # the photo already smiles: less room down


def _region_change(scene: Scene, image: np.ndarray) -> dict[str, float]:
    """Mean absolute pixel change in boxes around the mouth, the eyes and the brows of the photo."""
    lm = scene.landmarks
    groups = {
        "mouth": [61, 291, 0, 17, 13, 14, 40, 270, 91, 321],
        "eyes": [33, 133, 159, 145, 362, 263, 386, 374],
        "brows": [70, 63, 105, 66, 107, 336, 296, 334, 293, 300],
    }
    diff = np.abs(image.astype(np.float32) - scene.crop.astype(np.float32)).mean(axis=2)
    out = {}
    for name, idx in groups.items():
        x0, y0 = np.floor(lm[idx, :2].min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(lm[idx, :2].max(axis=0)).astype(int) + 3
        out[name] = float(diff[y0:y1, x0:x1].mean())
    return out


@pytest.mark.parametrize(
    ("control", "region", "elsewhere"),
    [
        ("smile", "mouth", ("eyes", "brows")),
        ("open_mouth", "mouth", ("eyes", "brows")),
        ("round_lips", "mouth", ("eyes", "brows")),
        ("close_eyes", "eyes", ("mouth", "brows")),
        ("raise_brows", "brows", ("mouth",)),  # the upper lids rise with the brows, as in a real face
        ("frown", "brows", ("mouth",)),
    ],
)
def test_each_control_changes_mainly_its_own_region(
    scene: Scene, control: str, region: str, elsewhere: tuple[str, ...]
) -> None:
    change = _region_change(scene, scene.render(**{control: 1.0}))
    assert change[region] > 1.3 * max(change[k] for k in elsewhere), change


# --- sequences and the BFM ---------------------------------------------------------------------


def test_morph_clip_renders_every_frame(scene: Scene) -> None:
    b = scene.controls.apply(scene.coeffs, {"smile": 0.8, "yaw": 10})
    frames = list(scene.renderer.render_sequence(scene.state, interpolate(scene.coeffs, b, 4)))
    assert len(frames) == 4 and all(f.shape == (256, 256, 3) and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[0], scene.crop)
    np.testing.assert_array_equal(frames[-1], scene.renderer.render(scene.state, b))


def test_bfm_smoke(test_data: Path, astronaut: np.ndarray) -> None:
    from reconstruction.bfm import BFMFaceModel

    bfm = BFMFaceModel.from_mat(test_data / "synthetic_BFM_model_front.mat")
    renderer = GeometricRenderer(bfm)
    rng = np.random.default_rng(1)
    coeffs = FaceCoefficients(
        BFM_DEEP3D,
        expression=np.zeros(64),
        angles=np.zeros(3),
        translation=np.array([0.0, 0.0, -20.0]),  # far from the camera: the synthetic mesh fits the crop
        crop=np.array([1.0, 128.0, 128.0]),
        identity=0.1 * rng.normal(size=80),
    )
    crop = np.ascontiguousarray(astronaut[128:384, 128:384])
    state = renderer.prepare(crop, coeffs)
    assert state.points.shape == (bfm.num_vertices, 3) and np.all(np.isfinite(state.points))
    np.testing.assert_array_equal(renderer.render(state, coeffs), crop)
    moved = renderer.render(state, control_set_for(bfm).apply(coeffs, {"yaw": 10, "open_mouth": 0.5}))
    assert moved.shape == crop.shape and moved.dtype == np.uint8 and not np.array_equal(moved, crop)
    with pytest.raises(InputError, match="identity"):
        renderer.prepare(crop, coeffs.replace(identity=None))


# --- mouth interior, lids and gaze -------------------------------------------------------------

IRIS_CENTRES = (468, 473)


@pytest.mark.parametrize(
    ("values", "axis", "sign"),
    [
        ({"gaze_x": 1.0}, 0, 1.0),
        ({"gaze_x": -1.0}, 0, -1.0),
        ({"gaze_y": 1.0}, 1, -1.0),  # looking up: y (down) decreases
        ({"gaze_y": -1.0}, 1, 1.0),
    ],
)
def test_gaze_moves_the_irises_the_stated_way(scene: Scene, values: dict, axis: int, sign: float) -> None:
    lm = scene.detect(scene.render(**values))
    moved = (lm[list(IRIS_CENTRES), axis] - scene.landmarks[list(IRIS_CENTRES), axis]) * sign
    # Sideways the iris has room (> 1 px each eye); up/down the lids hide most of the move.
    if axis == 0:
        assert moved.min() > 1.0, moved
    else:
        assert moved.mean() > 0.15, moved
    other = 1 - axis
    still = np.abs(lm[list(IRIS_CENTRES), other] - scene.landmarks[list(IRIS_CENTRES), other])
    assert still.max() < 1.5, still


def test_gaze_changes_only_the_eyes(scene: Scene) -> None:
    change = _region_change(scene, scene.render(gaze_x=1.0))
    assert change["eyes"] > 1.0 and change["mouth"] == 0.0 and change["brows"] < 0.2, change


def test_closed_lids_hide_the_iris(scene: Scene) -> None:
    out = scene.render(close_eyes=1.0)
    for iris in scene.state.irises:
        assert iris is not None
        x, y = np.round(iris.centre).astype(int)
        r = max(1, int(0.7 * iris.radius))
        before = scene.crop[y - r : y + r + 1, x - r : x + r + 1].astype(np.float32).mean()
        after = out[y - r : y + r + 1, x - r : x + r + 1].astype(np.float32).mean()
        assert after > 1.6 * before, (before, after)  # the dark iris is covered by lid skin


@pytest.mark.parametrize(("control", "shut"), [("wink_left", 0), ("wink_right", 1)])
def test_a_wink_leaves_the_other_eye_alone(scene: Scene, control: str, shut: int) -> None:
    """Pixels around the open eye change little (the mesh moves its lids by < 0.5 px) next to the winking one."""
    out = scene.render(**{control: 1.0})
    change = []
    for iris in scene.state.irises:
        x, y = np.round(iris.centre).astype(int)
        r = int(2.5 * iris.radius)
        box = (slice(y - r, y + r + 1), slice(x - r, x + r + 1))
        change.append(float(np.abs(out[box].astype(np.float32) - scene.crop[box]).mean()))
    assert change[1 - shut] < 0.4 * change[shut], change


@pytest.mark.realdata
def test_an_opened_mouth_keeps_the_photos_teeth(shared_data: Path) -> None:
    """A smile with teeth opened by `open_mouth` 0.6, at the photo's resolution: the upper teeth
    stay under the upper lip, as sharp as in the photo, and the opening is no black hole down to
    the lower lip (re-detected mouth box)."""
    from pipeline.photo import EditRequest, edit, prepare_photo
    from reconstruction.detection import FaceDetector

    state = prepare_photo(shared_data / "images" / "serengil__deepface__img1.jpg")
    out = edit(state, EditRequest(values={"open_mouth": 0.6}, engine="preview")).full_image
    with FaceDetector() as detector:
        lm = detector.detect_one(out).face.landmarks[:, :2].astype(np.float64)
    top, bottom, width = lm[13], lm[14], lm[308, 0] - lm[78, 0]
    height = bottom[1] - top[1]
    xs = slice(int(top[0] - 0.2 * width), int(top[0] + 0.2 * width))

    def band(image: np.ndarray, y0: float, y1: float) -> np.ndarray:
        return image[int(y0) : int(y1), xs].astype(np.float32)

    def teeth_share(pixels: np.ndarray) -> float:
        luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
        return float(((luma > 140) & (pixels.max(axis=2) - pixels.min(axis=2) < 80)).mean())

    upper = band(out, top[1], top[1] + 0.25 * height)
    assert teeth_share(upper) > 0.6, teeth_share(upper)
    middle, lower = (
        band(out, top[1] + 0.4 * height, top[1] + 0.6 * height),
        band(out, bottom[1] - 0.15 * height, bottom[1]),
    )
    assert lower.mean() > middle.mean() + 30.0, (middle.mean(), lower.mean())
    # The teeth are the photo's own pixels moved at its resolution, not a blurred crop.
    sharp = float(cv2.Laplacian(cv2.cvtColor(upper.astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())
    src_lm = state.analysis.detection.face.landmarks[:, :2]
    photo = band(state.image, src_lm[13, 1], src_lm[13, 1] + 0.25 * (src_lm[14, 1] - src_lm[13, 1]))
    reference = float(
        cv2.Laplacian(cv2.cvtColor(photo.astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_32F).var()
    )
    assert sharp > 0.5 * reference, (sharp, reference)


def test_an_opened_mouth_in_a_black_and_white_photo_stays_black_and_white(scene: Scene) -> None:
    grey = np.repeat(cv2.cvtColor(scene.crop, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    state = scene.renderer.prepare(grey, scene.coeffs)
    frame = scene.renderer.render_frame(state, scene.controls.apply(scene.coeffs, {"open_mouth": 1.0}))
    assert frame.overlay_alpha is not None and frame.overlay_alpha.max() > 0.5  # a cavity was painted
    spread = frame.crop.max(axis=2).astype(int) - frame.crop.min(axis=2)
    assert spread.max() == 0  # no red tongue in a grey photo


@pytest.mark.realdata
@pytest.mark.parametrize("yaw", [-30.0, 30.0])
def test_a_turned_eye_shows_the_photos_eye_not_the_temple(shared_data: Path, yaw: float) -> None:
    """At yaw 30 the side of the head turns in behind the far eye; the eye's opening (a hole in the
    mesh) must still show the photo's eye, not the temple's skin over the iris (it did on this photo:
    72 of its 100 pixels read up to 20 px off, beside the eye)."""
    from pipeline.engines import EngineRegistry
    from pipeline.photo import EditRequest, prepare_photo, target_coefficients

    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "fudan-generative-vision__hallo__6.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    renderer, preview = engine.renderer, state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": yaw}, engine="preview"), registry=registry)
    points = renderer.target_points(preview, target)[:, :2]
    flow = renderer.render_frame(preview, target).flow
    for upper, lower in renderer.projector.layout.eyes:
        ring = np.concatenate([upper, lower[-2:0:-1]])
        hole = np.zeros(preview.size, np.uint8)
        cv2.fillPoly(hole, [np.round(points[ring] * 16).astype(np.int32)], 1, shift=4)
        ys, xs = np.nonzero(cv2.erode(hole, np.ones((3, 3), np.uint8)))
        reads = np.stack([xs, ys], axis=1) + flow[ys, xs]
        photo_ring = preview.points[ring, :2].astype(np.float32)
        inside = [cv2.pointPolygonTest(photo_ring, (float(x), float(y)), True) > -1.0 for x, y in reads]
        assert np.mean(inside) > 0.95, (yaw, np.mean(inside))


@pytest.mark.realdata
@pytest.mark.parametrize("yaw", [-30.0, -15.0, 30.0])
def test_a_turn_alone_paints_no_mouth_gap(shared_data: Path, yaw: float) -> None:
    """A turn foreshortens the mouth across, not down: a smile with teeth touching the lower lip,
    only turned, shows no painted cavity (it showed a black crescent under the teeth: 80 painted
    pixels at yaw -30, when the photo's opening was scaled by the mouth's narrower width)."""
    from pipeline.engines import EngineRegistry
    from pipeline.photo import EditRequest, prepare_photo, target_coefficients

    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "dchen236__FairFace__race_Black.jpg", registry=registry)
    engine = registry.geometric(state.backend)
    preview = state.engine_state(engine)
    turned = target_coefficients(state, EditRequest(values={"yaw": yaw}), registry=registry)
    painted = engine.renderer.render_frame(preview, turned).overlay_alpha
    assert painted is None or int((painted > 0.25).sum()) == 0, int((painted > 0.25).sum())
    opened = target_coefficients(
        state, EditRequest(values={"yaw": yaw, "open_mouth": 0.6}), registry=registry
    )
    assert int((engine.renderer.render_frame(preview, opened).overlay_alpha > 0.5).sum()) > 200


@pytest.mark.realdata
def test_a_turned_noses_edge_jumps_within_one_crop_pixel(shared_data: Path) -> None:
    """At yaw -30 the nose hides a strip of the far cheek: across the nose's edge the renderer's
    reads jump from cheek to nose within one crop pixel, the steps beside the jump ordinary (the
    coarse raster's interpolation spread the jump over two pixels, the middle one reading the
    hidden strip: a dark line along the nose)."""
    from pipeline.engines import EngineRegistry
    from pipeline.photo import EditRequest, prepare_photo, target_coefficients

    registry = EngineRegistry()
    state = prepare_photo(shared_data / "images" / "jdh-algo__JoyVASA__joyvasa_005.png", registry=registry)
    engine = registry.geometric(state.backend)
    preview = state.engine_state(engine)
    target = target_coefficients(state, EditRequest(values={"yaw": -30.0}), registry=registry)
    points = engine.renderer.target_points(preview, target)
    flow = engine.renderer.render_frame(preview, target).flow
    tip = points[NOSE_TIP, :2]
    shares = []
    for row in range(int(tip[1]) - 20, int(tip[1]) - 4):  # up the nose's side from the tip
        cols = np.arange(int(tip[0]) - 20, int(tip[0]) + 4)
        reads = cols + flow[row, cols, 0]
        steps = np.diff(reads)
        k = int(np.argmax(steps))
        if steps[k] > 4.0:  # the edge crosses this row here
            beside = np.delete(steps[max(k - 2, 0) : k + 3], min(k, 2))
            shares.append(float(beside.max() / steps[k]))  # the next largest step near the jump
    assert len(shares) >= 8, shares
    assert np.median(shares) < 0.35, np.round(shares, 2)
