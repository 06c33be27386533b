"""Deep3DFaceRecon's 224-px face alignment (Deng et al. 2019, data preparation).

The coefficient network of the public weights only gives meaningful numbers on crops made the
way it was trained: five image landmarks (eye centres, nose tip, mouth corners) are fitted to the
five standard 3D points of the BFM by a least-squares scale + translation (an affine camera whose
mean row norm is the scale), the whole image is resized by ``s = 102 / scale`` with PIL bicubic,
and a 224 x 224 window is cut so that the fitted face centre lands in the middle.

Conventions kept exactly as in the original so that the coefficients (and the descriptor's crop
rows ``s, tx, ty``) match the public pipeline:

* landmarks are given here as pixel coordinates with y pointing down; internally they are
  flipped to the original's y-up frame with ``y_up = H - 1 - y``, so ``ty`` of ``trans_params``
  is measured in that y-up frame;
* the resized size is ``int(w0 * s), int(h0 * s)`` and the window's left/upper corner is
  truncated towards zero, as the original's ``astype(np.int32)`` does;
* pixels outside the resized image are black.

When the resized image would be huge (a tiny face in a large photo), only the part under the
window is resampled (PIL's ``box`` argument, same scale), which bounds memory at the cost of
one-grey-level rounding differences in a few pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from core.errors import CheckpointError, InputError, WeightsNotFoundError
from core.images import check_rgb8

__all__ = [
    "AlignedFace",
    "RESCALE_FACTOR",
    "STANDARD_POINTS_3D",
    "TARGET_SIZE",
    "align_face",
    "fit_scale_translation",
    "five_points_from_68",
    "load_standard_points",
]

logger = logging.getLogger(__name__)

#: Side of the aligned crop in pixels.
TARGET_SIZE = 224
#: Crop pixels per unit of the standard face (the original's ``rescale_factor``).
RESCALE_FACTOR = 102.0

#: Largest resized image (in pixels) made in full before cropping; larger ones are resampled
#: window-only (see `_resize_window`).
MAX_EXACT_RESIZE_PIXELS = 4096 * 4096

#: (5, 3) the five standard 3D points of the BFM, in the order left eye centre, right eye centre,
#: nose tip, left mouth corner, right mouth corner ("left" = image left), x right, y up, z towards
#: the camera. They are what `load_standard_points` computes from ``similarity_Lm3D_all.mat``
#: (68 points reduced to 5 by `five_points_from_68`); embedded so that alignment works without it.
STANDARD_POINTS_3D = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],
        [0.30979887, 0.28972036, 0.13179526],
        [0.0032535, -0.04617932, 0.55244243],
        [-0.25216928, -0.38133916, 0.22405732],
        [0.2484662, -0.38128236, 0.22235769],
    ],
    dtype=np.float64,
)

# 0-based indices in the 68-point (iBUG / Multi-PIE) layout.
_NOSE_TIP = 30
_LEFT_EYE = (36, 39)
_RIGHT_EYE = (42, 45)
_MOUTH_LEFT = 48
_MOUTH_RIGHT = 54


def five_points_from_68(points68: np.ndarray) -> np.ndarray:
    """Reduce 68 landmarks (68, D) to the 5 alignment points (5, D), as the original does.

    Eye centres are the means of the two eye corners; the order is left eye, right eye, nose tip,
    left mouth corner, right mouth corner. Works for 2D image points and the 3D standard points.
    """
    pts = np.asarray(points68, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 68:
        raise InputError(f"expected (68, D) landmarks, got shape {pts.shape}")
    return np.stack(
        [
            pts[list(_LEFT_EYE)].mean(axis=0),
            pts[list(_RIGHT_EYE)].mean(axis=0),
            pts[_NOSE_TIP],
            pts[_MOUTH_LEFT],
            pts[_MOUTH_RIGHT],
        ]
    )


def load_standard_points(path: str | Path) -> np.ndarray:
    """(5, 3) float64 standard points from Deep3DFaceRecon's ``similarity_Lm3D_all.mat`` (field ``lm``)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path} does not exist: similarity_Lm3D_all.mat ships in the BFM folder of Deep3DFaceRecon. "
            "It is optional here: without it the embedded standard points (STANDARD_POINTS_3D) are used."
        )
    try:
        lm = loadmat(str(path))["lm"]
    except (ValueError, OSError, TypeError, KeyError, MatReadError, NotImplementedError) as exc:
        raise CheckpointError(
            f"{path} is not a readable similarity_Lm3D_all.mat with a (68, 3) field 'lm' ({exc})"
        ) from None
    lm = np.asarray(lm, dtype=np.float64)
    if lm.shape != (68, 3) or not np.all(np.isfinite(lm)):
        raise CheckpointError(f"{path}: field 'lm' must be a finite (68, 3) array, found {lm.shape}")
    return five_points_from_68(lm)


