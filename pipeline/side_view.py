"""A face seen from the side: how far it can be turned before the picture tears.

The geometric renderer reads each pixel of a turned face from where the same surface point lies in
the photo. A face turned more than `SIDE_VIEW_DEGREES` hides most of its far half behind the nose
and the profile: turning it towards the camera shows that half, whose pixels then read the nose in
front of it and the background beyond the profile (a detached second nose, a gap of background
inside the face); turning it past profile shows a band hidden behind the near cheek, read as a seam
of repeated cheek (docs/SIDE_VIEW.md). `tear_share` measures that on the mesh; `turn_limits` holds
such a photo's yaw between its own pose and just short of profile, and `pipeline.advice` tells the
user so. A three-quarter face (turned more than `TURNED_DEGREES`) shows its far cheek and jaw
foreshortened: turned through the front by 30 degrees, those few photo pixels are spread three
times and more (a smeared jaw, a cheek read from the hair), so with `PreviewSettings.through_front`
it is turned towards the camera at most `THROUGH_FRONT_DEGREES` (docs/THROUGH_FRONT.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from core.coefficients import FaceCoefficients, MotionSequence
from pipeline.face_mesh import rasterise_triangles
from pipeline.preview_settings import PreviewSettings
from reconstruction.controls import CONTROL_SPECS

__all__ = [
    "HIDDEN_DEPTH",
    "PROFILE_DEGREES",
    "SIDE_VIEW_DEGREES",
    "TEAR_SHARE",
    "THROUGH_FRONT_DEGREES",
    "TURNED_DEGREES",
    "TurnLimits",
    "photo_depth",
    "hold_motion",
    "tear_share",
    "turn_limits",
]

#: Beyond this head turn (degrees) the photo shows one side of the face: its far half is hidden.
SIDE_VIEW_DEGREES = 40.0
#: Such a face is turned away at most to this yaw (degrees): past profile the mesh shows a band the
#: photo hides behind the near cheek (PRNet 3 clean at 89.3, torn at 91.8).
PROFILE_DEGREES = 88.0
#: A surface point counts as hidden in the photo when a part of the face lies nearer to the camera
#: than it by more than this share of the face size (a grazing far cheek is the ordinary stretch of
#: a turn; a point behind the nose or behind the near cheek is not).
HIDDEN_DEPTH = 0.25
#: A render is torn when more than this share of its face shows surface the photo hides (largest
#: clean render of the survey 0.021, smallest torn 0.024; frontal photos at yaw 30 <= 0.006).
TEAR_SHARE = 0.022

#: Beyond this turn (degrees) a face shows its far cheek foreshortened (docs/THROUGH_FRONT.md) ...
TURNED_DEGREES = 12.0
#: ... and is turned towards the camera at most this far: every surveyed three-quarter photo reads
#: clean at 20, seven of 28 over-magnified at 25 and most at 30.
THROUGH_FRONT_DEGREES = 20.0

_YAW_RANGE = next(spec.maximum for spec in CONTROL_SPECS if spec.name == "yaw")


@dataclass(frozen=True)
class TurnLimits:
    """The yaw slider's range (degrees, the slider's sign) within which a side view renders
    without tearing. towards / away: the largest turn towards the camera / away from it."""

    lowest: float
    highest: float
    photo_yaw: float

    @property
    def towards(self) -> float:
        return self.highest if self.photo_yaw < 0 else -self.lowest

    @property
    def away(self) -> float:
        return -self.lowest if self.photo_yaw < 0 else self.highest

    @property
    def slider_range(self) -> float:
        """The yaw slider's own reach each way (degrees)."""
        return float(_YAW_RANGE)

    def clip(self, yaw: float) -> float:
        return float(np.clip(yaw, self.lowest, self.highest))


