"""A rolled head's flow carried beyond the face in the head's own level frame (docs/ROLLED_TURNS.md).

The stages that carry the face's flow beyond the face work along the crop's rows and columns: the
spread unfolds the columns above and below the face and fades the neck down to a horizontal
shoulder line (`pipeline.flow_spread`, `pipeline.neck`), the near cheek's reads are re-spaced per
row (`pipeline.near_cut`), the neck layer shifts the still neck per column (`pipeline.jaw_edge`).
They take the crop's vertical axis for the head's; the crop is never rotated, so on a head rolled
in the picture a turn drags the jaw and neck sideways along the crop's axes into a smear. Here they
run unchanged on a grid rotated with the head (`LevelFrame.run`): the coarse flow and the face's
cover are resampled into it, the meshes, boxes and the photo's jaw rotated with it, and what the
stages change is rotated back. The fitted roll is the image-plane rotation of the head (the
outermost rotation of `core.geometry.euler_to_matrix`, the default model projecting
weak-perspectively), so a photo rotated by t is handled as the upright photo.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.coefficients import FaceCoefficients
from pipeline.jaw_edge import PhotoJaw, photo_jaw
from pipeline.preview_settings import PreviewSettings

__all__ = ["LEVEL_RAMP", "LEVEL_ROLL", "LevelFrame", "Stages", "level_frame", "photo_level"]

#: Under this fitted roll (degrees) the head counts as upright: nothing is rotated ...
LEVEL_ROLL = 4.0
#: ... and over this many degrees more the frame turns in (a smoothstep) to the whole roll, so that
#: a head rolling by degrees (a video's frames) is not levelled at once (the stages' result differs
#: by up to a few pixels beyond the face between frames 3 degrees apart).
LEVEL_RAMP = 4.0

#: The stages beyond the face: (flow, cover, source points, target points, boxes, jaw, crop size)
#: -> (spread flow, (alpha, back)), as `GeometricRenderer` runs them on its own grid.
Stages = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, list, PhotoJaw | None, tuple[int, int]],
    tuple[np.ndarray, tuple[np.ndarray | None, np.ndarray | None]],
]


def _affine(angle: float, centre: np.ndarray) -> np.ndarray:
    """(3, 3) the rotation by `angle` (radians, counter-clockwise on screen) about `centre` (x, y)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # y down: counter-clockwise on screen
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = centre - rot @ centre
    return m