def fit_scale_translation(points_2d: np.ndarray, points_3d: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares affine camera from 3D to 2D; returns (translation (2,), scale).

    Solves ``p = A x + t`` for the 2x3 matrix ``A`` and ``t`` over all point pairs and reports the
    mean norm of A's two rows as the scale (the original's ``POS``). Points are (K, 2) and (K, 3),
    in the same y-up frame.
    """
    p2 = np.asarray(points_2d, dtype=np.float64)
    p3 = np.asarray(points_3d, dtype=np.float64)
    k = p2.shape[0]
    design = np.zeros((2 * k, 8))
    design[0::2, 0:3] = p3  # rows for x: [X Y Z 1 0 0 0 0]
    design[0::2, 3] = 1.0
    design[1::2, 4:7] = p3  # rows for y: [0 0 0 0 X Y Z 1]
    design[1::2, 7] = 1.0
    target = p2.reshape(-1)  # x0, y0, x1, y1, ...
    sol, *_ = np.linalg.lstsq(design, target, rcond=None)
    scale = float((np.linalg.norm(sol[0:3]) + np.linalg.norm(sol[4:7])) / 2.0)
    return np.array([sol[3], sol[7]]), scale


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A 224-px aligned face crop and how it maps to the source image.

    Attributes:
        image: (224, 224, 3) uint8 RGB crop, the network's input after ``/ 255``.
        trans_params: (5,) float64 ``w0, h0, s, tx, ty``: source size, image scale factor and the
            fitted face centre (``ty`` in the original's y-up frame, ``y_up = h0 - 1 - y``).
        resized_size: (w, h) of the virtually resized source image, ``int(w0 * s), int(h0 * s)``.
        offset: (left, up) of the window in the resized image (may be negative: black padding).
        landmarks: (K, 2) the input landmarks in crop pixel coordinates, y down.
    """

    image: np.ndarray
    trans_params: np.ndarray
    resized_size: tuple[int, int]
    offset: tuple[int, int]
    landmarks: np.ndarray

    @property
    def crop(self) -> np.ndarray:
        """(3,) float32 ``s, tx, ty``: the descriptor's crop rows."""
        return self.trans_params[2:5].astype(np.float32)

    def to_crop(self, points_xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) source-image pixel coordinates (y down) into the crop (y down).

        Uses the pixel-centre convention of the resampling (``x' = (x + 0.5) * w / w0 - 0.5``).
        """
        zoom, off = _zoom_offset(self.trans_params, self.resized_size, self.offset)
        return (np.asarray(points_xy, dtype=np.float64) + 0.5) * zoom - 0.5 - off

    def to_image(self, points_xy: np.ndarray) -> np.ndarray:
        """Inverse of `to_crop`: (..., 2) crop pixel coordinates (y down) -> source image (y down)."""
        zoom, off = _zoom_offset(self.trans_params, self.resized_size, self.offset)
        return (np.asarray(points_xy, dtype=np.float64) + off + 0.5) / zoom - 0.5


def _zoom_offset(
    trans_params: np.ndarray, resized_size: tuple[int, int], offset: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis zoom (w / w0, h / h0) and window offset of an alignment."""
    zoom = np.array([resized_size[0] / trans_params[0], resized_size[1] / trans_params[1]])
    return zoom, np.asarray(offset, dtype=np.float64)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = check_rgb8(image)
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"image is too small to align a face: {image.shape[1]}x{image.shape[0]} px")
    return image


def _check_landmarks(landmarks_xy: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] not in (5, 68):
        raise InputError(f"expected (5, 2) or (68, 2) landmarks in pixel coordinates, got shape {lm.shape}")
    if not np.all(np.isfinite(lm)):
        raise InputError("landmarks contain NaN or infinite values")
    return lm


