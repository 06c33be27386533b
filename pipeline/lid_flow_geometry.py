"""Geometry of one shut eye for the lid warping network (`pipeline.lid_flow`): the eye box, the
lid mask, the lash band, the descriptor and the network's input.

The eye box and lid mask are LID_NET's (docs/LID_NET.md, the rule's box): a 64 x 40 similarity
from the target's eye corners, and a mask from a little above the photo's open upper lid (carried
into the target's frame) down to just below the target's lower lid. New here: the lash band (the
crop pixels whose geometric read lands in the hidden eyeball, i.e. the lid's edge where the engine
paints its lash line, widened, down to the box's bottom, and feathered): the network's read is
faded out there, so the lash line and all below it stay the engine's. Crop points are pixels (x right, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.eyes import shuts

__all__ = [
    "PATCH",
    "Lids",
    "EyeInputs",
    "shut_lids",
    "eye_box",
    "lid_mask",
    "lash_band",
    "closure",
    "condition",
    "net_inputs",
]

#: The eye box's (width, height) in pixels; the eye's width spans `_EYE_SPAN` of them.
PATCH = (64, 40)
_EYE_SPAN = 40.0
#: The box's centre above the corners' midpoint, in eye widths.
_BOX_RAISE = 0.12
#: The lid mask: its top above the photo's open upper lid, its bottom below the target's lower
#: lid, its reach beyond the corners (eye widths), its feather (eye widths, Gaussian sigma).
_MASK_TOP, _MASK_BOTTOM, _MASK_SIDE, _MASK_SOFT = 0.3, 0.06, 0.04, 0.04
#: The lash band's half width beyond the pixels reading the hidden eyeball, and its feather
#: (eye widths): wider than the engine's painted line (`face_paint.LASH_HALF`) and its ramp.
_LASH_GROW, _LASH_SOFT = 0.05, 0.025
#: Flow channels of the network's input are in box pixels over this.
FLOW_UNIT = 16.0

Lids = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class EyeInputs:
    """One shut eye, ready for the network: inputs (40, 64, 11) float32 (geometric patch, photo's
    open eye, both in [-1, 1]; lid mask in [0, 1]; the geometric flow in box pixels / FLOW_UNIT;
    the lash band in [0, 1]; where the geometric read lands in the hidden eyeball, in [0, 1]: there
    the stretched lid shows the eye, not skin, unless the offset moves the read out); matrix (2, 3) crop -> box; weight (h, w) float32, the crop's blend
    weight before the network's gate (lid mask times one minus the lash band) on `box` (x0, y0, x1,
    y1) of the crop; base (40, 64, 2) float32, the crop point each box pixel reads geometrically."""

    inputs: np.ndarray
    matrix: np.ndarray
    weight: np.ndarray
    box: tuple[int, int, int, int]
    base: np.ndarray


def shut_lids(
    source_points: np.ndarray,
    target_points: np.ndarray,
    eyes: tuple[tuple[np.ndarray, np.ndarray], ...],
    wide: tuple[bool, ...] | None = None,
) -> list[tuple[int, Lids, Lids]]:
    """(eye index, photo's lids, target's lids) of each eye the target shuts (`eyes.shuts`, the
    engine's own test); points: projected meshes (N, 2+), crop pixels; eyes: the layout's (upper,
    lower) vertex indices; wide: per eye, the photo's wide-open flag (`PreviewState.wide`)."""
    out = []
    for k, (u, lo) in enumerate(eyes):
        lids = (source_points[u, :2], source_points[lo, :2]), (target_points[u, :2], target_points[lo, :2])
        if shuts(*lids, bool(wide[k]) if wide else False):
            out.append((k, *lids))
    return out


def eye_box(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(2, 3) crop -> `PATCH` box of an eye whose lid curves (K, 2) run between its corners: a
    similarity putting the corners level, the eye's width over `_EYE_SPAN` px, centred
    `_BOX_RAISE` widths above the corners' midpoint."""
    left, right = np.asarray(upper[0], np.float64), np.asarray(upper[-1], np.float64)
    along = right - left
    width = max(float(np.hypot(*along)), 2.0)
    cos, sin = along / width
    scale = _EYE_SPAN / width
    centre = 0.5 * (left + right) + _BOX_RAISE * width * np.array([sin, -cos])  # up: (sin, -cos)
    rot = scale * np.array([[cos, sin], [-sin, cos]])
    shift = np.array([PATCH[0] / 2, PATCH[1] / 2]) - rot @ centre
    return np.concatenate([rot, shift[:, None]], axis=1)


def _to_target(
    source_curve: np.ndarray, source_corners: np.ndarray, target_corners: np.ndarray
) -> np.ndarray:
    """A photo's lid curve (K, 2) carried into the target's frame by the similarity between the
    eyes' corners."""
    s0, s1 = source_corners
    t0, t1 = target_corners
    zs, zt = complex(*(s1 - s0)), complex(*(t1 - t0))
    m = zt / zs if abs(zs) > 1e-6 else 1.0
    w = ((source_curve[:, 0] - s0[0]) + 1j * (source_curve[:, 1] - s0[1])) * m
    return np.stack([w.real + t0[0], w.imag + t0[1]], axis=1)


def _eye_width(lids: Lids) -> float:
    upper = lids[0]
    return max(float(np.hypot(*(upper[-1] - upper[0]))), 2.0)


def lid_mask(
    source_lids: Lids, target_lids: Lids, size: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The shut lid's (h, w) float32 mask in [0, 1] on its box (x0, y0, x1, y1) of the (H, W)
    crop, or None when the box leaves the crop: from `_MASK_TOP` widths above the photo's open
    upper lid (carried into the target's frame) down to `_MASK_BOTTOM` below the target's lower
    lid, feathered; zero outside."""
    (up_s, _), (up_t, lo_t) = source_lids, target_lids
    corners_t = np.stack([up_t[0], up_t[-1]]).astype(np.float64)
    width = _eye_width(target_lids)
    top = _to_target(
        np.asarray(up_s, np.float64), np.stack([up_s[0], up_s[-1]]).astype(np.float64), corners_t
    )
    bump = np.sqrt(np.sin(np.pi * np.linspace(0.0, 1.0, len(top))))[:, None]
    along = (corners_t[1] - corners_t[0]) / width
    up = np.array([along[1], -along[0]])
    top = top + _MASK_TOP * width * bump * up
    bottom = np.asarray(lo_t, np.float64) - _MASK_BOTTOM * width * bump * up
    side = _MASK_SIDE * width * along
    top[0] -= side
    top[-1] += side
    bottom[0] -= side
    bottom[-1] += side
    ring = np.concatenate([top, bottom[::-1]])
    soft = max(_MASK_SOFT * width, 0.5)
    pad = int(np.ceil(3 * soft)) + 1
    h, w = size
    x0, y0 = max(int(np.floor(ring[:, 0].min())) - pad, 0), max(int(np.floor(ring[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(ring[:, 0].max())) + pad + 1, w)
    y1 = min(int(np.ceil(ring[:, 1].max())) + pad + 1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    poly = np.round((ring - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1.0, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (0, 0), soft)
    mask[mask < 2e-3] = 0.0
    return mask, (x0, y0, x1, y1)


def lash_band(
    flow: np.ndarray, hidden: np.ndarray, box: tuple[int, int, int, int], width: float
) -> np.ndarray:
    """(h, w) float32 in [0, 1] on `box` of the crop: 1 where the geometric flow reads the hidden
    eyeball (the shut lid's edge, where the engine paints the lash line), grown by `_LASH_GROW`
    eye widths, and everything below it in its column (a real blink's lash line sits lower than
    the engine's: the network must not draw a second one), feathered. flow: (H, W, 2) backward flow; hidden: (H, W) float32 in [0, 1];
    width: the eye's width in crop pixels."""
    x0, y0, x1, y1 = box
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    window = flow[y0:y1, x0:x1]
    reads = cv2.remap(hidden, gx + window[..., 0], gy + window[..., 1], cv2.INTER_LINEAR)
    grow = max(int(round(_LASH_GROW * width)), 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    band = cv2.dilate((reads > 0.02).astype(np.float32), kernel)
    band = np.maximum.accumulate(band, axis=0)  # and all below it: the lid is the skin above the line
    return np.clip(cv2.GaussianBlur(band, (0, 0), max(_LASH_SOFT * width, 0.5)) * 1.5, 0.0, 1.0)


def closure(source_lids: Lids, target_lids: Lids) -> float:
    """0 (as open as the photo's eye) .. 1 (shut): one minus the target's mean lid gap over the
    photo's, each in its eye's widths."""

    def gap(upper: np.ndarray, lower: np.ndarray) -> float:
        return float(np.mean(lower[1:-1, 1] - upper[1:-1, 1])) / _eye_width((upper, lower))

    open_s = gap(*source_lids)
    return float(np.clip(1.0 - gap(*target_lids) / open_s, 0.0, 1.0)) if open_s > 1e-3 else 1.0


def condition(closed: float, exposure: float) -> np.ndarray:
    """(2,) float32 descriptor of the target: the eye's closure, the photo's exposure."""
    return np.array([closed, exposure], np.float32)


def _through(image: np.ndarray, matrix: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    return cv2.warpAffine(image, matrix, PATCH, flags=cv2.INTER_LINEAR, borderMode=border)


def net_inputs(
    out: np.ndarray,
    source: np.ndarray,
    flow: np.ndarray,
    hidden: np.ndarray,
    source_lids: Lids,
    target_lids: Lids,
) -> EyeInputs | None:
    """The network's input for one shut eye, or None when the eye leaves the crop. out: the
    geometric (H, W, 3) uint8 crop; source: the photo's crop; flow: the geometric backward flow
    (H, W, 2); hidden: (H, W) float32, the photo's hidden opening (`RenderedFrame.hidden`)."""
    made = lid_mask(source_lids, target_lids, out.shape[:2])
    if made is None:
        return None
    mask, box = made
    x0, y0, x1, y1 = box
    band = lash_band(flow, hidden, box, _eye_width(target_lids))
    matrix = eye_box(*target_lids)
    full = np.zeros((*out.shape[:2], 2), np.float32)
    full[y0:y1, x0:x1, 0] = mask
    full[y0:y1, x0:x1, 1] = band
    maps = cv2.warpAffine(full, matrix, PATCH, flags=cv2.INTER_LINEAR, borderValue=0.0)
    inverse = cv2.invertAffineTransform(matrix)
    gx, gy = np.meshgrid(np.arange(PATCH[0], dtype=np.float64), np.arange(PATCH[1], dtype=np.float64))
    at = np.stack([gx, gy], axis=2) @ inverse[:, :2].T + inverse[:, 2]  # box pixel -> crop point
    flow_box = _through(flow, matrix)
    base = (at + flow_box).astype(np.float32)
    eyeball = cv2.remap(hidden, base[..., 0], base[..., 1], cv2.INTER_LINEAR)  # the read lands in it
    in_box = flow_box @ matrix[:, :2].T.astype(np.float32) / FLOW_UNIT
    inputs = np.concatenate(
        [
            _through(out, matrix).astype(np.float32) / 127.5 - 1.0,
            _through(source, eye_box(*source_lids)).astype(np.float32) / 127.5 - 1.0,
            maps[:, :, :1],
            in_box,
            maps[:, :, 1:],
            eyeball[:, :, None],
        ],
        axis=2,
    )
    return EyeInputs(inputs.astype(np.float32), matrix, mask * (1.0 - band), box, base)
