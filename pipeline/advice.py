"""Notes for photos the renderer can only edit badly: what the user is told after the analysis.

The renderer moves what the photo shows. A face seen from the side hides half of itself, a mouth
covered by a mask is not a mouth, and a hand at the face moves with it: edits there look
stretched, paint lips on the mask or bend the hand. The notes
say so once, when the photo is analysed (web app) or edited (CLI); nothing is refused, but a side
view's turn is held within what renders without tearing (`pipeline.side_view`), and its note says so.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.coefficients import FaceCoefficients
from pipeline.side_view import SIDE_VIEW_DEGREES, THROUGH_FRONT_DEGREES, turn_limits

__all__ = [
    "SIDE_VIEW_DEGREES",
    "THREE_QUARTER_DEGREES",
    "side_view_advice",
    "three_quarter_advice",
    "through_front_advice",
    "covered_mouth_advice",
    "hand_advice",
    "photo_advice",
]

#: Beyond this turn the far cheek is partly hidden: turning the head back towards the camera shows
#: surface the photo does not have (seen on teaser_1 at 25 degrees and Mary Katherine Smart at 29).
THREE_QUARTER_DEGREES = 20.0
#: Face-mesh contours: the outer and inner lip rings, and a patch of each cheek under the eye.
_LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
_LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
_CHEEKS = ([117, 118, 101, 36, 205, 50], [346, 347, 330, 266, 425, 280])
#: A covered mouth: the lip ring lighter than the cheeks by this much (CIE L*, 0-255 scale of OpenCV)
#: and less red (a*) by this much. Lips are darker than the cheeks on every shared portrait
#: (by 15-120) and at least as red, except under lip-coloured occluders; a white surgical mask reads
#: +35 / -8. Black or skin-coloured covers are not caught.
_COVER_LIGHTER = 10.0
_COVER_LESS_RED = 3.0


def side_view_advice(coefficients: FaceCoefficients) -> str | None:
    """A note for a face seen from the side (|yaw| > `SIDE_VIEW_DEGREES`), else None: its turns are
    limited (`pipeline.side_view.turn_limits`), since beyond them the picture tears where the half
    the photo hides would show.
    """
    yaw = float(coefficients.angles_degrees[1])
    limits = turn_limits(coefficients)
    if limits is None or abs(yaw) <= SIDE_VIEW_DEGREES:
        return None
    towards = "positive" if yaw < 0 else "negative"
    away = ""
    if limits.away < limits.slider_range:
        away = f" and at {limits.away:.0f} degrees away from it (short of profile)"
    return (
        f"The face is seen from the side (turned {abs(yaw):.0f} degrees), so half of it is hidden: "
        f"the turn is held at 0 towards the camera (yaw {towards}){away}, since beyond that the "
        "picture tears. A photo facing the camera (within about 30 degrees) edits best."
    )


def three_quarter_advice(coefficients: FaceCoefficients) -> str | None:
    """A note for a three-quarter view (`THREE_QUARTER_DEGREES` < |yaw| <= `SIDE_VIEW_DEGREES`).

    Turning such a face towards the camera reveals the far cheek, which the photo hides behind the
    nose and the face's outline: the renderer can only stretch what it sees there.
    """
    yaw = float(coefficients.angles_degrees[1])
    if not THREE_QUARTER_DEGREES < abs(yaw) <= SIDE_VIEW_DEGREES or turn_limits(coefficients) is not None:
        return None  # a held turn has its own note (`through_front_advice`)
    towards = "negative" if yaw > 0 else "positive"
    return (
        f"The face is turned {abs(yaw):.0f} degrees to the side, so part of its far cheek is hidden: "
        f"turning it towards the camera (yaw {towards}) by more than about 10 degrees shows that "
        "cheek stretched. Turning it further away and the other edits work as usual."
    )


def through_front_advice(coefficients: FaceCoefficients, through_front: bool | None = None) -> str | None:
    """A note for a three-quarter view whose turn towards the camera is held
    (`pipeline.side_view.turn_limits` with `through_front`), else None: the slider stops short of
    what was asked, and the user is told why (docs/THROUGH_FRONT.md)."""
    yaw = float(coefficients.angles_degrees[1])
    limits = turn_limits(coefficients, through_front)
    if limits is None or abs(yaw) > SIDE_VIEW_DEGREES:
        return None
    towards = "positive" if yaw < 0 else "negative"
    return (
        f"The face is turned {abs(yaw):.0f} degrees, so the photo shows its far cheek and jaw "
        f"foreshortened: the turn towards the camera (yaw {towards}) is held at "
        f"{THROUGH_FRONT_DEGREES:.0f} degrees, since beyond that they smear. Turning it further away "
        "and the other edits work as usual."
    )


def _mean_lab(
    lab: np.ndarray, landmarks: np.ndarray, ring: list[int], hole: list[int] | None = None
) -> np.ndarray:
    mask = np.zeros(lab.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[ring]).astype(np.int32)], 1)
    if hole is not None:
        cv2.fillPoly(mask, [np.round(landmarks[hole]).astype(np.int32)], 0)
    return lab[mask > 0].mean(0) if mask.any() else np.full(3, np.nan)


def covered_mouth_advice(crop: np.ndarray, landmarks: np.ndarray) -> str | None:
    """A note when the lips look covered (a light, colourless ring where the lips should be), else None.

    Args:
        crop: (H, W, 3) uint8 RGB renderer crop.
        landmarks: (478, 2|3) face-mesh points in crop pixels.
    """
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[0] < 468:
        return None
    points = points[:, :2]
    if not np.all(np.isfinite(points[_LIPS_OUTER + _LIPS_INNER])):
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2LAB).astype(np.float32)
    lips = _mean_lab(lab, points, _LIPS_OUTER, _LIPS_INNER)
    cheeks = np.nanmean([_mean_lab(lab, points, cheek) for cheek in _CHEEKS], axis=0)
    if not (np.all(np.isfinite(lips)) and np.all(np.isfinite(cheeks))):
        return None
    lighter, redder = lips[0] - cheeks[0], lips[1] - cheeks[1]
    if lighter > _COVER_LIGHTER and redder < -_COVER_LESS_RED:
        return (
            "The mouth looks covered (a mask?): mouth edits would paint lips on top of it. "
            "Use a photo where the mouth is visible for smiles and open mouths."
        )
    return None


def hand_advice(hands: int) -> str | None:
    """A note when `hands` (> 0) hands touch the face (`pipeline.hands.covering_hands`), else None.

    The renderer moves what lies over and around the face with it: holding the hand still was
    tried, but the face it hides cannot be shown (docs/HANDS.md).
    """
    if hands <= 0:
        return None
    return (
        "A hand covers or touches part of the face: it moves with the face, so turning, nodding or "
        "opening the mouth will bend or stretch it. A photo with nothing in front of the face edits best."
    )


def photo_advice(
    coefficients: FaceCoefficients, crop: np.ndarray, landmarks: np.ndarray, *, hands: int = 0
) -> list[str]:
    """Every note that applies to an analysed face (empty for a usual portrait); hands: how many
    hands touch the face."""
    notes = [
        side_view_advice(coefficients),
        three_quarter_advice(coefficients),
        through_front_advice(coefficients),
        covered_mouth_advice(crop, landmarks),
        hand_advice(hands),
    ]
    return [note for note in notes if note]