def _resize_window(
    image: Image.Image, resized: tuple[int, int], offset: tuple[int, int], size: int, exact: bool = True
) -> np.ndarray:
    """Pixels [left, left+size) x [up, up+size) of ``image.resize(resized, BICUBIC)``, black outside.

    With `exact`, up to `MAX_EXACT_RESIZE_PIXELS`, the whole image is resized, exactly as the
    original does. Otherwise (or when a small face in a huge image would need gigabytes) only the
    window is resampled with the same scale: several times faster, but PIL's rounding then differs
    by at most one grey level in about 0.1 % of the pixels.
    """
    w0, h0 = image.size
    w, h = resized
    left, up = offset
    out = np.zeros((size, size, 3), dtype=np.uint8)
    x0, x1 = max(left, 0), min(left + size, w)
    y0, y1 = max(up, 0), min(up + size, h)
    if x1 <= x0 or y1 <= y0:
        return out
    if exact and w * h <= MAX_EXACT_RESIZE_PIXELS:
        part = image.resize((w, h), resample=Image.Resampling.BICUBIC).crop((x0, y0, x1, y1))
    else:
        box = (x0 * w0 / w, y0 * h0 / h, min(x1 * w0 / w, w0), min(y1 * h0 / h, h0))
        part = image.resize((x1 - x0, y1 - y0), resample=Image.Resampling.BICUBIC, box=box)
    out[y0 - up : y1 - up, x0 - left : x1 - left] = np.asarray(part)
    return out


def align_face(
    image: np.ndarray,
    landmarks_xy: np.ndarray,
    standard_points: np.ndarray | None = None,
    target_size: int = TARGET_SIZE,
    rescale_factor: float = RESCALE_FACTOR,
    exact: bool = True,
) -> AlignedFace:
    """Align a face for the Deep3DFaceRecon network.

    Args:
        image: (H, W, 3) uint8 RGB.
        landmarks_xy: (5, 2) left eye, right eye, nose tip, left / right mouth corner, or (68, 2)
            iBUG landmarks (reduced to 5 as the original does); pixel coordinates, y down.
        standard_points: (5, 3) standard 3D points; `STANDARD_POINTS_3D` when None.
        target_size: crop side in pixels (224 for the public network).
        rescale_factor: crop pixels per unit of the standard face (102).
        exact: resize the whole image as the original does (bit-exact crop); False resamples only
            the window (faster on large video frames, at most one grey level different).

    Returns:
        The `AlignedFace` (crop, ``trans_params`` and the point mappings).
    """
    image = _check_image(image)
    lm = _check_landmarks(landmarks_xy)
    std = STANDARD_POINTS_3D if standard_points is None else np.asarray(standard_points, dtype=np.float64)
    if std.shape != (5, 3):
        raise InputError(f"standard points must have shape (5, 3), got {std.shape}")
    h0, w0 = image.shape[:2]
    lm5 = five_points_from_68(lm) if lm.shape[0] == 68 else lm
    lm5_up = np.stack([lm5[:, 0], (h0 - 1) - lm5[:, 1]], axis=1)  # y up, as the original
    t, scale = fit_scale_translation(lm5_up, std)
    if not np.isfinite(scale) or scale <= 1e-6 * max(h0, w0):
        raise InputError(
            "the landmarks are degenerate (they do not span a face); expected 5 distinct points "
            "left eye, right eye, nose tip, left and right mouth corner"
        )
    s = rescale_factor / scale
    w, h = int(w0 * s), int(h0 * s)
    if w < 1 or h < 1:
        raise InputError(f"the face is larger than the image can hold (scale {s:.4f} for {w0}x{h0} px)")
    half = target_size / 2.0
    left = int(w / 2.0 - half + (t[0] - w0 / 2.0) * s)  # int() truncates towards zero, as astype(int32)
    up = int(h / 2.0 - half + (h0 / 2.0 - t[1]) * s)
    crop = _resize_window(Image.fromarray(image), (w, h), (left, up), target_size, exact)
    trans_params = np.array([w0, h0, s, t[0], t[1]], dtype=np.float64)
    zoom, off = _zoom_offset(trans_params, (w, h), (left, up))
    logger.debug(
        "aligned %dx%d image: s=%.4f t=(%.2f, %.2f) window=(%d, %d)", w0, h0, s, t[0], t[1], left, up
    )
    return AlignedFace(
        image=crop,
        trans_params=trans_params,
        resized_size=(w, h),
        offset=(left, up),
        landmarks=(lm + 0.5) * zoom - 0.5 - off,
    )
