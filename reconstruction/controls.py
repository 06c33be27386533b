"""Semantic editing controls over 3DMM coefficients (PIRenderer section 4.3, portrait editing).

Users move named sliders (head yaw, "smile", "open mouth", ...) instead of the face model's
anonymous expression coefficients. Every slider is declared once, in `CONTROL_SPECS`, and read
from there by the web UI, the reset button, the CLI and the pipeline.

How a control becomes coefficients (`ControlSet.apply`):

- head controls add to the pose: yaw, pitch and roll add degrees to the angles, and the head
  turns about a point of the skull at the top of the neck (behind the ears), not about the face
  model's origin (inside the face), so the translation follows the turn as a real head's does;
  move_x, move_y and scale change the translation in the face model's own camera convention
  (see `ControlSet.apply`);
- each expression control owns one direction (E,) in the model's expression space, and the
  slider value multiplies it; directions add, so controls compose (smile + raise brows);
- all values are relative to the photo's own coefficients: 0 changes nothing, and all zeros
  return the original record itself (exact reset).

The directions and the head geometry are derived from the face model in
`reconstruction.control_directions`. `ControlSet.landmark_motion` reports what a setting does
to the 68 landmarks, for checks.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from core.coefficients import (
    BFM_DEEP3D,
    DEFAULT_FACE_MODEL,
    FaceCoefficients,
    MotionSequence,
    check_face_model,
)
from core.errors import InputError
from reconstruction.bfm import bfm_not_installed
from reconstruction.control_directions import (
    DerivationSettings,
    ModelGeometry,
    expression_targets,
    geometry_of,
    head_pivot,
    moved_translation,
    solve_direction,
    solve_wink,
    turned_translation,
)
from reconstruction.face_model import load_default_face_model

__all__ = [
    "ControlSpec",
    "check_control_values",
    "CONTROL_SPECS",
    "CONTROL_NAMES",
    "HEAD_CONTROLS",
    "EXPRESSION_CONTROLS",
    "GAZE_CONTROLS",
    "SPECS_BY_NAME",
    "PRESETS",
    "DerivationSettings",
    "ControlSet",
    "control_set_for",
    "interpolate",
    "preset_values",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlSpec:
    """One slider: the UI, the CLI and the reset button read everything about it from here.

    `group` is "head" (pose) or "expression"; `minimum`/`maximum`/`step` are in `unit`;
    `default` is the value that changes nothing (0.0 for every control: they are relative).
    """

    name: str
    label: str
    group: Literal["head", "expression"]
    minimum: float
    maximum: float
    default: float = 0.0
    step: float = 0.01
    unit: str = ""
    description: str = ""


def _head(name: str, label: str, limit: float, unit: str, description: str) -> ControlSpec:
    """A pose slider from -limit to +limit, in steps of 1 `unit`."""
    return ControlSpec(name, label, "head", -limit, limit, step=1.0, unit=unit, description=description)


def _expression(name: str, label: str, minimum: float, description: str) -> ControlSpec:
    """An expression slider from `minimum` (-1 or 0) to 1, in steps of 0.05."""
    return ControlSpec(name, label, "expression", minimum, 1.0, step=0.05, description=description)


#: Every slider, declared once. Expression sliders are in [-1, 1] where the opposite direction
#: means something (a sad mouth, lowered brows, pursed lips) and [0, 1] where it does not.
CONTROL_SPECS: tuple[ControlSpec, ...] = (
    _head(
        "yaw",
        "Turn (yaw)",
        30.0,
        "deg",
        "Turn the head left/right; positive moves the nose towards the picture's right.",
    ),
    _head("pitch", "Nod (pitch)", 20.0, "deg", "Tilt the head up/down; positive turns the nose down."),
    _head(
        "roll",
        "Tilt (roll)",
        20.0,
        "deg",
        "Tilt the head sideways; positive turns it counter-clockwise in the picture.",
    ),
    _head(
        "move_x",
        "Move left/right",
        20.0,
        "%",
        "Shift the head horizontally, in percent of the frame width; positive moves it right.",
    ),
    _head(
        "move_y",
        "Move up/down",
        20.0,
        "%",
        "Shift the head vertically, in percent of the frame height; positive moves it up.",
    ),
    _head(
        "scale",
        "Size",
        25.0,
        "%",
        "Make the head larger (positive) or smaller in the frame, in percent, about its own centre.",
    ),
    _expression("smile", "Smile", -1.0, "Mouth corners up and out; negative turns them down."),
    _expression("open_mouth", "Open mouth (aaa)", 0.0, "Drop the jaw and part the lips, as in 'aaa'."),
    _expression(
        "wide_mouth",
        "Wide mouth (eee)",
        -1.0,
        "Stretch the lips sideways, as in 'eee'; negative narrows the mouth.",
    ),
    _expression("round_lips", "Round lips (ooo)", 0.0, "Round and push the lips forward, as in 'ooo'."),
    _expression("raise_brows", "Raise brows", -1.0, "Lift both eyebrows (surprise); negative lowers them."),
    _expression("frown", "Frown", 0.0, "Pull the inner eyebrows down and together."),
    _expression("close_eyes", "Close eyes", 0.0, "Lower both upper lids onto the lower lids (1 = closed)."),
    _expression("wink_left", "Wink (left)", 0.0, "Close the eye on the picture's left only."),
    _expression("wink_right", "Wink (right)", 0.0, "Close the eye on the picture's right only."),
    _expression(
        "gaze_x",
        "Look left/right",
        -1.0,
        "Move both irises inside the eyes; positive looks towards the picture's right (1 = as far as the eye allows).",
    ),
    _expression(
        "gaze_y",
        "Look up/down",
        -1.0,
        "Move both irises up (positive) or down inside the eyes (1 = as far as the lids allow).",
    ),
    _expression(
        "neutralise",
        "Remove photo's expression",
        0.0,
        "Fade out the photo's own expression towards the face model's neutral face "
        "(1 = expression coefficients replaced by zeros, before the other sliders are added).",
    ),
)

#: Names in table order.
CONTROL_NAMES: tuple[str, ...] = tuple(s.name for s in CONTROL_SPECS)
#: Name -> spec.
SPECS_BY_NAME: Mapping[str, ControlSpec] = MappingProxyType({s.name: s for s in CONTROL_SPECS})
HEAD_CONTROLS: tuple[str, ...] = tuple(s.name for s in CONTROL_SPECS if s.group == "head")
#: Controls of where the eyes look: the face model has no eyeballs, so they set `FaceCoefficients.gaze`.
GAZE_CONTROLS: tuple[str, ...] = ("gaze_x", "gaze_y")
#: Expression controls that own a direction (`neutralise` scales the photo's expression instead).
EXPRESSION_CONTROLS: tuple[str, ...] = tuple(
    s.name
    for s in CONTROL_SPECS
    if s.group == "expression" and s.name != "neutralise" and s.name not in GAZE_CONTROLS
)

#: Slider settings with a name. They are relative to the photo, like any slider setting, except
#: "neutral", which sets `neutralise` = 1: the photo's expression coefficients are replaced by
#: zeros, the face model's mean (neutral, mouth closed) expression; the pose is kept.
PRESETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "neutral": MappingProxyType({"neutralise": 1.0}),
        "smile": MappingProxyType({"smile": 0.8}),
        "surprise": MappingProxyType({"raise_brows": 1.0, "open_mouth": 0.45}),
        "aaa": MappingProxyType({"open_mouth": 0.8}),
        "eee": MappingProxyType({"wide_mouth": 0.8, "open_mouth": 0.15}),
        "ooo": MappingProxyType({"round_lips": 0.9, "open_mouth": 0.25}),
    }
)


def preset_values(name: str) -> dict[str, float]:
    """A preset as a full {control: value} dict (every control present, zeros for the others)."""
    if name not in PRESETS:
        raise InputError(f"unknown preset '{name}'; known presets: {', '.join(PRESETS)}")
    values = {n: 0.0 for n in CONTROL_NAMES}
    values.update(PRESETS[name])
    return values


def check_control_values(values: Mapping[str, float]) -> dict[str, float]:
    """Slider values checked against the control table (known name, a finite number in range); zeros dropped."""
    out: dict[str, float] = {}
    for name, raw in values.items():
        spec = SPECS_BY_NAME.get(name)
        if spec is None:
            raise InputError(f"unknown control '{name}'; known controls: {', '.join(CONTROL_NAMES)}")
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise InputError(f"control '{name}' needs a number, got {raw!r}") from None
        if not math.isfinite(v):
            raise InputError(f"control '{name}' must be finite, got {v}")
        tolerance = 1e-6 * (spec.maximum - spec.minimum)
        if not spec.minimum - tolerance <= v <= spec.maximum + tolerance:
            raise InputError(
                f"control '{name}' must be in [{spec.minimum:g}, {spec.maximum:g}] {spec.unit}, got {v:g}"
            )
        if v != 0.0:
            out[name] = v
    return out


class ControlSet:
    """The semantic controls of one face model (build with `control_set_for`; immutable, shareable).

    Attributes:
        face_model: name of the face model the coefficients belong to.
        num_expression: E, the length of the expression vectors.
        directions: expression control name -> read-only (E,) float64 change of the expression
            coefficients at slider value 1.0.
        specs: the slider table (`CONTROL_SPECS`); PRESETS: named slider settings.
    """

    specs = CONTROL_SPECS
    PRESETS = PRESETS

    def __init__(self, geometry: ModelGeometry, settings: DerivationSettings | None = None) -> None:
        self.settings = settings or DerivationSettings()
        self.face_model = geometry.name
        self.num_expression = int(geometry.basis.shape[2])
        self.unit = geometry.unit
        self.camera = geometry.camera
        #: (3,) model point the head turns about (`DerivationSettings.pivot_behind`).
        self.pivot = head_pivot(geometry, self.settings)
        self.pivot.setflags(write=False)
        # (68, 3, E) landmark rows in eye units, for `landmark_motion`.
        self._landmark_basis = geometry.basis[geometry.landmarks68] / geometry.unit
        self._landmark_basis.setflags(write=False)
        mean68 = geometry.mean[geometry.landmarks68] / geometry.unit
        dirs: dict[str, np.ndarray] = {}
        solved = {
            name: solve_direction(geometry, target, self.settings)
            for name, target in expression_targets(mean68, self.settings.pucker).items()
        }
        solved["wink_left"] = solve_wink(geometry, "left", self.settings)
        solved["wink_right"] = solve_wink(geometry, "right", self.settings)
        for name in EXPRESSION_CONTROLS:
            d = solved[name]
            d.setflags(write=False)
            dirs[name] = d
            logger.debug("control %s on %s: |direction| = %.2f std", name, self.face_model, np.linalg.norm(d))
        self.directions: Mapping[str, np.ndarray] = MappingProxyType(dirs)

    def __repr__(self) -> str:
        return f"ControlSet(face_model={self.face_model!r}, num_expression={self.num_expression})"

    def expression_offset(self, values: Mapping[str, float]) -> np.ndarray:
        """(E,) float64 sum of value * direction over the expression controls in `values`."""
        checked = check_control_values(values)
        offset = np.zeros(self.num_expression)
        for name, v in checked.items():
            if name in self.directions:
                offset += v * self.directions[name]
        return offset

    def apply(
        self,
        original: FaceCoefficients,
        values: Mapping[str, float],
        raw_expression_offset: np.ndarray | None = None,
    ) -> FaceCoefficients:
        """The photo's coefficients edited by slider `values` (missing controls = 0). Pure.

        Expression: (1 - neutralise) * original + sum(value * direction) + raw_expression_offset
        (E,), the latter for power users who edit coefficients directly. Pose: yaw/pitch/roll add
        degrees to the angles (radians inside), and the translation changes so that the head
        turns about `pivot` (the top of the neck), as a real head does; move_x/move_y (percent
        of the frame, +y up) and scale (percent of size) change the translation: for the
        default model tx, ty in [-1, 1] frame units (y down) and tz = log(size); for the BFM the
        camera-frame x, y (y up) and z
        of Deep3DFaceRecon's perspective camera (224-px frame, focal 1015, camera at z = 10),
        with x, y rescaled with the size so that the head grows about its own centre.
        Gaze: gaze_x/gaze_y add to `original.gaze` (where the irises look, relative to the photo,
        clipped to [-1, 1]). All values zero (and no offset) returns `original` itself, unchanged.
        """
        check_face_model(self.face_model, original.face_model, what="control set")
        if original.expression.shape[0] != self.num_expression:
            raise InputError(
                f"expected {self.num_expression} expression coefficients for '{self.face_model}', "
                f"got {original.expression.shape[0]}"
            )
        checked = check_control_values(values)
        raw = None
        if raw_expression_offset is not None:
            raw = np.asarray(raw_expression_offset, dtype=np.float64).reshape(-1)
            if raw.shape != (self.num_expression,) or not np.all(np.isfinite(raw)):
                raise InputError(
                    f"raw_expression_offset must be {self.num_expression} finite numbers, got shape {raw.shape}"
                )
            if not np.any(raw):
                raw = None
        if not checked and raw is None:
            return original
        changes: dict[str, np.ndarray] = {}
        translation = original.translation.astype(np.float64)
        if any(n in checked for n in ("yaw", "pitch", "roll")):
            delta = np.radians([checked.get("pitch", 0.0), checked.get("yaw", 0.0), checked.get("roll", 0.0)])
            changes["angles"] = (original.angles.astype(np.float64) + delta).astype(np.float32)
            # The stored (float32) angles are the ones the renderers will use.
            translation = turned_translation(
                self.camera,
                translation,
                original.angles.astype(np.float64),
                changes["angles"].astype(np.float64),
                self.pivot,
            )
        if any(n in checked for n in ("move_x", "move_y", "scale")):
            translation = moved_translation(
                self.camera,
                translation,
                checked.get("move_x", 0.0),
                checked.get("move_y", 0.0),
                checked.get("scale", 0.0),
            )
        if any(n in checked for n in HEAD_CONTROLS):
            changes["translation"] = translation.astype(np.float32)
        if raw is not None or any(n in checked for n in (*EXPRESSION_CONTROLS, "neutralise")):
            keep = 1.0 - checked.get("neutralise", 0.0)
            expression = keep * original.expression.astype(np.float64) + self.expression_offset(checked)
            if raw is not None:
                expression = expression + raw
            changes["expression"] = expression.astype(np.float32)
        if any(n in checked for n in GAZE_CONTROLS):
            gaze = np.zeros(2) if original.gaze is None else original.gaze.astype(np.float64)
            gaze = gaze + [checked.get("gaze_x", 0.0), checked.get("gaze_y", 0.0)]
            changes["gaze"] = np.clip(gaze, -1.0, 1.0).astype(np.float32)
        return original.replace(**changes)

    def apply_preset(self, original: FaceCoefficients, name: str) -> FaceCoefficients:
        """`apply` with the slider values of preset `name`."""
        return self.apply(original, preset_values(name))

    def landmark_motion(self, values: Mapping[str, float]) -> np.ndarray:
        """(68, 3) displacement of the 68 landmarks (eye-distance units, y up, z to the camera,
        no head pose) that the expression sliders in `values` cause; `neutralise` is ignored."""
        offset = self.expression_offset(values)
        return self._landmark_basis @ offset

    @staticmethod
    def interpolate(
        a: FaceCoefficients, b: FaceCoefficients, num_frames: int, fps: float = 25.0
    ) -> MotionSequence:
        """Module-level `interpolate`, reachable from a control set too (morph clips)."""
        return interpolate(a, b, num_frames, fps)


#: The settings `control_set_for` builds with (a trial may replace them, then clear `_CACHE`).
DEFAULT_SETTINGS = DerivationSettings()
_CACHE: dict[int, tuple[Any, ControlSet]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def control_set_for(face_model: Any) -> ControlSet:
    """The control set of a face model, built once per model object (thread-safe).

    `face_model` is a `LinearFaceModel`, a `BFMFaceModel`, or the name of the default model
    (`DEFAULT_FACE_MODEL`). The BFM's controls need the model itself (its basis is not bundled):
    pass the `BFMFaceModel` the deep3d backend loaded.
    """
    if face_model is None:  # a deep3d backend without BFM_model_front.mat
        raise bfm_not_installed("the semantic sliders of the BFM")
    if isinstance(face_model, str):
        if face_model == DEFAULT_FACE_MODEL:
            face_model = load_default_face_model()
        elif face_model == BFM_DEEP3D:
            raise InputError(
                f"the controls of '{BFM_DEEP3D}' are derived from the BFM file itself: pass the BFMFaceModel "
                "(e.g. Deep3DBackend(...).face_model) instead of its name"
            )
        else:
            raise InputError(f"unknown face model '{face_model}'; known: {DEFAULT_FACE_MODEL}, {BFM_DEEP3D}")
    key = id(face_model)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is face_model:
            return hit[1]
        built = ControlSet(geometry_of(face_model), DEFAULT_SETTINGS)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (face_model, built)  # holding the model keeps its id from being reused
        return built


def interpolate(
    a: FaceCoefficients, b: FaceCoefficients, num_frames: int, fps: float = 25.0
) -> MotionSequence:
    """A morph clip: `num_frames` (>= 2) frames from `a` to `b` inclusive, linear in every field.

    Expression, angles (radians, small differences: linear is fine), translation, crop and gaze
    (absent = 0) are interpolated; the identity of `a` is kept. Both must belong to one face model.
    """
    check_face_model(a.face_model, b.face_model, what="interpolation")
    if int(num_frames) != num_frames or num_frames < 2:
        raise InputError(f"num_frames must be an integer >= 2, got {num_frames}")
    if a.expression.shape != b.expression.shape:
        raise InputError(f"expression sizes differ: {a.expression.shape} vs {b.expression.shape}")
    t = np.linspace(0.0, 1.0, int(num_frames))[:, None]  # (T, 1)

    def lerp(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((1.0 - t) * x.astype(np.float64) + t * y.astype(np.float64)).astype(np.float32)

    return MotionSequence(
        a.face_model,
        lerp(a.expression, b.expression),
        lerp(a.angles, b.angles),
        lerp(a.translation, b.translation),
        lerp(a.crop, b.crop),
        fps=fps,
        identity=a.identity,
        gaze=None if a.gaze is None and b.gaze is None else lerp(_gaze(a), _gaze(b)),
    )


def _gaze(coeffs: FaceCoefficients) -> np.ndarray:
    return np.zeros(2, np.float32) if coeffs.gaze is None else coeffs.gaze
