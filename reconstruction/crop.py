"""The renderer crop and the exact paste-back (framed like the training crops of the public weights).

PIRenderer's public weights were trained on 256 x 256 VoxCeleb crops made by First Order
Motion Model's preprocessing: a fixed, axis-aligned square per clip, generous enough for hair,
neck and background, the face free to move inside it. We frame a photo the same way: the box
is derived from the 478 landmarks (centre from the eyes and mouth, size from the landmark
extent), never rotated.

The defaults were measured on real VoxCeleb-preprocessed clips (the DaGAN and DPE samples in
../shared/data/videos, both from the FOMM pipeline): the landmark box's longer side is 0.545
of the crop side, and the eyes/mouth centre sits at 0.50 across and 0.57-0.59 down, i.e. the
eyes are near the crop's centre line and the face as a whole a little below it, with about a
quarter of the crop above the forehead for the hair.

Coordinates follow OpenCV: pixel (col, row) has its centre at (x, y) = (col, row).
`CropTransform` holds the 2 x 3 affine from original pixels to crop pixels; `crop_face` samples
the crop (padding by reflection where the box leaves the photo); `warp_photo` moves the photo's
own full-resolution pixels along a motion computed on the crop (one remap: untouched texture stays
as sharp as the photo and no feature appears twice); `paste_back` warps a crop a network painted
back over only the box's region of the original and blends it with a feathered mask.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from core.errors import InputError
from core.images import check_rgb8
from reconstruction.detection import NUM_LANDMARKS, DetectedFace
from reconstruction.folds import blend_across_folds, fold_cells, node_grid
from reconstruction.frame_edge import absolute_reads_in_frame
from reconstruction.overlay import (
    along_lid_edges,
    behind_layer,
    hidden_exits,
    hidden_mask,
    lay_behind,
    lay_overlay,
    leave_hidden,
    lid_edges,
    reads_near,
)

__all__ = [
    "CROP_SIZE",
    "DEFAULT_SCALE",
    "DEFAULT_VERTICAL_OFFSET",
    "CropTransform",
    "face_centre_and_size",
    "crop_box",
    "crop_transform_for_face",
    "crop_face",
    "crop_mask",
    "changed_region_mask",
    "paste_back",
    "paste_mask",
    "warp_photo",
]

#: Side of the renderer's input and output, pixels.
CROP_SIZE = 256
#: Crop side / face size (longer side of the landmark box): the face box is ~54 % of the crop.
DEFAULT_SCALE = 1.85
#: How far the eyes/mouth centre sits below the crop centre, as a fraction of the crop side.
DEFAULT_VERTICAL_OFFSET = 0.075

_EYES = (33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380)
_MOUTH_CORNERS = (61, 291)

BorderMode = Literal["reflect", "replicate", "constant"]
MaskShape = Literal["rounded", "ellipse"]
_BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}
# Below this scale a plain bilinear/bicubic warp aliases; the source is area-filtered first.
_PREFILTER_BELOW = 0.75

Affine = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass(frozen=True)
class CropTransform:
    """Where the crop lies in the original photo.

    `affine` is the 2 x 3 matrix taking original pixel coordinates (x, y, 1) to crop pixel
    coordinates; `crop_size` is the crop side in pixels; `original_size` is (H, W) of the photo.
    Immutable, hashable and JSON-able (`to_dict` / `from_dict`).
    """

    affine: Affine
    crop_size: int = CROP_SIZE
    original_size: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        m = np.asarray(self.affine, dtype=np.float64)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)):
            raise InputError(f"CropTransform.affine must be a finite 2x3 matrix, got {m.tolist()}")
        if abs(np.linalg.det(m[:, :2])) < 1e-12:
            raise InputError("CropTransform.affine is singular (zero scale)")
        if int(self.crop_size) < 8:
            raise InputError(f"crop_size must be at least 8 pixels, got {self.crop_size}")
        h, w = (int(v) for v in self.original_size)
        if h <= 0 or w <= 0:
            raise InputError(f"original_size must be (H, W) > 0, got {self.original_size}")
        object.__setattr__(self, "affine", tuple(tuple(float(v) for v in row) for row in m))
        object.__setattr__(self, "crop_size", int(self.crop_size))
        object.__setattr__(self, "original_size", (h, w))

    @classmethod
    def from_box(
        cls, cx: float, cy: float, side: float, original_size: Sequence[int], crop_size: int = CROP_SIZE
    ) -> CropTransform:
        """The axis-aligned square of `side` pixels centred on (cx, cy) becomes the whole crop."""
        if not (side > 0 and math.isfinite(side) and math.isfinite(cx) and math.isfinite(cy)):
            raise InputError(f"crop box needs a finite centre and side > 0, got ({cx}, {cy}, {side})")
        s = crop_size / side
        # The box's left edge (cx - side/2) maps to the crop's left edge, -0.5 in pixel-centre terms.
        tx = -(cx - side / 2) * s - 0.5
        ty = -(cy - side / 2) * s - 0.5
        h, w = original_size[0], original_size[1]
        return cls(affine=((s, 0.0, tx), (0.0, s, ty)), crop_size=crop_size, original_size=(h, w))

    @property
    def matrix(self) -> np.ndarray:
        """(2, 3) float64, original pixels -> crop pixels."""
        return np.array(self.affine, dtype=np.float64)

    @property
    def scale(self) -> float:
        """Crop pixels per original pixel (> 1: the crop enlarges the face)."""
        return float(math.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def inverse(self) -> np.ndarray:
        """(2, 3) float64, crop pixels -> original pixels."""
        return cv2.invertAffineTransform(self.matrix)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the outer edges of the crop's area in original pixel coordinates."""
        c = self.crop_size
        corners = np.array([[-0.5, -0.5], [c - 0.5, -0.5], [-0.5, c - 0.5], [c - 0.5, c - 0.5]])
        pts = _affine_points(self.inverse(), corners)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def apply_points(self, points: np.ndarray) -> np.ndarray:
        """Original -> crop for (..., 2) or (..., 3) points; a third column (depth) is scaled too."""
        return _map_points(self.matrix, points, self.scale)

    def inverse_points(self, points: np.ndarray) -> np.ndarray:
        """Crop -> original for (..., 2) or (..., 3) points."""
        return _map_points(self.inverse(), points, 1.0 / self.scale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "affine": [list(row) for row in self.affine],
            "crop_size": self.crop_size,
            "original_size": list(self.original_size),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CropTransform:
        missing = {"affine", "crop_size", "original_size"} - set(data)
        if missing:
            raise InputError(f"crop transform record lacks {sorted(missing)}; got keys {sorted(data)}")
        affine = np.asarray(data["affine"], dtype=np.float64)
        if affine.shape != (2, 3):
            raise InputError(f"crop transform 'affine' must be 2x3, got shape {affine.shape}")
        size = tuple(int(v) for v in data["original_size"])
        if len(size) != 2:
            raise InputError(f"crop transform 'original_size' must be [H, W], got {data['original_size']}")
        return cls(
            affine=tuple(map(tuple, affine.tolist())), crop_size=int(data["crop_size"]), original_size=size
        )


def _affine_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _map_points(m: np.ndarray, points: np.ndarray, depth_scale: float) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim < 1 or pts.shape[-1] not in (2, 3):
        raise InputError(f"points must have shape (..., 2) or (..., 3), got {pts.shape}")
    out = pts.copy()
    out[..., :2] = _affine_points(m, pts[..., :2])
    if pts.shape[-1] == 3:
        out[..., 2] = pts[..., 2] * depth_scale
    return out


def _as_landmarks(face: DetectedFace | np.ndarray) -> np.ndarray:
    lm = face.landmarks if isinstance(face, DetectedFace) else np.asarray(face, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] not in (468, NUM_LANDMARKS) or lm.shape[1] not in (2, 3):
        raise InputError(f"expected face-mesh landmarks of shape (478, 2|3), got {lm.shape}")
    return np.asarray(lm[:, :2], dtype=np.float64)


def face_centre_and_size(face: DetectedFace | np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, size) in pixels: centre halfway between eye centre and mouth centre; longer box side."""
    lm = _as_landmarks(face)
    if not np.all(np.isfinite(lm)):
        raise InputError("landmarks contain NaN or infinite values")
    eyes = lm[list(_EYES)].mean(axis=0)
    mouth = lm[list(_MOUTH_CORNERS)].mean(axis=0)
    cx, cy = (eyes + mouth) / 2
    extent = lm.max(axis=0) - lm.min(axis=0)
    return float(cx), float(cy), float(max(extent))


def crop_box(
    face: DetectedFace | np.ndarray,
    *,
    scale: float = DEFAULT_SCALE,
    vertical_offset: float = DEFAULT_VERTICAL_OFFSET,
) -> tuple[float, float, float]:
    """(cx, cy, side) of the square crop in original pixels, VoxCeleb framing.

    `scale` = crop side / face size (larger: more hair and background); `vertical_offset` =
    how far the face centre sits below the crop centre, as a fraction of the side.
    """
    if not scale > 0:
        raise InputError(f"scale must be > 0, got {scale}")
    fx, fy, size = face_centre_and_size(face)
    side = max(scale * size, 1.0)
    return fx, fy - vertical_offset * side, side


def crop_transform_for_face(
    face: DetectedFace | np.ndarray,
    image_size: Sequence[int],
    *,
    scale: float = DEFAULT_SCALE,
    vertical_offset: float = DEFAULT_VERTICAL_OFFSET,
    crop_size: int = CROP_SIZE,
) -> CropTransform:
    """The renderer crop of one face in an image of `image_size` = (H, W)."""
    cx, cy, side = crop_box(face, scale=scale, vertical_offset=vertical_offset)
    return CropTransform.from_box(cx, cy, side, image_size, crop_size)


def _region(image: np.ndarray, x0: int, y0: int, width: int, height: int, border: int) -> np.ndarray:
    """image[y0:y0+height, x0:x0+width], extended past the image edges with `border` padding."""
    h, w = image.shape[:2]
    ix0 = min(max(x0, 0), w - 1)
    iy0 = min(max(y0, 0), h - 1)
    ix1 = min(max(x0 + width, ix0 + 1), w)
    iy1 = min(max(y0 + height, iy0 + 1), h)
    inner = image[iy0:iy1, ix0:ix1]
    top, left = max(0, iy0 - y0), max(0, ix0 - x0)
    bottom, right = max(0, y0 + height - iy1), max(0, x0 + width - ix1)
    if top or bottom or left or right:
        inner = cv2.copyMakeBorder(inner, top, bottom, left, right, borderType=border, value=(0, 0, 0))
    oy, ox = y0 - (iy0 - top), x0 - (ix0 - left)  # offset of the wanted area inside the padded array
    return inner[oy : oy + height, ox : ox + width]


def _prefilter(src: np.ndarray, m: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Area-shrink `src` by about `scale` (< 1) and return it with the matrix adjusted to match."""
    sh, sw = src.shape[:2]
    nw, nh = max(1, round(sw * scale)), max(1, round(sh * scale))
    small = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
    fx, fy = nw / sw, nh / sh
    # small pixel u <-> source pixel (u + 0.5) / f - 0.5
    back = np.array([[1 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1 / fy, 0.5 / fy - 0.5], [0.0, 0.0, 1.0]])
    return small, m @ back


def _warp(src: np.ndarray, m: np.ndarray, size: tuple[int, int], scale: float, border: int) -> np.ndarray:
    """cv2.warpAffine with area prefiltering when shrinking; `m` maps src pixels -> dst pixels."""
    if scale < _PREFILTER_BELOW:
        src, m = _prefilter(src, m, scale)
        scale = 1.0
    flags = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(src, m, size, flags=flags, borderMode=border, borderValue=(0, 0, 0, 0))


def crop_face(image: np.ndarray, transform: CropTransform, *, border: BorderMode = "reflect") -> np.ndarray:
    """Sample the (crop_size, crop_size, 3) uint8 renderer crop from a (H, W, 3) uint8 photo.

    Where the box leaves the photo the missing part is filled by `border` ("reflect": mirrored
    at the edge, which looks most like real background to the renderer). Never fails for a box
    partly or wholly outside the photo.
    """
    image = check_rgb8(image, "image")
    if image.shape[:2] != transform.original_size:
        raise InputError(
            f"image is {image.shape[:2]} (H, W) but the transform was made for {transform.original_size}"
        )
    if border not in _BORDERS:
        raise InputError(f"border must be one of {sorted(_BORDERS)}, got {border!r}")
    x0, y0, x1, y1 = transform.box
    rx0, ry0 = math.floor(x0) - 2, math.floor(y0) - 2
    rw, rh = math.ceil(x1) + 3 - rx0, math.ceil(y1) + 3 - ry0
    region = _region(image, rx0, ry0, rw, rh, _BORDERS[border])
    m = transform.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([rx0, ry0], dtype=np.float64)  # region pixel -> crop pixel
    c = transform.crop_size
    return _warp(region, m, (c, c), transform.scale, cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=16)
def _cached_mask(crop_size: int, feather: float, margin: float, shape: str) -> np.ndarray:
    t = (np.arange(crop_size, dtype=np.float64) + 0.5) / crop_size  # pixel centres in (0, 1)
    if shape == "rounded":
        d = np.minimum(t, 1.0 - t)  # distance to the nearest crop edge, fraction of the side
        ramp = np.clip((d - margin) / feather, 0.0, 1.0)
        ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no kink where the ramp starts or ends
        mask = ramp[:, None] * ramp[None, :]
    else:
        r = np.hypot(t[:, None] - 0.5, t[None, :] - 0.5)  # distance to the centre
        ramp = np.clip((0.5 - margin - r) / feather, 0.0, 1.0)
        mask = ramp * ramp * (3.0 - 2.0 * ramp)
    mask = mask.astype(np.float32)
    mask.setflags(write=False)
    return mask


def crop_mask(
    crop_size: int = CROP_SIZE, *, feather: float = 0.1, margin: float = 0.02, shape: MaskShape = "rounded"
) -> np.ndarray:
    """(crop_size, crop_size) float32 blend weights in [0, 1] (read-only).

    0 within `margin` of the crop border, rising smoothly to 1 over `feather` (both fractions of
    the crop side). "rounded": a square with soft rounded corners; "ellipse": a disc.
    """
    if shape not in ("rounded", "ellipse"):
        raise InputError(f"mask shape must be 'rounded' or 'ellipse', got {shape!r}")
    if not (0.0 < feather and 0.0 <= margin and margin + feather < 0.5):
        raise InputError(f"need feather > 0, margin >= 0 and margin + feather < 0.5; got {feather}, {margin}")
    return _cached_mask(int(crop_size), float(feather), float(margin), shape)


@functools.lru_cache(maxsize=4)
def _flow_fade(crop_size: int) -> np.ndarray:
    """(c, c, 2) float32 (read-only): `warp_photo`'s fade of the flow to the crop border, in both channels."""
    fade = cv2.merge([crop_mask(crop_size, feather=0.1, margin=0.0)] * 2)
    fade.setflags(write=False)
    return fade


def _paste_region(transform: CropTransform) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) of the original covered by the crop, clipped; None if outside."""
    h, w = transform.original_size
    bx0, by0, bx1, by1 = transform.box
    x0, y0 = max(0, math.floor(bx0)), max(0, math.floor(by0))
    x1, y1 = min(w, math.ceil(bx1) + 1), min(h, math.ceil(by1) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _warped_mask(transform: CropTransform, region: tuple[int, int, int, int], **mask_kw: Any) -> np.ndarray:
    x0, y0, x1, y1 = region
    a = transform.inverse()
    a[:, 2] -= (x0, y0)  # crop pixel -> region pixel
    mask = crop_mask(transform.crop_size, **mask_kw)
    return _warp(mask, a, (x1 - x0, y1 - y0), 1.0 / transform.scale, cv2.BORDER_CONSTANT)


def paste_mask(
    transform: CropTransform, *, feather: float = 0.1, margin: float = 0.02, shape: MaskShape = "rounded"
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much of the edited crop `paste_back` puts at each pixel."""
    h, w = transform.original_size
    out = np.zeros((h, w), np.float32)
    region = _paste_region(transform)
    if region is not None:
        x0, y0, x1, y1 = region
        out[y0:y1, x0:x1] = _warped_mask(transform, region, feather=feather, margin=margin, shape=shape)
    return out


