"""What the geometric renderer knows of one photo (`PreviewState`) and what is read off it.

`GeometricRenderer.prepare` fills a `PreviewState` once per photo; every frame of that photo reads
it (and the few per-photo results made on first use: `PreviewState.openings_made`). Kept apart
from the renderer so the per-photo record and the per-frame rendering each read as one job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.coefficients import FaceCoefficients
from pipeline.eyes import Iris, Lids, shift_gaze, shut_opening
from pipeline.face_paint import lash_colour
from pipeline.glasses import FrameMask
from pipeline.head import HeadProxy
from pipeline.jaw_edge import PhotoJaw
from pipeline.lid_shape import LidDetail
from pipeline.mouth import MouthInterior

__all__ = ["PreviewState", "gaze_shift", "is_greyscale", "photo_opening", "triangle_corners"]


@dataclass(frozen=True, eq=False)
class PreviewState:
    """What `GeometricRenderer.prepare` computes once per photo (belongs to one user's session).

    source: (H, W, 3) uint8 crop (read-only); coeffs: the photo's coefficients; points: (N, 3)
    projected source mesh (pixels, depth); face_size: longer side of the face, pixels;
    exposure: mean face brightness / 128 (shades the synthetic mouth); grid_x, grid_y: (H, W)
    float32 pixel coordinates (the identity sampling map); mouth: what the photo shows inside
    its mouth; irises: each eye's iris (None where the photo's eye is closed); corners: (F, 3, 2)
    source pixels of each mesh triangle's corners; greyscale: a black-and-white photo.
    """

    source: np.ndarray
    coeffs: FaceCoefficients
    points: np.ndarray
    face_size: float
    exposure: float
    grid_x: np.ndarray
    grid_y: np.ndarray
    mouth: MouthInterior
    irises: tuple[Iris | None, ...]
    head: HeadProxy | None = None
    lashes: tuple[np.ndarray, ...] = ()
    lid_colours: np.ndarray | None = None
    lid_detail: LidDetail | None = None  # `lid_shape.lid_detail`, with `PreviewSettings.lid_shape`
    corners: np.ndarray | None = None
    greyscale: bool = False
    jaw: PhotoJaw | None = None
    wide: tuple[bool, ...] = (False, False)  # per eye: shown wide open, shut as such (`pipeline.wide_eyes`)
    glasses: tuple[tuple[np.ndarray, ...], FrameMask] | None = None  # `glasses.find_glasses`
    small: float = 1.0  # how small the photo is for its crop (`squeeze.photo_share`; 1: crop = photo)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.source.shape[0]), int(self.source.shape[1])

    @cached_property
    def openings_made(self) -> dict[tuple[int, bool], tuple[np.ndarray, np.ndarray] | None]:
        """Per (eye, with its lash fringe) the photo's opening a shut lid hides (`photo_opening`)."""
        return {}


def photo_opening(
    state: PreviewState, k: int, lids: tuple[Lids, Lids], lashes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """`GeometricRenderer`'s shut-eye entry of eye k, which the target shuts (read-only): the
    photo's opening (with its lash fringe) and its lashes' colour (`lash_colour` of the opening)."""
    opening = shut_opening(*lids, state.size, wide=state.wide[k])
    if opening is None:
        return None
    colour = lash_colour(state.source, opening)  # the line's own colour (`paint_lash_line`) when no fringe
    if lashes is not None and np.any(lashes > 0.5):
        opening = shut_opening(*lids, state.size, lashes, state.wide[k])
    for array in (opening, colour):
        array.setflags(write=False)
    return opening, colour


def gaze_shift(state: PreviewState, target: FaceCoefficients) -> np.ndarray | None:
    """(2,) gaze of the target relative to the photo; None when it asks for no change."""
    shift = shift_gaze(target.gaze, state.coeffs.gaze)
    return None if shift is None or not np.any(np.abs(shift) > 1e-4) else shift


def triangle_corners(state: PreviewState, triangles: np.ndarray) -> np.ndarray:
    """(F, 3, 2) source pixels of the triangles' corners (prepared once per photo)."""
    return state.corners if state.corners is not None else state.points[triangles, :2]


def is_greyscale(image: np.ndarray) -> bool:
    """A black-and-white photo (its channels differ by less than 3 levels on 99 % of pixels)."""
    spread = image.max(axis=2).astype(np.int16) - image.min(axis=2)
    return float(np.percentile(spread, 99)) < 3.0
