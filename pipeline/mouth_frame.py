"""The mouth's own level frame: a rotation about the mouth's centre that makes the line between its
corners horizontal.

The mouth model (`pipeline.mouth`) reads and paints the opening column by column between its inner
lip curves, which only works where those curves are functions of x: a rolled head's are steep. The
model therefore works in level coordinates, and a `MouthFrame` carries points and layers in and
out at its boundaries. Points are crop pixels (x right, y down); the frame is a rotation, no scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["LEVEL_ROLL", "MouthFrame"]

#: Under this roll (radians) of the line between the corners a mouth is taken as level: its frame is
#: the identity (the crop's own coordinates, bit for bit). Photos held upright show their mouths
#: rolled by up to about 5 degrees (their lips are still functions of x there, and the renderer
#: was tuned on them as they are); the column model breaks down on steeper lips.
LEVEL_ROLL = math.radians(8.0)


@dataclass(frozen=True)
class MouthFrame:
    """Level coordinates u = R(-angle) (p - centre) + centre of crop points p.

    centre: (2,) crop pixels (the midpoint of the corners); angle: radians, the roll of the line
    from the image-left corner to the other (positive: the right corner lower, y down); 0 for a
    level mouth (`is_level`)."""

    centre: np.ndarray
    angle: float

    @classmethod
    def of_lips(cls, upper: np.ndarray) -> MouthFrame:
        """The frame of a mouth whose (K, 2) lip curve runs from one corner to the other."""
        first, last = np.asarray(upper[0], np.float64), np.asarray(upper[-1], np.float64)
        if last[0] < first[0]:
            first, last = last, first
        angle = math.atan2(last[1] - first[1], last[0] - first[0])
        return cls(0.5 * (first + last), angle if abs(angle) >= LEVEL_ROLL else 0.0)

    @property
    def is_level(self) -> bool:
        return self.angle == 0.0

    def _rotate(self, x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = x - self.centre[0], y - self.centre[1]
        return self.centre[0] + c * dx - s * dy, self.centre[1] + s * dx + c * dy

    def to_level(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Level coordinates of crop points (x, y) (any shape each)."""
        return (x, y) if self.is_level else self._rotate(x, y, -self.angle)

    def from_level(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop points of level coordinates (u, v) (any shape each)."""
        return (u, v) if self.is_level else self._rotate(u, v, self.angle)

    def curve_to_level(self, curve: np.ndarray) -> np.ndarray:
        """A (K, 2) polyline in level coordinates."""
        u, v = self.to_level(curve[:, 0], curve[:, 1])
        return np.stack([u, v], axis=1)

    def sample(
        self,
        layer: np.ndarray,
        origin: tuple[float, float],
        step: float,
        x: np.ndarray,
        y: np.ndarray,
        outside: float = 0.0,
    ) -> np.ndarray:
        """A level layer (h, w) or (h, w, C) float32, its sample (i, j) at level (origin + step (j, i)),
        read bilinearly at crop points (x, y) (same shape (Y, X)): (Y, X) or (Y, X, C) float32;
        `outside` past its edge."""
        u, v = self.to_level(x, y)
        map_x = ((u - origin[0]) / step).astype(np.float32)
        map_y = ((v - origin[1]) / step).astype(np.float32)
        return cv2.remap(
            layer.astype(np.float32, copy=False),
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=outside,
        )

    def level_grid(
        self, x: np.ndarray, y: np.ndarray, step: float, margin: int = 2
    ) -> tuple[np.ndarray, np.ndarray]:
        """Level sample columns (X',) and rows (Y',) `step` apart covering the crop samples at
        columns x (X,) and rows y (Y,), `margin` samples beyond."""
        corners_x = np.array([x[0], x[-1], x[0], x[-1]], np.float64)
        corners_y = np.array([y[0], y[0], y[-1], y[-1]], np.float64)
        u, v = self.to_level(corners_x, corners_y)
        return tuple(
            np.floor(lo / step - margin) * step
            + np.arange(int(np.ceil((hi - lo) / step)) + 2 * margin + 2) * step
            for lo, hi in ((u.min(), u.max()), (v.min(), v.max()))
        )