def changed_region_mask(
    edited_crop: np.ndarray, source_crop: np.ndarray, *, threshold: float = 8.0
) -> np.ndarray:
    """(c, c) float32 in [0, 1]: where a renderer changed the crop (any channel by more than
    `threshold` of 255), grown by 2 % and feathered over 4 % of the crop side.

    Pasting only there keeps the photo's own full-resolution pixels wherever the network left
    the picture as it was, and takes the network's pixels whole where it changed it (no ghost
    of the old feature shows through).
    """
    edited_crop = check_rgb8(edited_crop, "edited crop")
    source_crop = check_rgb8(source_crop, "source crop")
    if edited_crop.shape != source_crop.shape:
        raise InputError(
            f"edited and source crops differ in size: {edited_crop.shape} vs {source_crop.shape}"
        )
    c = edited_crop.shape[0]
    diff = np.abs(edited_crop.astype(np.int16) - source_crop.astype(np.int16)).max(axis=2)
    changed = (diff > threshold).astype(np.uint8)
    grow = max(1, round(0.02 * c))
    changed = cv2.dilate(changed, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    soft = cv2.GaussianBlur(changed.astype(np.float32), (0, 0), sigmaX=max(0.5, 0.04 * c / 2.0))
    return np.clip(soft * 1.5, 0.0, 1.0) * crop_mask(c, feather=0.1, margin=0.02)


def paste_back(
    original: np.ndarray,
    edited_crop: np.ndarray,
    transform: CropTransform,
    *,
    feather: float = 0.1,
    margin: float = 0.02,
    shape: MaskShape = "rounded",
    mask: np.ndarray | None = None,
    colour_match: bool = False,
) -> np.ndarray:
    """Put an edited (crop_size, crop_size, 3) uint8 crop back into the (H, W, 3) uint8 photo.

    Only the crop's bounding region of the photo is touched, so the cost depends on the face's
    size, not the photo's. The crop's pixels (upsampled to the photo's resolution) are blended
    with `mask`, a (c, c) float32 weight in [0, 1] on the crop (e.g. `changed_region_mask`), or by
    default with `crop_mask(feather, margin, shape)`, which is 0 before the crop border, so there
    is no seam. `colour_match` removes a uniform colour offset between the edited and original
    crop measured in the outer feather band (a renderer's slight tint). Returns a new array;
    `original` is not modified.
    """
    original = check_rgb8(original, "original image")
    edited_crop = check_rgb8(edited_crop, "edited crop")
    c = transform.crop_size
    if original.shape[:2] != transform.original_size:
        raise InputError(
            f"original image is {original.shape[:2]} (H, W) but the transform was made for {transform.original_size}"
        )
    if edited_crop.shape[:2] != (c, c):
        raise InputError(f"edited crop must be {c}x{c}, got {edited_crop.shape[1]}x{edited_crop.shape[0]}")
    mask_kw = {"feather": feather, "margin": margin, "shape": shape}
    weights = crop_mask(c, **mask_kw)  # validates the mask arguments before any work
    if mask is not None:
        weights = np.asarray(mask, dtype=np.float32)
        if weights.shape != (c, c) or not np.all(np.isfinite(weights)):
            raise InputError(f"mask must be a finite {c}x{c} array, got {weights.shape}")
        weights = np.clip(weights, 0.0, 1.0)
    out = original.copy()
    region = _paste_region(transform)
    if region is None:
        return out
    x0, y0, x1, y1 = region
    size = (x1 - x0, y1 - y0)
    a = transform.inverse()
    a[:, 2] -= (x0, y0)  # crop pixel -> region pixel
    edited = edited_crop
    if colour_match:
        edited = _match_colour(edited_crop, crop_face(original, transform), crop_mask(c, **mask_kw))
    blend = _warp(np.ascontiguousarray(weights), a, size, 1.0 / transform.scale, cv2.BORDER_CONSTANT)
    roi = out[y0:y1, x0:x1]
    warped = _warp(np.ascontiguousarray(edited), a, size, 1.0 / transform.scale, cv2.BORDER_REPLICATE)
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, roi, blend, 1.0 - blend)
    return out