@dataclass(frozen=True)
class LevelFrame:
    """The head's level frame of one photo (made once per photo by `level_frame`).

    to_level: (3, 3) crop pixels -> level crop pixels (the same rotation takes the coarse grid, the
    crop scaled, to the level grid); the level crop and grid are the crop's and the grid's size, the same stages on the same grid as for an upright head (a padded grid
    spreads the flow differently: up to 6 px beyond the face); jaw: `photo_jaw` of the level crop
    (None: no neck layer); maps: the level grid's nodes on the coarse grid (x, y), and the coarse
    grid's nodes on the level grid (x, y), float32 for `cv2.remap`."""

    to_level: np.ndarray
    jaw: PhotoJaw | None
    maps: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

    @property
    def rotation(self) -> np.ndarray:
        """(2, 2) crop vectors -> level vectors."""
        return self.to_level[:2, :2]

    def points(self, points: np.ndarray) -> np.ndarray:
        """(N, 2+) crop points in the level crop (further columns, the depth, kept)."""
        out = np.array(points, np.float64)
        out[:, :2] = points[:, :2] @ self.to_level[:2, :2].T + self.to_level[:2, 2]
        return out

    def boxes(self, boxes: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each (lo, hi) crop box as the level crop's box around its rotated corners."""
        out = []
        for lo, hi in boxes:
            corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [lo[0], hi[1]], [hi[0], hi[1]]], np.float64)
            moved = self.points(corners)
            out.append((moved.min(axis=0), moved.max(axis=0)))
        return out

    def run(
        self,
        stages: Stages,
        flow: np.ndarray,
        cover: np.ndarray,
        points: np.ndarray,
        target_points: np.ndarray,
        boxes: Sequence[tuple[np.ndarray, np.ndarray]],
        size: tuple[int, int],
    ) -> tuple[np.ndarray, tuple[np.ndarray | None, np.ndarray | None]]:
        """`stages` in the level frame, their result on the crop's coarse grid (the spread flow) and
        at the crop's `size` (the neck layer's alpha and back flow).

        flow: (rh, rw, 2) the coarse flow (crop pixels, 0 off the face); cover: (rh, rw) the face;
        points, target_points: the photo's and the target's meshes (crop pixels)."""
        (lx, ly), (cx, cy) = self.maps
        rot = self.rotation
        weight = cv2.remap(cover, lx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        held = cv2.remap(flow * cover[..., None], lx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        level = held / np.maximum(weight, 1e-3)[..., None]
        level[weight < 1e-3] = 0.0
        level = (level @ rot.T.astype(np.float32)).astype(np.float32)
        face = (weight > 0.5).astype(np.float32)
        spread, (alpha, back) = stages(
            level,
            face,
            self.points(points),
            self.points(target_points),
            self.boxes(boxes),
            self.jaw,
            size,
        )
        # Back on the crop's grid (vectors rotated back): on the face, its exact flow plus what the
        # stages changed there (the rim's smoothing, the near cheek); beyond it, the spread flow.
        # Both continue each other across the face's rim, as the spread continues the rim's flow.
        change = np.where(face[..., None] > 0.5, spread - level, 0.0).astype(np.float32)
        back_rot = rot.astype(np.float32)
        change = cv2.remap(change, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) @ back_rot
        beyond = cv2.remap(spread, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) @ back_rot
        out = np.where(cover[..., None] > 0.5, flow + change, beyond).astype(np.float32)
        if alpha is None or back is None:
            return out, (None, None)
        h, w = size
        inverse = self.to_level[:2]  # crop -> level: the map `WARP_INVERSE_MAP` reads at
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        # Beyond the level grid (the crop's corners) the layer continues as at the grid's edge.
        alpha = cv2.warpAffine(alpha, inverse, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        back = cv2.warpAffine(back, inverse, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        return out, (alpha, (back @ back_rot).astype(np.float32))


def level_frame(
    roll: float,
    source: np.ndarray,
    points: np.ndarray,
    raster_scale: float,
    face_size: float,
    jaw: bool,
) -> LevelFrame | None:
    """The level frame of a photo whose head is rolled by `roll` (radians, the fitted coefficient;
    turned in over `LEVEL_RAMP`), or None: the head is upright (under `LEVEL_ROLL`), or the crop's
    coarse grid is not the crop evenly scaled (non-square, or a scale that does not divide it).

    source: (h, w, 3) the crop; points: (N, 2+) its fitted mesh (crop pixels); jaw: make the
    photo's jaw for the neck layer (`PreviewSettings.jaw_edge`, no hand at the face)."""
    if abs(math.degrees(roll)) <= LEVEL_ROLL:
        return None
    t = min((abs(math.degrees(roll)) - LEVEL_ROLL) / LEVEL_RAMP, 1.0)
    angle = roll * t * t * (3.0 - 2.0 * t)
    h, w = source.shape[:2]
    rh, rw = max(8, round(h * raster_scale)), max(8, round(w * raster_scale))
    if h != w or rh != rw or not math.isclose(rh / h, raster_scale) or h % rh:
        return None
    s = rh / h
    # The head's own rotation undone: the picture turned back by the fitted roll.
    to_level = _affine(-angle, np.array([(w - 1) / 2, (h - 1) / 2]))
    # The same rotation on the grid: u = (x + 0.5) s - 0.5.
    scale = np.diag([s, s, 1.0])
    scale[:2, 2] = 0.5 * s - 0.5
    grid = scale @ to_level @ np.linalg.inv(scale)
    frame = LevelFrame(to_level, None, (_nodes(np.linalg.inv(grid), (rh, rw)), _nodes(grid, (rh, rw))))
    if not jaw:
        return frame
    level_source = cv2.warpAffine(
        source, to_level[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return dataclasses.replace(
        frame, jaw=photo_jaw(frame.points(points), level_source, raster_scale, face_size)
    )


def photo_level(
    settings: PreviewSettings,
    coeffs: FaceCoefficients,
    source: np.ndarray,
    points: np.ndarray,
    face_size: float,
    hand_at_face: bool,
) -> LevelFrame | None:
    """`level_frame` of a photo for `GeometricRenderer.prepare` with `PreviewSettings.rolled_turns`
    (None without it, or with the head proxy, which has its own flow beyond the face)."""
    if not settings.rolled_turns or settings.head:
        return None
    jaw = settings.jaw_edge and not hand_at_face
    return level_frame(float(coeffs.angles[2]), source, points, settings.raster_scale, face_size, jaw)


def _nodes(m: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The nodes of a grid of `shape` (h, w) mapped by the (3, 3) `m`: (x, y) float32 maps."""
    gx, gy = np.meshgrid(np.arange(shape[1], dtype=np.float64), np.arange(shape[0], dtype=np.float64))
    x = m[0, 0] * gx + m[0, 1] * gy + m[0, 2]
    y = m[1, 0] * gx + m[1, 1] * gy + m[1, 2]
    return x.astype(np.float32), y.astype(np.float32)
