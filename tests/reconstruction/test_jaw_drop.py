"""open_mouth's jaw drop (`DerivationSettings.jaw_drop`, reconstruction/jaw_drop.py; docs/JAW_DROP.md):
off it is main's direction; on, the mouth opens as far, the chin drops part of the way, the skin
under the lower lip does not fold, the upper face stays, and the rigid part poses the head as solved."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reconstruction.control_directions import DerivationSettings, expression_targets, geometry_of
from reconstruction.controls import ControlSet
from reconstruction.face_model import load_default_face_model
from reconstruction.fitting import pose_to_image
from reconstruction.jaw_drop import posed, rigid_columns
from tests.conftest import random_face

#: The default (MediaPipe) mesh's midline from the lower lip's outer edge down to the chin.
UNDER_LIP = (17, 18, 200, 199, 175, 152)
INNER_PAIRS = ((61, 67), (62, 66), (63, 65))


@pytest.fixture(scope="module")
def geo():  # noqa: ANN201
    return geometry_of(load_default_face_model())


@pytest.fixture(scope="module")
def sets(geo) -> dict[str, ControlSet]:  # noqa: ANN001
    return {"off": ControlSet(geo), "on": ControlSet(geo, DerivationSettings(jaw_drop=True))}


def _gap(motion: np.ndarray) -> float:
    return float(np.mean([motion[u, 1] - motion[lo, 1] for u, lo in INNER_PAIRS]))


def test_off_is_mains_direction(geo, sets) -> None:  # noqa: ANN001
    mean68 = geo.mean[geo.landmarks68] / geo.unit
    assert expression_targets(mean68, DerivationSettings()) == expression_targets(mean68)
    assert not sets["off"].rigid
    assert set(sets["on"].rigid) == {"open_mouth"}
    for name, direction in sets["off"].directions.items():
        if name != "open_mouth":
            np.testing.assert_array_equal(direction, sets["on"].directions[name])


def test_the_mouth_opens_as_far_and_the_chin_follows(sets) -> None:  # noqa: ANN001
    off, on = (sets[k].landmark_motion({"open_mouth": 1.0}) for k in ("off", "on"))
    assert abs(_gap(on) / _gap(off) - 1.0) <= 0.03
    assert off[8, 1] > 0  # main holds the chin (it even rises a little)
    assert 0.05 < -on[8, 1] < 0.5 * (on[62, 1] - on[66, 1])  # down, part of the way
    for part in (range(17, 27), range(36, 48)):  # brows and eyes stay
        assert np.abs(on[list(part), :2]).max() < 0.03


def test_the_skin_under_the_lower_lip_does_not_fold(geo, sets) -> None:  # noqa: ANN001
    """Down the midline from the lip's edge to the chin, no step of the mean face is squeezed to
    less than 0.4 of its height (main: the lip's edge passes the skin under it)."""
    mean = geo.mean / geo.unit
    before = -np.diff(mean[list(UNDER_LIP), 1])
    for key, folds in (("off", True), ("on", False)):
        cs = sets[key]
        d = cs.directions["open_mouth"]
        r = cs.rigid.get("open_mouth", np.zeros(5))
        moved = mean + (geo.basis @ d + rigid_columns(geo, cs.pivot) @ r) / geo.unit
        after = -np.diff(moved[list(UNDER_LIP), 1])
        squeeze = after / before
        assert (squeeze.min() < 0.4) == folds, np.round(squeeze, 2)


def test_posed_moves_the_head_as_the_rigid_columns_say(geo, sets) -> None:  # noqa: ANN001
    """To first order, the pose `posed` gives places the mean face where the rigid columns move it."""
    cs = sets["on"]
    coeffs = random_face(3, [8.0, -15.0, 4.0], [0.05, -0.1, 0.2])
    rigid = 0.02 * np.array([1.0, -1.0, 0.5, 1.0, 1.0])
    angles, translation = posed(cs.camera, coeffs.translation, coeffs.angles, rigid, cs.unit, cs.pivot)

    def image(points: np.ndarray, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        scale, rot, shift = pose_to_image(a, t, (256, 256))
        return (scale * points @ rot.T + shift)[:, :2]

    moved = image(geo.mean, angles, translation)
    predicted = image(geo.mean + rigid_columns(geo, cs.pivot) @ rigid, coeffs.angles, coeffs.translation)
    motion = np.abs(moved - image(geo.mean, coeffs.angles, coeffs.translation)).max()
    assert motion > 2.0  # pixels: the part moves the head
    assert np.abs(moved - predicted).max() < 0.05 * motion


def test_apply_poses_the_head_only_with_the_jaw_drop(sets) -> None:  # noqa: ANN001
    coeffs = random_face(4, [0.0, 10.0, 0.0], [0.0, 0.0, 0.1])
    off = sets["off"].apply(coeffs, {"open_mouth": 1.0})
    np.testing.assert_array_equal(off.angles, coeffs.angles)
    np.testing.assert_array_equal(off.translation, coeffs.translation)
    on = sets["on"].apply(coeffs, {"open_mouth": 0.5, "yaw": 5})
    turned = sets["on"].apply(coeffs, {"yaw": 5})
    assert abs(on.angles[0] - turned.angles[0] - 0.5 * sets["on"].rigid["open_mouth"][4]) < 1e-5
    assert sets["on"].apply(coeffs, {"open_mouth": 0.0}) is coeffs


@pytest.mark.realdata
@pytest.mark.slow
def test_an_opened_mouth_does_not_fold_its_lower_lip_over_the_chin(shared_data: Path) -> None:
    """open_mouth 1 on closed lips (EAMM 7, 256 px): down the mouth's middle columns, from the inner
    lower lip to the chin, no output row of the renderer's flow skips more than 2.5 photo rows
    (main's direction: 18.5 rows in one, a beaded seam round the lower lip)."""
    from pipeline import EditRequest, EngineRegistry, prepare_photo
    from pipeline.face_paint import curve_y
    from pipeline.photo import target_coefficients
    from reconstruction.detection import LANDMARKS68_INDICES

    registry = EngineRegistry(fast=False)
    state = prepare_photo(shared_data / "images" / "jixinya__EAMM__7.png", registry=registry)
    engine = registry.geometric(state.backend)
    renderer, preview = engine.renderer, state.engine_state(engine)
    geometry = geometry_of(registry.backend(state.backend).model)
    state._controls = ControlSet(geometry, replace(DerivationSettings(), jaw_drop=True))
    coeffs = target_coefficients(state, EditRequest(values={"open_mouth": 1.0}), registry=registry)
    flow = renderer.render_flow(preview, coeffs)
    points = renderer.target_points(preview, coeffs)
    upper, lower = (points[lip, :2] for lip in renderer.projector.layout.mouth)
    left, right = sorted((upper[0, 0], upper[-1, 0]))
    width = right - left
    chin = float(points[LANDMARKS68_INDICES[8], 1])
    for x in np.round(np.linspace(left + 0.3 * width, right - 0.3 * width, 7)).astype(int):
        top = float(curve_y(lower, np.array([float(x)]))[0])
        ys = np.arange(int(top) + 2, int(chin) + 1)
        read = ys + flow[ys, x, 1]
        assert np.diff(read).max() < 2.5, (x, np.round(np.diff(read), 1))