def _touched_region(touched: np.ndarray, transform: CropTransform) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) of the photo around the crop pixels marked in `touched` (c, c) bool, or None."""
    # The box of the marked pixels from its rows and columns (no index pair per pixel).
    rows = np.flatnonzero(touched.any(axis=1))
    if rows.size == 0:
        return None
    (y_min, y_max), (x_min, x_max) = rows[[0, -1]], np.flatnonzero(touched.any(axis=0))[[0, -1]]
    corners = np.array(
        [
            [x_min - 1, y_min - 1],
            [x_max + 1, y_min - 1],
            [x_min - 1, y_max + 1],
            [x_max + 1, y_max + 1],
        ],
        dtype=np.float64,
    )
    pts = _affine_points(transform.inverse(), corners)
    h, w = transform.original_size
    x0, y0 = max(0, math.floor(pts[:, 0].min())), max(0, math.floor(pts[:, 1].min()))
    x1, y1 = min(w, math.ceil(pts[:, 0].max()) + 1), min(h, math.ceil(pts[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def warp_photo(
    original: np.ndarray,
    flow: np.ndarray,
    transform: CropTransform,
    *,
    overlay: np.ndarray | None = None,
    overlay_alpha: np.ndarray | None = None,
    hidden: np.ndarray | None = None,
    back_flow: np.ndarray | None = None,
    front_alpha: np.ndarray | None = None,
    paint_blur: float = 0.0,
) -> np.ndarray:
    """Move the (H, W, 3) uint8 photo's own pixels along a backward flow computed on its crop.

    Args:
        original: the photo the crop was taken from.
        flow: (c, c, 2) float32 crop pixels, c = crop side: crop pixel (x, y) shows the source crop
            at (x + flow[y, x, 0], y + flow[y, x, 1]).
        transform: where the crop lies in the photo.
        overlay, overlay_alpha: optional (n c, n c, 3) uint8 content synthesised on the crop (a mouth
            interior) and its (c, c) float32 coverage in [0, 1], laid over the result at the photo's
            resolution (`reconstruction.overlay`: edges as sharp as the photo's, Gaussian sigma
            `paint_blur` photo pixels (`reconstruction.softness`), along their contour; grain).
        hidden: optional (c, c) float32 in [0, 1] on the source crop: where the photo must not
            show (the eyeball behind a shut lid); reads the upsampled flow places there (> 0.5)
            are moved out to the nearer edge of it in their column.
        back_flow, front_alpha: optional layer behind the moved photo (`overlay.lay_behind`).
    Returns:
        A new (H, W, 3) uint8 photo. Outside the crop's box nothing changes; inside, the flow is
        taken to the photo's resolution (output pixel p samples the photo at p + L^-1 f(A p), A the
        crop affine, L its linear part) and faded out towards the crop border, so there is no seam.
    """
    original = check_rgb8(original, "original image")
    c = transform.crop_size
    if original.shape[:2] != transform.original_size:
        raise InputError(
            f"original image is {original.shape[:2]} (H, W) but the transform was made for {transform.original_size}"
        )
    flow = np.asarray(flow, dtype=np.float32)
    if flow.shape != (c, c, 2) or not np.all(np.isfinite(flow)):
        raise InputError(f"flow must be a finite ({c}, {c}, 2) array, got {flow.shape}")
    out = original.copy()
    faded = flow * _flow_fade(c)  # equal shapes: fast
    alpha = None
    if overlay is not None and overlay_alpha is not None:
        overlay = check_rgb8(overlay, "overlay")
        alpha = np.asarray(overlay_alpha, dtype=np.float32)
        if overlay.shape[0] % c or overlay.shape[:2] != (overlay.shape[0],) * 2 or alpha.shape != (c, c):
            raise InputError(
                f"overlay must be n{c}xn{c}, overlay_alpha {c}x{c}: got {overlay.shape[:2]}, {alpha.shape}"
            )
    magnitude = np.abs(faded)  # its max over the last axis, without numpy's slow 2-element reduction:
    touched = np.maximum(magnitude[..., 0], magnitude[..., 1]) > 0.01
    if alpha is not None:
        touched |= alpha > 0.0
    behind = behind_layer(back_flow, front_alpha, crop_mask(c, feather=0.1, margin=0.0), touched)
    region = _touched_region(touched, transform)
    if region is None:
        return out
    x0, y0, x1, y1 = region
    size = (x1 - x0, y1 - y0)
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], dtype=np.float64)  # region pixel -> crop pixel
    inverse_map = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    # p -> p + L^-1 f(A p): the shift is resampled (0 past the crop's outer pixel centres, where
    # the faded flow is 0), never the absolute map, whose edge would repeat the crop's last row.
    reads = node_grid(c, c) + faded  # crop pixel -> the source crop pixel it reads
    shift = cv2.transform(faded.reshape(1, -1, 2), transform.inverse() * [1.0, 1.0, 0.0]).reshape(c, c, 2)
    shift = cv2.warpAffine(shift, to_crop, size, flags=inverse_map, borderMode=cv2.BORDER_CONSTANT)
    inside = None if hidden is None else hidden_mask(hidden, c)
    lids = None if inside is None else lid_edges(faded, inside)  # a shut lid's edge, smooth per photo pixel
    part = None if lids is None else _sub_box(lids.nodes, (x0, y0), shift.shape, transform)
    if lids is not None and part is not None:
        along_lid_edges(shift[part[0], part[1]], lids, transform.inverse() * [1.0, 1.0, 0.0], part[2])
    reach = float(magnitude.max()) / transform.scale  # the largest shift, photo pixels
    map_x, map_y = absolute_reads_in_frame(shift, (x0, y0), original.shape[:2], reach)
    if inside is not None:
        part = _sub_box(reads_near(reads, inside), (x0, y0), map_x.shape, transform)
        if part is not None:
            exits = hidden_exits(inside)
            leave_hidden(map_x[part[0], part[1]], map_y[part[0], part[1]], exits, transform.matrix)
    roi = cv2.remap(original, shift, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    # An occlusion edge (a turned nose) drawn as one, not as the strip it hides squeezed into a line.
    folds = fold_cells(reads) if lids is None else fold_cells(reads) & ~lids.cells
    blend_across_folds(roi, original, faded, folds, to_crop, transform.inverse())
    part = None if behind is None else _sub_box(behind[1] < 0.999, (x0, y0), roi.shape, transform)
    if behind is not None and part is not None:
        rows, cols, to_crop = part
        roi[rows, cols] = lay_behind(roi[rows, cols], original, behind, transform.inverse(), to_crop)
    if alpha is not None and overlay is not None and alpha.max() > 0.0:
        reach = 1 + int(np.ceil(2.5 * paint_blur * transform.scale))  # crop pixels a softened edge spreads
        covered = cv2.dilate((alpha > 0.0).astype(np.uint8), None, iterations=reach) > 0
        part = _sub_box(covered, (x0, y0), roi.shape, transform)
        if part is not None:
            rows, cols, to_crop = part
            roi[rows, cols] = lay_overlay(
                roi[rows, cols], overlay, alpha, to_crop, 1.0 / transform.scale, paint_blur
            )
    out[y0:y1, x0:x1] = roi
    return out


def _sub_box(
    touched: np.ndarray, origin: tuple[int, int], shape: tuple[int, ...], transform: CropTransform
) -> tuple[slice, slice, np.ndarray] | None:
    """The part of a region (photo pixels from `origin`, of `shape`) around the crop pixels marked in
    `touched`: its (rows, cols) slices and the (2, 3) matrix from its pixels to crop pixels; None if empty."""
    box = _touched_region(touched, transform)
    if box is None:
        return None
    bx0, by0 = max(box[0] - origin[0], 0), max(box[1] - origin[1], 0)
    bx1, by1 = min(box[2] - origin[0], shape[1]), min(box[3] - origin[1], shape[0])
    if bx1 <= bx0 or by1 <= by0:
        return None
    to_crop = transform.matrix.copy()
    to_crop[:, 2] += to_crop[:, :2] @ np.array([origin[0] + bx0, origin[1] + by0], dtype=np.float64)
    return slice(by0, by1), slice(bx0, bx1), to_crop


def _match_colour(edited: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    band = (mask > 0.0) & (mask < 0.5)
    if not band.any():
        return edited
    shift = (edited[band].astype(np.float32) - source[band].astype(np.float32)).mean(axis=0)
    return np.clip(np.rint(edited.astype(np.float32) - shift), 0, 255).astype(np.uint8)