def turn_limits(coefficients: FaceCoefficients, through_front: bool | None = None) -> TurnLimits | None:
    """The yaw slider's range that renders a turned face without tearing or smearing.

    A side view (beyond `SIDE_VIEW_DEGREES`): no turn towards the camera (the photo does not show
    the hidden half: 2.5 degrees already tore left_face's nose tip and 5 PRNet 3's brow), away up
    to `PROFILE_DEGREES`. With `through_front` (default: `PreviewSettings.through_front`), a
    three-quarter view (beyond `TURNED_DEGREES`): towards the camera up to `THROUGH_FRONT_DEGREES`,
    away the slider's full reach. None otherwise (rendered as asked)."""
    yaw = float(coefficients.angles_degrees[1])
    if abs(yaw) <= SIDE_VIEW_DEGREES:
        if through_front is None:
            through_front = PreviewSettings.through_front
        if not (through_front and abs(yaw) > TURNED_DEGREES):
            return None
        towards = min(THROUGH_FRONT_DEGREES, float(_YAW_RANGE))
        if yaw < 0:  # facing the picture's left: a positive yaw turns it towards the camera
            return TurnLimits(-float(_YAW_RANGE), towards, yaw)
        return TurnLimits(-towards, float(_YAW_RANGE), yaw)
    away = float(np.clip(PROFILE_DEGREES - abs(yaw), 0.0, _YAW_RANGE))
    if yaw < 0:  # facing the picture's left: a positive yaw turns it towards the camera
        return TurnLimits(-away, 0.0, yaw)
    return TurnLimits(0.0, away, yaw)


def hold_motion(
    motion: MotionSequence, coefficients: FaceCoefficients, through_front: bool | None = None
) -> MotionSequence:
    """`motion` (reenactment, audio) with each frame's yaw held within the photo's `turn_limits`
    (`through_front` as there) around its own yaw; unchanged for a photo that has none."""
    limits = turn_limits(coefficients, through_front)
    if limits is None:
        return motion
    photo_yaw = float(coefficients.angles[1])
    angles = motion.angles.copy()
    angles[:, 1] = np.clip(
        angles[:, 1], photo_yaw + np.radians(limits.lowest), photo_yaw + np.radians(limits.highest)
    )
    return dataclasses.replace(motion, angles=angles)


def photo_depth(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 depth of the photo's mesh, the nearest within each 3x3 neighbourhood (1e9
    where the mesh does not reach). points: (N, 3) crop pixels and depth (smaller = nearer)."""
    h, w = size
    pix, tri, bary = rasterise_triangles(points, triangles, size)
    depth = np.full(h * w, 1e9, np.float32)
    depth[pix] = np.einsum("pk,pk->p", bary, points[triangles[tri], 2])
    return cv2.erode(depth.reshape(h, w), np.ones((3, 3), np.uint8))


def tear_share(
    source: np.ndarray,
    target: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    depth: np.ndarray | None = None,
) -> float:
    """The share of the rendered face that shows surface the photo hides (docs/SIDE_VIEW.md).

    Args:
        source, target: (N, 3) the photo's and the render's mesh in crop pixels and depth.
        triangles: (F, 3) the mesh's triangles; size: (H, W) of the crop.
        depth: `photo_depth` of `source` (computed here when not given).
    Returns:
        In [0, 1]: of the target mesh's z-buffered pixels, those whose surface point lies in the
        photo behind a nearer part of the face by more than `HIDDEN_DEPTH` of the face size.
    """
    h, w = size
    depth = photo_depth(source, triangles, size) if depth is None else depth
    pix, tri, bary = rasterise_triangles(target, triangles, size)
    if len(pix) == 0:
        return 0.0
    read = np.einsum("pk,pkd->pd", bary, source[triangles[tri]])  # (P, 3) the photo's x, y, depth
    x = np.clip(np.round(read[:, 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.round(read[:, 1]).astype(np.int64), 0, h - 1)
    face_size = float(np.ptp(source[:, :2], axis=0).max())
    hidden = read[:, 2] > depth[y, x] + HIDDEN_DEPTH * face_size
    return float(hidden.mean())
