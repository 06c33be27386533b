"""How each semantic control becomes coefficients: expression directions and head-pose geometry.

The directions are derived from the face model itself, the same way for every model, so the same
control works on the project's own mesh model and on the BFM of the public weights. A control
is a set of wanted displacements of some of the 68 iBUG landmarks (in units of the mean face's
outer-eye-corner distance; e.g. open_mouth: the lower lip and chin down, the upper lip slightly
up). The direction is the ridge-regularised least-squares solution over the expression basis
that moves those landmarks so while keeping every vertex far from them still (a weight that
grows from 0 near the controlled landmarks to 1 a little further away). The ridge (a Gaussian
prior on coefficients, which are unit-variance in both models) chooses, among the ways the
basis can produce the motion, the one the data finds most likely; afterwards the direction is
scaled so that slider 1.0 gives the wanted displacement (a strong but plausible expression).
The winks are solved with the eye's closure as a hard constraint instead (`solve_wink`): face
models learnt from talking videos couple the two eyes, and only a firm pin on the other eye
finds the basis combination that shuts one eye alone.

The head controls turn the head about a point of the skull at the top of the neck
(`head_pivot`), and move or scale it in each model's own camera (`moved_translation`,
`turned_translation`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.coefficients import BFM_DEEP3D, DEFAULT_FACE_MODEL
from core.errors import InputError
from core.geometry import euler_to_matrix
from reconstruction.bfm import CAMERA_DISTANCE, FOCAL, PRINCIPAL_POINT, BFMFaceModel
from reconstruction.detection import LANDMARKS68_INDICES
from reconstruction.face_model import LinearFaceModel
from reconstruction.fitting import REFERENCE_SCALE

__all__ = [
    "DerivationSettings",
    "ModelGeometry",
    "expression_targets",
    "geometry_of",
    "head_pivot",
    "moved_translation",
    "solve_direction",
    "solve_wink",
    "turned_translation",
]


# Landmark targets of the expression controls (68-point iBUG layout, image-left points first)

_BROWS = tuple(range(17, 27))
_LIPS = tuple(range(48, 68))
_CHEEKS = (2, 3, 4, 12, 13, 14)
_JAW = tuple(range(3, 14))
_EYE_PAIRS = {"left": ((37, 41), (38, 40)), "right": ((43, 47), (44, 46))}  # (upper lid, lower lid)
_EYE_CORNERS = {"left": (36, 39), "right": (42, 45)}
#: The inner lips' (upper, lower) pairs: what a wink or the brows must not part.
_INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
# Mirror image of each of the 68 landmarks (left-right pairs of the layout; centre points map to themselves).
_MIRROR_PAIRS = (
    *((i, 16 - i) for i in range(8)),
    (17, 26),
    (18, 25),
    (19, 24),
    (20, 23),
    (21, 22),
    (31, 35),
    (32, 34),
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),
    (60, 64),
    (61, 63),
    (65, 67),
)
_MIRROR = np.arange(68)
for _a, _b in _MIRROR_PAIRS:
    _MIRROR[_a], _MIRROR[_b] = _b, _a


@dataclass(frozen=True)
class _Pins:
    """Penalties (per unit of motion, against the targets' mean squared error) that keep parts of
    the face still in a control that should not move them: the inner lips' opening and the mouth's
    corners (`mouth`), each eye's lid gap (`lids`), and every landmark of the eyes, lips, nose and
    jaw line in place (a pin on the gaps alone lets the solve shift a whole eye or lip instead)."""

    mouth: float = 0.0
    gap: float = 0.0  # the inner lips' opening alone (the corners free)
    lids: float = 0.0
    eyes: float = 0.0
    lips: float = 0.0
    nose: float = 0.0
    jaw: float = 0.0


#: The brows' pins: the default model, learnt from talking clips, couples brows with lips and
#: lids; a pin on the lips alone moved the lids more (lowered brows then shut the eyes), and pins
#: on the gaps alone shifted whole eyes with the brows. Together they leave the lips' gap and
#: corners within 0.01 eye units, the lid gaps within 0.003, and the brows' motion as asked.
_BROW_PINS = _Pins(mouth=256.0, lids=128.0, eyes=32.0, lips=16.0, nose=16.0, jaw=16.0)


@dataclass(frozen=True)
class _Target:
    """Wanted displacements (landmark -> (dx, dy, dz), eye-distance units, y up, z to camera) and
    landmarks left free (neither driven nor held still)."""

    moves: Mapping[int, tuple[float, float, float]]
    free: tuple[int, ...] = ()
    symmetric: bool = True
    weights: Mapping[int, float] = field(default_factory=dict)  # per-landmark weight of a move (default 1)
    ridge_scale: float = 1.0  # < 1 buys motion the basis holds only weakly (larger coefficients)
    pins: _Pins | None = None  # parts far from the targets kept firmly still


#: round_lips as a closed-lip pucker (a kiss, a closed "ooo"): the corners drawn in and down (a
#: smiling photo's corners come down), the inner lips pressed together (an open target gaped into
#: a slot with teeth on smiling photos, rounds 1 and 2; a photo's own parted lips close), the lips' outer edges a
#: little out (fuller red), the chin held. No forward (z) motion is asked: the default basis, learnt
#: from talking clips, moves the lips back whatever is asked, and an unreachable forward ask only
#: lowers the solve's gain, which then scales every other motion up (1.7x here, 3x in round 1).
_PUCKER = _Target(
    {
        48: (0.08, -0.04, 0.0),
        54: (-0.08, -0.04, 0.0),
        60: (0.07, -0.02, 0.0),
        64: (-0.07, -0.02, 0.0),
        51: (0.0, 0.02, 0.0),
        57: (0.0, -0.02, 0.0),
        **{upper: (0.0, -0.015, 0.0) for upper, _ in _INNER_LIP_PAIRS},
        **{lower: (0.0, 0.015, 0.0) for _, lower in _INNER_LIP_PAIRS},
        8: (0.0, 0.0, 0.0),
    },
    _LIPS + _CHEEKS,
    weights={
        8: 5.0,
        51: 3.0,
        57: 3.0,
        48: 3.0,
        54: 3.0,
        **{i: 4.0 for pair in _INNER_LIP_PAIRS for i in pair},
    },
)


def _eye_closure(mean68: np.ndarray, side: str) -> dict[int, tuple[float, float, float]]:
    """Upper lids 85 % and lower lids 15 % of the way to each other (they meet); corners still."""
    moves: dict[int, tuple[float, float, float]] = {}
    for upper, lower in _EYE_PAIRS[side]:
        gap = mean68[lower] - mean68[upper]
        moves[upper] = tuple(0.85 * gap)
        moves[lower] = tuple(-0.15 * gap)
    for corner in _EYE_CORNERS[side]:
        moves[corner] = (0.0, 0.0, 0.0)
    return moves


def expression_targets(mean68: np.ndarray, pucker: bool = False) -> dict[str, _Target]:
    """The wanted landmark motion of each expression control at slider +1 (a strong expression).

    `mean68` is (68, 3) in eye-distance units (needed for the eyelid gaps); `pucker` swaps the
    round lips' open "ooo" for a closed-lip pucker (`_PUCKER`). Points given a large
    weight are held where a face model's basis tends to couple them with the driven points
    (e.g. the chin with the lower lip, the upper lip with the mouth corners).
    """
    down = lambda a: (0.0, -a, 0.0)  # noqa: E731 - tiny local helpers keep the table readable
    up = lambda a: (0.0, a, 0.0)  # noqa: E731
    still = (0.0, 0.0, 0.0)
    lips_free = _LIPS
    lower_lip = {66: down(0.22), 65: down(0.22), 67: down(0.22), 57: down(0.22), 56: down(0.2), 58: down(0.2)}
    return {
        "smile": _Target(
            # the lower lip's outer edge rises a little with the corners: left free, the basis
            # pushes it down and the lower lip swells into a pout
            {
                48: (-0.06, 0.10, -0.02),
                54: (0.06, 0.10, -0.02),
                51: up(0.02),
                57: up(0.01),
                62: still,
                66: still,
            },
            lips_free + _CHEEKS,
            weights={51: 3.0, 57: 6.0, 62: 3.0, 66: 3.0},
        ),
        "open_mouth": _Target(
            {
                **lower_lip,
                62: up(0.03),
                61: up(0.02),
                63: up(0.02),
                51: up(0.02),
                7: still,
                8: still,
                9: still,
            },
            lips_free + _JAW,
            # chin and upper lip held, the lower lip moves as a whole (keeps its thickness)
            weights={
                7: 20.0,
                8: 20.0,
                9: 20.0,
                56: 2.0,
                57: 2.0,
                58: 2.0,
                62: 3.0,
                61: 3.0,
                63: 3.0,
                51: 3.0,
            },
        ),
        "wide_mouth": _Target(
            {48: (-0.09, 0.01, -0.02), 54: (0.09, 0.01, -0.02), 62: up(0.01), 66: down(0.04), 8: still},
            lips_free + _CHEEKS,
            weights={8: 5.0},
        ),
        "round_lips": _PUCKER
        if pucker
        else _Target(
            {
                48: (0.08, 0.0, 0.03),
                54: (-0.08, 0.0, 0.03),
                51: (0.0, 0.0, 0.06),
                57: (0.0, -0.03, 0.06),
                62: (0.0, 0.01, 0.05),
                66: (0.0, -0.05, 0.05),
                8: still,
            },
            lips_free + _CHEEKS,
            weights={8: 5.0},
        ),
        "raise_brows": _Target({i: up(0.09 if i in (17, 26) else 0.11) for i in _BROWS}, pins=_BROW_PINS),
        "frown": _Target(
            {
                21: (0.035, -0.06, 0.0),
                22: (-0.035, -0.06, 0.0),
                20: (0.02, -0.05, 0.0),
                23: (-0.02, -0.05, 0.0),
                19: down(0.03),
                24: down(0.03),
                18: down(0.02),
                25: down(0.02),
                17: down(0.01),
                26: down(0.01),
            },
            pins=_BROW_PINS,
        ),
        "close_eyes": _Target({**_eye_closure(mean68, "left"), **_eye_closure(mean68, "right")}),
    }


@dataclass(frozen=True)
class DerivationSettings:
    """Knobs of the direction solve (distances in eye-distance units of the mean face).

    ridge: weight of the coefficient prior |c|^2 against the mean squared landmark error (both
    per point); smaller follows the targets more literally with larger coefficients.
    hold: weight of keeping far vertices still (mean over vertices) against the targets;
    free_hold: the fraction of it that still holds the vertices near the controlled landmarks.
    landmark_hold: weight of holding each 68-landmark far from the controlled ones (as a target).
    symmetry: weight of mirror symmetry of the 68 landmarks' motion (symmetric controls only).
    free_radius / hold_radius: vertices nearer than free_radius to a controlled landmark may
    move freely; the weight that holds them rises to `hold` at hold_radius.
    pivot_behind: how far behind the outer eye corners the head's turning point lies (the top
    of the neck: about 0.9 of the eye-corner distance in adults, i.e. a little behind the ear
    canal); pivot_below: how far below the eye corners (about the ear canal's height). 0, 0
    would turn about the eye line; the face model's origin is not a fixed point of a real head.
    wink_pin: weight (per pinned point, against the mean over held vertices) that keeps the other
    eye's lids and both eyes' corners still in a wink; wink_lips: the same for the lips' opening
    (0: the lips may part with the wink); wink_ridge: the wink's coefficient prior.
    pucker: round_lips makes a closed-lip pucker instead of an open "ooo" (docs/CONTROLS.md,
    "Round lips, round 3").
    """

    ridge: float = 1e-5
    hold: float = 20.0
    free_hold: float = 0.05
    symmetry: float = 100.0
    landmark_hold: float = 5.0
    free_radius: float = 0.2
    hold_radius: float = 0.45
    pivot_behind: float = 0.9
    pivot_below: float = 0.25
    wink_pin: float = 1000.0
    wink_lips: float = 1000.0
    wink_ridge: float = 1e-4
    pucker: bool = False


@dataclass(frozen=True)
class ModelGeometry:
    """What the controls need of a face model, in numpy float64.

    mean: (N, 3); basis: (N, 3, E); landmarks68: (68,) vertex indices; unit: outer-eye-corner
    distance of the mean face in model units; camera: how translation moves the head. Both
    models have x right, y up, z towards the camera.
    """

    name: str
    mean: np.ndarray
    basis: np.ndarray
    landmarks68: np.ndarray
    unit: float
    camera: Literal["weak-perspective", "perspective"]


def geometry_of(model: Any) -> ModelGeometry:
    """Adapt a LinearFaceModel or a BFMFaceModel."""
    if isinstance(model, LinearFaceModel):
        mean = np.asarray(model.mean, dtype=np.float64)
        basis = np.asarray(model.expression_basis, dtype=np.float64).reshape(mean.shape[0], 3, -1)
        lm68 = np.asarray(LANDMARKS68_INDICES, dtype=np.int64)
        camera: Literal["weak-perspective", "perspective"] = "weak-perspective"
        name = model.name
    elif isinstance(model, BFMFaceModel):
        mean = model.mean_shape.detach().cpu().double().numpy()
        basis = model.expression_basis.detach().cpu().double().numpy().reshape(mean.shape[0], 3, -1)
        lm68 = model.landmark_indices.detach().cpu().numpy().astype(np.int64)
        camera = "perspective"
        name = BFM_DEEP3D
    else:
        raise InputError(
            f"controls need a LinearFaceModel or a BFMFaceModel, got {type(model).__name__}; "
            f"or pass the name '{DEFAULT_FACE_MODEL}'"
        )
    unit = float(np.linalg.norm(mean[lm68[36]] - mean[lm68[45]]))
    if not unit > 0:
        raise InputError(f"face model '{name}' has coincident outer eye corners; cannot scale the controls")
    return ModelGeometry(name, mean, basis, lm68, unit, camera)


def _hold_weights(geo: ModelGeometry, active: np.ndarray, settings: DerivationSettings) -> np.ndarray:
    """(N,) in [0, 1]: 0 near the active landmarks, rising to 1 at `hold_radius` (eye units)."""
    points = geo.mean / geo.unit
    anchors = points[geo.landmarks68[active]]  # (A, 3)
    d = np.full(points.shape[0], np.inf)
    for a in anchors:  # A <= 68: a loop keeps memory at O(N) for the 35k-vertex BFM
        d = np.minimum(d, np.linalg.norm(points - a, axis=1))
    span = settings.hold_radius - settings.free_radius
    ramp = np.clip((d - settings.free_radius) / span, 0.0, 1.0)
    return settings.free_hold + (1.0 - settings.free_hold) * ramp


def solve_direction(geo: ModelGeometry, target: _Target, settings: DerivationSettings) -> np.ndarray:
    """(E,) direction: ridge least squares for the target moves, scaled so slider 1 reaches them."""
    basis = geo.basis / geo.unit  # (N, 3, E) eye units per coefficient
    e = basis.shape[2]
    idx = np.array(sorted(target.moves), dtype=np.int64)
    wanted = np.array([target.moves[i] for i in idx], dtype=np.float64)  # (T, 3)
    rows = basis[geo.landmarks68[idx]].reshape(-1, e)  # (3T, E)
    tw = np.repeat([target.weights.get(int(i), 1.0) for i in idx], 3) / len(idx)  # (3T,)
    active = np.concatenate([idx, np.asarray(target.free, dtype=np.int64)])
    hold = _hold_weights(geo, active, settings)
    held = basis[hold > 0].reshape(-1, e)
    row_w = np.repeat(hold[hold > 0], 3) * settings.hold / basis.shape[0]
    normal = (rows * tw[:, None]).T @ rows + (held * row_w[:, None]).T @ held
    normal += settings.ridge * target.ridge_scale * np.eye(e)
    # The other 68 landmarks (eyes, lips, brows, nose, jaw) are what a viewer looks at: hold them
    # as firmly as the targets are driven, in proportion to how far they are from the targets.
    lm_hold = np.repeat(hold[geo.landmarks68], 3) * settings.landmark_hold / len(idx)
    lm_rows = basis[geo.landmarks68].reshape(-1, e)
    normal += (lm_rows * lm_hold[:, None]).T @ lm_rows
    if target.symmetric:
        lm = basis[geo.landmarks68]  # (68, 3, E)
        flip = np.array([-1.0, 1.0, 1.0])[None, :, None]
        asym = (lm - flip * lm[_MIRROR]).reshape(-1, e)  # motion minus its mirror image: zero when symmetric
        normal += settings.symmetry * asym.T @ asym / 68
    if target.pins is not None:
        normal += _pin_normal(basis[geo.landmarks68], target.pins) / len(idx)
    c = np.linalg.solve(normal, rows.T @ (tw * wanted.reshape(-1)))
    reached = (rows @ c).reshape(-1, 3)
    gain = float(np.sum(reached * wanted) / np.sum(wanted**2))  # how much of the wanted motion c gives
    if not gain > 1e-6:
        raise InputError(f"the expression basis of '{geo.name}' cannot produce this control's motion")
    return c / gain


def _pin_normal(lm: np.ndarray, pins: _Pins) -> np.ndarray:
    """(E, E) normal-equation term of `pins` for the landmarks' basis `lm` (68, 3, E)."""
    e = lm.shape[2]
    gap = lambda pairs: np.stack([lm[u, 1] - lm[lo, 1] for u, lo in pairs])  # noqa: E731 - (P, E)
    still = lambda points: lm[list(points)].reshape(-1, e)  # noqa: E731 - (3P, E)
    terms = (
        (pins.mouth, np.concatenate([gap(_INNER_LIP_PAIRS), still((48, 54))])),
        (pins.gap, gap(_INNER_LIP_PAIRS)),
        (pins.lids, np.stack([gap(_EYE_PAIRS[side]).mean(axis=0) for side in ("left", "right")])),
        (pins.eyes, still(range(36, 48))),
        (pins.lips, still(_LIPS)),
        (pins.nose, still(range(27, 36))),
        (pins.jaw, still(range(17))),
    )
    return sum((w * rows.T @ rows for w, rows in terms if w > 0), np.zeros((e, e)))


def solve_wink(geo: ModelGeometry, side: str, settings: DerivationSettings) -> np.ndarray:
    """(E,) direction that shuts one eye (its lid gap closes fully at slider 1) while the other
    eye's lids, both eyes' corners and the lips' opening are pinned and the rest of the face is held.

    A face model learnt from talking videos couples the two eyes (people blink with both), so
    the plain target solve of `solve_direction` closes the other eye 70-90 % as much. Here the
    own eye's closure is a hard constraint (minimise the pins, holds and prior subject to the
    mean upper-to-lower lid gap reaching zero), which finds the combination of the basis that
    closes one eye alone as far as the basis allows, at the price of larger coefficients
    (|direction| 17-20 std for the default model, like `smile`'s 19 and below `open_mouth`'s 23).
    """
    basis = geo.basis / geo.unit  # (N, 3, E) eye units per coefficient
    e = basis.shape[2]
    lm = geo.landmarks68
    mean68 = geo.mean[lm] / geo.unit
    pairs = _EYE_PAIRS[side]
    closing = np.mean(
        [basis[lm[u], 1] - basis[lm[lo], 1] for u, lo in pairs], axis=0
    )  # (E,) lid gap per coeff
    gap = float(np.mean([mean68[u, 1] - mean68[lo, 1] for u, lo in pairs]))
    other = "right" if side == "left" else "left"
    pinned = [i for pair in _EYE_PAIRS[other] for i in pair] + [*_EYE_CORNERS[other], *_EYE_CORNERS[side]]
    pin_rows = basis[lm[pinned]].reshape(-1, e)
    eye = [i for pair in pairs for i in pair] + list(_EYE_CORNERS[side])
    brow = (
        [17, 18, 19, 20, 21] if side == "left" else [22, 23, 24, 25, 26]
    )  # may follow the lid (as in a wink)
    hold = _hold_weights(geo, np.array(eye + brow), settings)
    held = basis[hold > 0].reshape(-1, e)
    row_w = np.repeat(hold[hold > 0], 3) * settings.hold / basis.shape[0]
    normal = (held * row_w[:, None]).T @ held + settings.wink_pin * pin_rows.T @ pin_rows / len(pinned)
    # The lips stay shut as they are (a wink parted them a sliver, painted as a dark gap).
    lips = np.stack([basis[lm[u], 1] - basis[lm[lo], 1] for u, lo in _INNER_LIP_PAIRS])  # (3, E)
    normal += settings.wink_lips * lips.T @ lips / len(pinned)
    lm_hold = np.repeat(hold[lm], 3) * settings.landmark_hold / len(eye)
    lm_rows = basis[lm].reshape(-1, e)
    normal += (lm_rows * lm_hold[:, None]).T @ lm_rows + settings.wink_ridge * np.eye(e)
    x = np.linalg.solve(normal, closing)
    reach = float(closing @ x)
    if not reach > 1e-12:
        raise InputError(f"the expression basis of '{geo.name}' cannot close one eye")
    return -gap * x / reach


# Head pose in each model's camera

# The BFM camera of Deep3DFaceRecon (reconstruction.bfm): perspective, focal 1015 px in a 224-px
# crop, camera at z = 10 looking down -z.
_BFM_CROP = 2 * PRINCIPAL_POINT


def moved_translation(
    camera: str, translation: np.ndarray, move_x: float, move_y: float, scale: float
) -> np.ndarray:
    """New (3,) translation for moves in percent of the frame and a size change in percent."""
    t = translation.astype(np.float64)
    factor = 1.0 + scale / 100.0
    if camera == "weak-perspective":
        # tx, ty: model origin in [-1, 1] frame coordinates, y down; tz = log(size) (fitting.py).
        return np.array([t[0] + 2 * move_x / 100.0, t[1] - 2 * move_y / 100.0, t[2] + math.log(factor)])
    # Perspective: a shift of p pixels at depth D is p * D / f world units; scaling the size by
    # `factor` divides the depth by it, and x, y with it so that the face stays where it was.
    depth = CAMERA_DISTANCE - t[2]
    per_percent = _BFM_CROP / 100.0 * depth / FOCAL
    x, y = t[0] + move_x * per_percent, t[1] + move_y * per_percent  # BFM y is up
    return np.array([x / factor, y / factor, CAMERA_DISTANCE - depth / factor])


def head_pivot(geo: ModelGeometry, settings: DerivationSettings) -> np.ndarray:
    """(3,) model-frame point the head turns about: centred between the outer eye corners,
    `pivot_below` and `pivot_behind` eye units below and behind them (y up, z to the camera)."""
    corners = geo.mean[geo.landmarks68[[36, 45]]].mean(axis=0)
    return corners + geo.unit * np.array([0.0, -settings.pivot_below, -settings.pivot_behind])


def turned_translation(
    camera: str, translation: np.ndarray, before: np.ndarray, after: np.ndarray, pivot: np.ndarray
) -> np.ndarray:
    """New (3,) translation that keeps the model point `pivot` where it was in the camera
    frame when the angles change from `before` to `after` (radians, pitch/yaw/roll).

    Both models place a model point X at R X + t (the default model scaled by s in its weak-
    perspective frame): t' = t + (R_before - R_after) X. For the default model tx, ty are in
    half frame widths/heights (ty down) and s / (w / 2) = 2 * REFERENCE_SCALE * exp(tz); a
    square crop is assumed, as the renderer's. Depth does not change a weak-perspective picture.
    """
    t = translation.astype(np.float64)
    shift = (euler_to_matrix(before) - euler_to_matrix(after)) @ pivot  # model units, y up
    if camera == "weak-perspective":
        per_unit = 2.0 * REFERENCE_SCALE * math.exp(float(t[2]))  # frame half-widths per model unit
        return np.array([t[0] + per_unit * shift[0], t[1] - per_unit * shift[1], t[2]])
    return t + shift
