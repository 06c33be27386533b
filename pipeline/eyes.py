"""The eyes for the geometric renderer: lids made of the photo's own skin, and the gaze.

Both are parts of the backward flow, so the photo's own pixels move at its resolution:

- closing: the skin between the crease and the photo's lid line (the upper lid itself, lashes at
  its edge) is drawn down to where the target's lid ends, so a closed eye shows the photo's lid
  texture and nothing of the eyeball (`refine_eye_flow`); from 35 % closure on, the lid edge is
  pulled further down to meet the lower lid at 70 %, so a strongly closing eye looks shut;
- gaze: inside what stays open, the iris disc moves by a shift and the white around it stretches
  or compresses smoothly towards the eye's corners (an eyeball turning under the lids), never
  reading above the photo's upper lid or below its lower lid.
- shutting an eye the photo shows nearly shut (a laughing squint, lid gap < `SQUINT_EYE` eye
  widths; `PreviewSettings.squint_shut`): it closes where it is, its lower lid rising to its upper
  one (`_close_squint`), so the short lid's crease and brow are not drawn down onto the lash line;
- opening an eye that is shut in the photo (lid gap < `CLOSED_EYE` eye widths): the photo never
  showed that eyeball, so the lid (lashes at its edge) is lifted into its crease, the lower lid's
  skin meets the eye from below (`refine_eye_flow`), and a plausible eye is painted inside the
  target's lid contour (`paint_opened_eye`: a white lit from the skin around it, a neutral dark
  brown iris, since the photo's iris colour is unknown, a pupil and a catchlight, placed by the gaze).

`analyse_eye` finds the iris once per photo (the darkest round part of the opening);
`gaze_from_landmarks` reads where a face looks from its detected landmarks, in the gaze sliders'
units (how a driving video's gaze is transferred). Points are crop pixels (x right, y down); lid
curves are (K, 2) ordered from the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import InputError
from core.geometry import smoothstep
from core.images import LUMA as _LUMA
from pipeline.face_paint import apply_affine, box_around, curve_y, similarity_2d
from pipeline.white_lids import squint_reads
from pipeline.wide_eyes import white_above, wide_closure

__all__ = [
    "Iris",
    "IRIS_POINTS",
    "analyse_eye",
    "gaze_from_landmarks",
    "paint_opened_eye",
    "iris_from_landmarks",
    "refine_eye_flow",
    "shift_gaze",
    "GAZE_REACH",
    "DETECTED_GAZE_GAIN",
    "CLOSED_EYE",
    "SQUINT_EYE",
    "STRAIGHT_AHEAD",
    "shut_opening",
    "shuts",
    "lash_heights",
]

#: From this closure on, the lid pulled down by `refine_eye_flow` covers the whole opening.
SHUT_CLOSURE = 0.57
#: How far the iris centre moves at gaze 1, in eye widths (x, y).
GAZE_REACH = (0.2, 0.14)
#: How far the face mesh's iris points move when an iris moves, across (x, y). The mesh reads
#: about half of a sideways glance (its iris points lag the iris and its eye corners follow it):
#: gaze_x +-0.4/0.8 rendered on 5 real photos re-detects at 0.34-0.68 (median 0.48) of the asked
#: value. Vertically the round trip reads 0.0-0.2, too little to tell lids from detector: left at 1.
DETECTED_GAZE_GAIN = (0.5, 1.0)


#: An eye's (upper, lower) lid curves, each (K, 2) crop pixels ordered from the image's left.
Lids = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Iris:
    """centre: (2,) crop pixels in the photo; radius: pixels."""

    centre: np.ndarray
    radius: float


#: MediaPipe's iris points: (centre, 4 on the rim) for the image-left eye, then the right one.
IRIS_POINTS = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))


#: MediaPipe's eye corners and lid midpoints per eye: (corner, corner, upper lid, lower lid).
_EYE_MESH = ((33, 133, 159, 145), (362, 263, 386, 374))
#: Below this lid gap / eye width an eye counts as closed (its iris points are guesses).
CLOSED_EYE = 0.12
#: `gaze_from_landmarks` of a face looking straight ahead (the iris centre sits above the line
#: between the eye's corners): the median over 7 frontal driving clips (LivePortrait d5-d20);
#: the photo's own gaze in absolute reenactment when its eyes are shut.
STRAIGHT_AHEAD = (0.0, 0.45)


def gaze_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(..., 2) gaze of (..., 478, 2|3) face-mesh landmarks in the gaze sliders' units (x right, y up).

    Per eye: the iris centre (468 / 473) relative to the midpoint of the eye's corners, along and
    across the corner-to-corner axis (so a tilted head reads the same), in eye widths, divided by
    `GAZE_REACH` and by the mesh's own under-reading (`DETECTED_GAZE_GAIN`, so that a transferred
    glance is as large as the driver's); averaged over the open eyes. The value is absolute (a face looking straight
    ahead reads near 0, not exactly 0): differences of it are what the sliders mean. NaN where
    the landmarks are missing (NaN) or both eyes are closed (lid gap < `CLOSED_EYE` eye widths).
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim < 2 or lm.shape[-2] < 478 or lm.shape[-1] not in (2, 3):
        raise InputError(f"expected face-mesh landmarks with irises (..., 478, 2|3), got {lm.shape}")
    lm = lm[..., :2]
    irises = lm[..., [IRIS_POINTS[0][0], IRIS_POINTS[1][0]], :]  # (..., 2 irises, 2)
    per_eye = []
    for a, b, upper, lower in _EYE_MESH:
        p, q = lm[..., a, :], lm[..., b, :]
        axis = np.where((q[..., :1] >= p[..., :1]), q - p, p - q)  # towards the image's right
        width = np.linalg.norm(axis, axis=-1, keepdims=True)
        along = axis / np.maximum(width, 1e-9)
        up = np.stack([along[..., 1], -along[..., 0]], axis=-1)  # image y grows down
        middle = 0.5 * (p + q)
        # MediaPipe's iris order is by the person's side: take the iris nearest this eye.
        near = np.argmin(np.linalg.norm(irises - middle[..., None, :], axis=-1), axis=-1)
        offset = np.take_along_axis(irises, near[..., None, None], axis=-2)[..., 0, :] - middle
        gaze = np.stack([(offset * along).sum(-1), (offset * up).sum(-1)], axis=-1) / width
        gaze = gaze / (np.asarray(GAZE_REACH) * np.asarray(DETECTED_GAZE_GAIN))
        gap = np.linalg.norm(lm[..., lower, :] - lm[..., upper, :], axis=-1) / width[..., 0]
        per_eye.append(np.where((gap >= CLOSED_EYE)[..., None], gaze, np.nan))
    stacked = np.stack(per_eye)
    count = np.isfinite(stacked[..., 0]).sum(0)[..., None]
    total = np.nansum(stacked, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def iris_from_landmarks(landmarks: np.ndarray, eye: int, upper: np.ndarray, lower: np.ndarray) -> Iris | None:
    """The iris of eye `eye` (0 = image-left) from (478, 2+) detected landmarks in crop pixels;
    None when the eye is (nearly) closed between its lid curves (K, 2)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    pts = np.asarray(landmarks, np.float64)[list(IRIS_POINTS[eye]), :2]
    centre = pts[0]
    # MediaPipe orders the eyes by the person's side: take the one inside this eye's corners.
    other = np.asarray(landmarks, np.float64)[list(IRIS_POINTS[1 - eye]), :2]
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    if not left <= centre[0] <= right and left <= other[0, 0] <= right:
        pts, centre = other, other[0]
    if float(np.max(curve_y(lower, upper[:, 0]) - upper[:, 1])) < 0.12 * width:
        return None
    radius = float(np.mean(np.hypot(*(pts[1:] - centre).T)))
    return Iris(centre, float(np.clip(radius, 0.12 * width, 0.3 * width)))


def analyse_eye(source: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> Iris | None:
    """The iris of one eye of the (H, W, 3) uint8 photo between lid curves (K, 2), estimated from
    the image (the darkest round part of the middle of the opening) when no landmarks are at
    hand; None when the eye is (nearly) closed in the photo."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    box = box_around(np.concatenate([upper, lower]), source.shape[:2], pad=0)
    if box is None or width < 4.0:
        return None
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(upper, xs), curve_y(lower, xs)
    opening = (ys > top + 0.5) & (ys < bottom - 0.5)
    middle = (ys > top + 0.3 * (bottom - top)) & (ys < bottom - 0.15 * (bottom - top))  # no lashes
    if opening.sum() < 6 or float(np.max(bottom - top)) < 0.12 * width:
        return None
    luma = source[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    bright = np.percentile(luma[opening], 80)
    weight = np.where(middle, np.clip(bright - luma, 0.0, None), 0.0) ** 2
    if weight.sum() <= 0.0:
        return None
    cx = float((weight * xs).sum() / weight.sum())
    cy = float((weight * ys).sum() / weight.sum())
    return Iris(np.array([cx, cy]), 0.21 * width)


def _box_in_photo(
    outline: list[np.ndarray], shape: tuple[int, ...], to_source: np.ndarray
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """The box (x0, y0, x1, y1) around `outline`'s points within `shape` (padded by 2 pixels), its
    pixels (Y, X, 2: x, y) and their places in the photo through `to_source`; None outside."""
    box = box_around(np.concatenate(outline), shape[:2], pad=2)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    px, py = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    pixel = np.stack([px, py], axis=-1)
    return box, pixel, apply_affine(to_source, pixel)  # (Y, X, 2) the same places in the photo


def refine_eye_flow(
    flow: np.ndarray,
    iris: Iris | None,
    source_lids: tuple[np.ndarray, np.ndarray],
    target_lids: tuple[np.ndarray, np.ndarray],
    gaze: np.ndarray | None = None,
    lashes: np.ndarray | None = None,
    squint: bool = False,
    wide: bool = False,
    frame: np.ndarray | None = None,
    follow: bool = False,
    share: float = 0.0,
) -> None:
    """Set the (H, W, 2) full-resolution backward flow of one eye (in place): closing lids and gaze.

    gaze: (2,) x right, y up, in [-1, 1] of the eye's reach, relative to the photo; None = none.
    lashes: (K,) the photo's lash run above each point of its upper lid (`lash_heights`), or None:
    a closing lid then reads its skin from above the lashes only, and the lashes hang down from
    its margin as a fringe `_FRINGE` times as long (root at the margin, tips at the lid's edge)
    instead of being stretched over the lid.
    squint: an eye the photo shows nearly shut (lid gap < `SQUINT_EYE` eye widths) closes where it
    is (`_close_squint`): its upper lid stays, its lower lid rises to meet it.
    wide: a wide-open eye's closure counts the lids' travel (`wide_eyes.wide_closure`).
    frame: (K,) how far above each point of the photo's upper lid a glasses frame's lower edge lies
    (`glasses.find_glasses`), or None: a closing lid reads no skin from the frame, and a shutting
    eye closes as a squint does (the frame lies on its upper lid; docs/GLASSES.md).
    follow: a closing lid's band meets the face's own flow at its top (`_follow_face`), not behind a frame.
    share: of a squint's slit, what its upper lid closes (`white_lids.squint_reads`; 0: none).
    """
    (up_s, lo_s), (up_t, lo_t) = source_lids, target_lids
    width_s = float(np.hypot(*(up_s[-1] - up_s[0])))
    if width_s < 4.0:
        return
    to_source, up_ts, lo_ts, closure = _closing(source_lids, target_lids, wide)
    narrow = squint and _opening(up_s, lo_s) < SQUINT_EYE
    if (narrow or frame is not None) and closure >= _SQUINT_CLOSURE and iris is not None:
        lids = (source_lids, target_lids)
        _close_squint(flow, to_source, *lids, closure, lashes, follow and frame is None, share)
        return
    shift = np.zeros(2)
    if gaze is not None and iris is not None:
        shift = np.array([gaze[0] * GAZE_REACH[0], -gaze[1] * GAZE_REACH[1]]) * width_s
    opening = _opened_shut_eye(iris, source_lids, target_lids)
    if closure < 0.03 and opening <= 0.0 and not np.any(np.abs(shift) > 0.05):
        return
    # The lid skin above the photo's lid line that is drawn down (or, opening a shut eye, up).
    # Opening, the lid folds into its crease: the skin above the lashes is squeezed into the
    # 0.18 eye widths above the target's lid (a longer band would reach, and double, the brow).
    fold = 0.18 * width_s
    widest = float(np.max(lo_ts[:, 1] - up_ts[:, 1]))
    band = (max(widest, 0.0) + _SHUT_LASHES * width_s + fold) if opening > 0.0 else 0.4 * width_s
    below = 0.3 * width_s if opening > 0.0 else 0.0  # the lower lid's skin lifted to meet the eye
    scale = float(np.hypot(*(up_t[-1] - up_t[0]))) / width_s
    outline = [up_t, lo_t + [0.0, below * scale], up_t - [0.0, 1.3 * band * scale]]
    grid = _box_in_photo(outline, flow.shape[:2], to_source)
    if grid is None:
        return
    (x0, y0, x1, y1), pixel, q = grid
    qx, qy = q[..., 0], q[..., 1]
    lid = curve_y(up_s, qx)  # the photo's lid line
    low = curve_y(lo_s, qx)
    if opening > 0.0:  # a shut eye's lashes hang over its lower lid: lift the lid from below them
        lid = np.maximum(lid, low + _SHUT_LASHES * width_s)
    top_t, low_t = curve_y(up_ts, qx), curve_y(lo_ts, qx)
    pull = float(smoothstep((closure - 0.35) / 0.35))
    edge = top_t + pull * np.maximum(low_t - top_t, 0.0)  # where the target's lid ends
    # A shut lid reaches a little past the fitted lower lid (which can lie above the real one).
    edge = edge + pull * 0.2 * np.maximum(low - lid, 0.0)
    left, right = sorted((float(up_s[0, 0]), float(up_s[-1, 0])))
    reach_out = pull * 0.12 * width_s  # a shut lid also covers the corners the mesh may miss
    across = np.clip(np.minimum(qx - left, right - qx) + reach_out + 0.5, 0.0, 1.0)
    if opening > 0.0:  # the lashes of a shut eye reach past its corners: lift them too, fading out
        across = smoothstep(1.0 + np.minimum(qx - left, right - qx) / (0.25 * width_s))
    # The lid: photo rows [lid - band, lid - 0.5] stretched over [lid - band, edge] (the fitted
    # lid line can lie a little below the lashes: stop short of it, never read the eyeball).
    if opening > 0.0:  # per column: the lid from the lashes up to the target's lid, plus the fold
        band = np.maximum(lid - top_t, 0.0) + fold
    elif frame is not None:  # behind glasses: up to a crop pixel below the frame
        band = np.clip(_lashes_at(frame, up_s, qx) - 0.5, 1.0, band)
    start = lid - band
    root = lid - 0.5  # the lowest row of the photo's lid that is read
    run = np.zeros_like(lid)  # the lash rows (above `root`) hung down as a fringe, not stretched
    if lashes is not None and opening <= 0.0:
        order = np.argsort(up_s[:, 0], kind="stable")
        run = pull * np.clip(np.interp(qx, up_s[order, 0], lashes[order]) - 0.5, 0.0, 0.5 * band)
    fringe = _FRINGE * run
    margin = edge - fringe  # where the lid's skin ends and its lashes begin
    skin_y = start + (qy - start) * (root - run - start) / np.maximum(margin - start, 1e-3)
    lash_y = root - run * np.clip((qy - margin) / np.maximum(fringe, 1e-3), 0.0, 1.0)
    lid_y = np.minimum(np.where(qy < margin, skin_y, lash_y), root)
    if opening > 0.0:
        lid_y = np.where(qy < start, qy, lid_y)  # above the squeezed band the skin stays put
    strength = max(float(np.clip(closure / 0.15, 0.0, 1.0)), opening)
    lid_w = strength * np.clip((qy - start) / (0.3 * band) + 1.0, 0.0, 1.0)
    # Soft on every side (hard cut-offs would draw the lid's edge in steps of a crop pixel); a shut
    # lid reaches a pixel past its edge, over the lower lid's rim.
    # Opening a shut eye, the lid's rows are squeezed up to end at the target's lid instead.
    reach = 1.0 if opening > 0.0 else np.clip(edge - lid - 0.5, 0.0, 1.0)
    lid_w = lid_w * np.clip(edge + 0.5 + pull - qy, 0.0, 1.0) * reach
    # What stays open: the eyeball, its iris shifted by the gaze.
    ball = (
        q.copy()
        if iris is None or not np.any(shift != 0.0)
        else _turned(q, iris, shift, lid, low, (left, right))
    )
    in_ball = np.clip(np.minimum(qy - edge, low_t - qy) + 0.5, 0.0, 1.0)
    lid_src = np.stack([qx, lid_y], axis=-1)
    region = flow[y0:y1, x0:x1].astype(np.float64)
    if follow and frame is None and opening <= 0.0:
        lid_src = lid_src + _follow_face(region, pixel, q, (start - 0.3 * band, start, edge), (left, right))
    w_lid = (lid_w * (1.0 - in_ball) * across)[..., None]
    region = w_lid * (lid_src - pixel) + (1.0 - w_lid) * region
    w_ball = (in_ball * across)[..., None]
    region = w_ball * (ball - pixel) + (1.0 - w_ball) * region
    if opening > 0.0:
        # Under the opened eye: photo rows [lashes, low_t + below] squeezed up onto [low_t, low_t + below].
        lower_y = lid + (qy - low_t) * (low_t + below - lid) / below
        fade = np.clip((low_t + below - qy) / (0.3 * below), 0.0, 1.0)  # into the face's own flow
        w_low = opening * np.clip(qy - low_t + 0.5, 0.0, 1.0) * fade * across
        region = (
            w_low[..., None] * (np.stack([qx, lower_y], axis=-1) - pixel) + (1.0 - w_low[..., None]) * region
        )
    flow[y0:y1, x0:x1] = region.astype(np.float32)


def _close_squint(
    flow: np.ndarray,
    to_source: np.ndarray,
    source_lids: Lids,
    target_lids: Lids,
    closure: float,
    lashes: np.ndarray | None,
    follow: bool = False,
    share: float = 0.0,
) -> None:
    """Close an eye the photo shows nearly shut (a laughing squint) where it is (in place in the
    (H, W, 2) backward flow): the upper lid, its crease and the brow stay as the photo has them
    (drawn down, the short lid of a squint would bring crease and brow down onto the lash line as
    a second dark line), and the skin under the lower lid, `_SQUINT_BELOW` eye widths of it, is drawn
    up to close `closure` of the gap, meeting the upper lid's line when shut. lashes: as in
    `refine_eye_flow` (the lash run above the lid, hidden when shut, is not read); follow, share: as there."""
    (up_s, lo_s), (up_t, lo_t) = source_lids, target_lids
    width_s = float(np.hypot(*(up_s[-1] - up_s[0])))
    scale = float(np.hypot(*(up_t[-1] - up_t[0]))) / width_s
    above, below = 0.4 * width_s, _SQUINT_BELOW * width_s
    outline = [up_t - [0.0, 1.3 * above * scale], lo_t + [0.0, (below + 0.3 * width_s) * scale]]
    grid = _box_in_photo(outline, flow.shape[:2], to_source)
    if grid is None:
        return
    (x0, y0, x1, y1), pixel, q = grid
    qx, qy = q[..., 0], q[..., 1]
    lid, low = curve_y(up_s, qx), curve_y(lo_s, qx)
    bottom = low + below
    root = lid - 0.5 - (0.0 if lashes is None else _lashes_at(lashes, up_s, qx))
    if closure < SHUT_CLOSURE:  # the rest of the opening still shows the eyeball
        root = np.full_like(lid, np.inf)
    start = lid - above  # the upper lid's skin fades into the face's own flow above this
    read_y, margin = squint_reads((qy, lid, low, bottom), root, start, closure, share)
    pull = float(smoothstep((closure - 0.35) / 0.35))
    left, right = sorted((float(up_s[0, 0]), float(up_s[-1, 0])))
    across = np.clip(np.minimum(qx - left, right - qx) + pull * 0.12 * width_s + 0.5, 0.0, 1.0)
    weight = float(np.clip(closure / 0.15, 0.0, 1.0)) * across
    weight = (
        weight * np.clip((qy - start) / (0.3 * above) + 1.0, 0.0, 1.0) * np.clip(bottom - qy + 0.5, 0.0, 1.0)
    )
    region = flow[y0:y1, x0:x1].astype(np.float64)
    read = np.stack([qx, read_y], axis=-1)
    if follow:
        read = read + _follow_face(region, pixel, q, (start - 0.3 * above, start, margin), (left, right))
    w = weight[..., None]
    region = w * (read - pixel) + (1.0 - w) * region
    flow[y0:y1, x0:x1] = region.astype(np.float32)


def _follow_face(
    region: np.ndarray, pixel: np.ndarray, q: np.ndarray, rows: tuple, corners: tuple
) -> np.ndarray:
    """(Y, X, 2) added to a lid's reads q (eye frame) at target pixels `pixel`: per column, the face's
    read (`pixel` + flow `region`) less q where the lid's weight ends (`rows`: there, the band's top, the
    lid's edge), full to the band's top, none from the edge, linear between; near the `corners` (0.2 eye
    widths) full nearly to the edge. A wink lowers its brow, not the band: they tore (docs/LID_FAULTS.md)."""
    (crest, top, bottom), (left, right) = rows, corners
    at = np.argmin(np.abs(q[..., 1] - crest), axis=0)  # per column, the row where the weight ends
    delta = (pixel + region - q)[at, np.arange(q.shape[1])][None]
    inner = smoothstep(np.minimum(q[..., 0] - left, right - q[..., 0]) / (0.2 * (right - left)))
    t = np.clip((q[..., 1] - top) / np.maximum(bottom - top, 1e-3), 0.0, 1.0)
    return (1.0 - t * (inner + (1.0 - inner) * t**4))[..., None] * delta


def _lashes_at(lashes: np.ndarray, upper: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The lash run `lashes` (K,) above the upper lid curve (K, 2), interpolated at columns xs,
    less the half pixel the lid line already keeps clear."""
    order = np.argsort(upper[:, 0], kind="stable")
    return np.clip(np.interp(xs, upper[order, 0], lashes[order]) - 0.5, 0.0, None)


def _closing(
    source_lids: Lids, target_lids: Lids, wide: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(target -> photo similarity, the target's lids in the photo's frame, closure in [0, 1]);
    wide: of a wide-open eye (`wide_eyes.wide_closure`)."""
    (up_s, lo_s), (up_t, lo_t) = source_lids, target_lids
    to_source = similarity_2d(np.stack([up_t[0], up_t[-1]]), np.stack([up_s[0], up_s[-1]]))
    up_ts, lo_ts = apply_affine(to_source, up_t), apply_affine(to_source, lo_t)  # target lids, photo frame
    open_s = float(np.mean(lo_s[:, 1] - up_s[:, 1]))
    open_t = float(np.mean(lo_ts[:, 1] - up_ts[:, 1]))
    closure = float(np.clip(1.0 - open_t / open_s, 0.0, 1.0)) if open_s > 0.5 else 0.0
    if wide:
        closure = wide_closure(closure, open_s, open_t, float(np.hypot(*(up_s[-1] - up_s[0]))))
    return to_source, up_ts, lo_ts, closure


def shuts(source_lids: Lids, target_lids: Lids, wide: bool = False) -> bool:
    """Whether the target shuts the eye (closure >= `SHUT_CLOSURE`): then `shut_opening` is the
    photo's opening, a function of the photo's lids alone."""
    return _closing(source_lids, target_lids, wide)[3] >= SHUT_CLOSURE


def shut_opening(
    source_lids: Lids,
    target_lids: Lids,
    size: tuple[int, int],
    lashes: np.ndarray | None = None,
    wide: bool = False,
) -> np.ndarray | None:
    """(H, W) float32, 1 on the photo's eye opening between its lids (crop pixels) when the target
    shuts the eye (its lid, pulled down by `refine_eye_flow`, reaches past the lower lid: closure
    >= `SHUT_CLOSURE`), else None: what the photo must not show there at its own resolution.
    lashes: (K,) the lash run above the upper lid (`lash_heights`): hidden too (the shut lid's
    fringe is painted, `face_paint.paint_lash_line`), so no read at the lid's edge lands on them.
    wide: as in `refine_eye_flow`."""
    if not shuts(source_lids, target_lids, wide):
        return None
    up_s, lo_s = source_lids
    if lashes is not None:
        up_s = up_s - np.stack([np.zeros(len(up_s)), np.maximum(lashes - 0.5, 0.0)], axis=1)
    box = box_around(np.concatenate([up_s, lo_s]), size, pad=3)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    left, right = sorted((float(up_s[0, 0]), float(up_s[-1, 0])))
    # Each pixel's share of its column between the lids (so the lids' rows are exact to a fraction).
    share = np.clip(np.minimum(ys - curve_y(up_s, xs), curve_y(lo_s, xs) - ys) + 0.5, 0.0, 1.0)
    mask = np.zeros(size, np.float32)
    mask[y0:y1, x0:x1] = share * ((xs > left) & (xs < right))[None, :]
    return mask


def shift_gaze(target: np.ndarray | None, source: np.ndarray | None) -> np.ndarray | None:
    """(2,) gaze of the target relative to the photo's own, or None when neither has one."""
    if target is None and source is None:
        return None
    a = np.zeros(2) if target is None else np.asarray(target, np.float64)
    b = np.zeros(2) if source is None else np.asarray(source, np.float64)
    return a - b


def _turned(
    q: np.ndarray,
    iris: Iris,
    shift: np.ndarray,
    lid: np.ndarray,
    low: np.ndarray,
    corners: tuple[float, float],
) -> np.ndarray:
    """(..., 2) photo positions an eyeball turned by `shift` (photo pixels) shows at photo-frame
    positions q: across the eye, the iris moves as a whole and the white on either side is
    squeezed or stretched (a piecewise-linear map per row, so nothing smears); up and down, the
    column between the lids is re-spaced about the iris centre, near the iris only."""
    qx, qy = q[..., 0], q[..., 1]
    (cx, cy), r = iris.centre, iris.radius
    left, right = corners
    margin = 0.04 * (right - left)
    a, b = cx - r, cx + r
    dx = float(np.clip(shift[0], min(0.0, left + margin - a), max(0.0, right - margin - b)))
    sx = np.interp(qx, [left, a + dx, b + dx, right], [left, a, b, right]) if a > left and b < right else qx
    opening = np.maximum(low - lid, 1.0)
    sx = qx + (sx - qx) * smoothstep((qy - lid) / (0.3 * opening))  # lashes (the fit can miss them) stay
    centre = np.clip(cy, lid + 1.0, low - 1.0)
    moved = np.clip(centre + shift[1], lid + 0.5, low - 0.5)
    above = lid + (qy - lid) * (centre - lid) / np.maximum(moved - lid, 1e-3)
    below = centre + (qy - moved) * (low - centre) / np.maximum(low - moved, 1e-3)
    sy = np.where(qy < moved, above, below)
    near = 1.0 - smoothstep((np.abs(sx - cx) - r) / r)
    return np.stack([sx, qy + (sy - qy) * near], axis=-1)


#: A shut lid's lash fringe: this share of the photo's lash run's height (hanging, foreshortened).
_FRINGE = 0.0
#: The photo's lash run (`lash_heights`) is at most this many eye widths high (a deep-set eye's
#: dark crease above it is lid, not lashes).
_LASH_REACH = 0.2
#: A row belongs to the lash run while its luma is below this share of the way from the run's
#: darkest to the lid skin (sparse long hairs above the dense run count too).
_LASH_LEVEL = 0.65
#: Lashes are at most this share of the lid skin's luma (darker runs than that are lashes).
_LASH_DARK = 0.4


def lash_heights(source: np.ndarray, upper: np.ndarray, white: bool = False) -> np.ndarray:
    """(K,) crop pixels: how far the photo's dark lash run reaches above each point of its fitted
    upper lid curve (K, 2) in the (H, W, 3) uint8 crop `source`. Per column (luma blurred across
    a crop pixel, so single hairs merge into their run): the rows from the lid line up that are
    darker than halfway between the darkest of the run and the lid skin above (0.15-0.35 eye
    widths up), at most `_LASH_REACH` eye widths; 0 where lashes and skin differ by < 16 levels or
    the run is lighter than `_LASH_DARK` of the skin (a shadowed lid margin, not lashes);
    tapering to 0 over the outer quarter of the lid on either side. With `white`, the eye's white
    above the fitted lid first (`wide_eyes.white_above`), the lash run then measured from its top."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    k = len(upper)
    if width < 4.0:
        return np.zeros(k)
    white = white_above(source, upper, width) if white else np.zeros(k)
    upper = upper - np.stack([np.zeros(k), white], axis=1)
    luma = cv2.GaussianBlur(source.astype(np.float32) @ _LUMA, (5, 1), 1.0)
    steps = np.arange(-1.0, 0.35 * width + 0.5, 0.5)  # rows above the lid line, crop pixels
    map_x = np.repeat(upper[:, :1], len(steps), axis=1).astype(np.float32)
    map_y = (upper[:, 1:2] - steps[None, :]).astype(np.float32)
    profile = cv2.remap(luma, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (K, D)
    near = steps <= _LASH_REACH * width
    dark = profile[:, near].min(axis=1)
    skin = np.median(profile[:, steps >= 0.15 * width], axis=1)
    light = profile > (dark + _LASH_LEVEL * (skin - dark))[:, None]
    light[:, ~near] = True
    above = steps[None, :] >= 0.0
    first = np.argmax(light & above, axis=1)  # the first light row above the lid line
    height = np.where((skin - dark >= 16.0) & (dark <= _LASH_DARK * skin), steps[first], 0.0)
    padded = np.pad(height, 1, mode="edge")
    height = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)  # no single-column spikes
    # Tapering to nothing at the corners, as lashes do (and a shut lid meets the face's flow there).
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    return white + height * smoothstep(np.minimum(upper[:, 0] - left, right - upper[:, 0]) / (0.25 * width))


#: The painted eye (`paint_opened_eye`), RGB: a neutral dark-brown iris (the photo never showed
#: its colour) from its middle to its rim, the pupil, the white of the eye before lighting.
_IRIS_INNER = np.array([96.0, 66.0, 46.0])
_IRIS_RIM = np.array([44.0, 31.0, 24.0])
_PUPIL = np.array([14.0, 11.0, 11.0])
_SCLERA = np.array([214.0, 207.0, 200.0])
#: How much wider than `CLOSED_EYE` the target must open before the painted eye is fully shown.
_OPENING_FADE = 0.08
#: An eye whose fitted lids are less than this many eye widths apart at their widest is a squint
#: (`refine_eye_flow`'s squint): smiling and laughing slits measure 0.18-0.25, open eyes 0.26-0.37.
SQUINT_EYE = 0.255
#: A squint closes where it is from this closure on (below it, an eye that stays open with a wink
#: closes by 0.12, its lid drawn down as any other's).
_SQUINT_CLOSURE = 0.3
#: How much skin under a squint's lower lid is drawn up to close it, in eye widths.
_SQUINT_BELOW = 0.35
#: How far a shut eye's lashes hang below its fitted lower lid, in eye widths (what is lifted with
#: the upper lid when the eye opens).
_SHUT_LASHES = 0.08


def _opening(upper: np.ndarray, lower: np.ndarray) -> float:
    """Largest lid gap / eye width of lid curves (K, 2)."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    return float(np.max(curve_y(lower, upper[:, 0]) - upper[:, 1])) / max(width, 1e-6)


def _opened_shut_eye(iris: Iris | None, source_lids: Lids, target_lids: Lids) -> float:
    """0..1: how far the target opens an eye that is shut in the photo (no iris, lid gap below
    `CLOSED_EYE`); fades in over `_OPENING_FADE` eye widths of opening. 0 for an eye the photo shows."""
    if iris is not None or _opening(*source_lids) >= CLOSED_EYE:
        return 0.0
    return float(np.clip((_opening(*target_lids) - CLOSED_EYE) / _OPENING_FADE, 0.0, 1.0))


def paint_opened_eye(
    out: np.ndarray,
    coverage: np.ndarray,
    iris: Iris | None,
    lids: tuple[Lids, Lids],
    gaze: np.ndarray | None = None,
) -> None:
    """Paint an open eye into the (H, W, 3) uint8 crop `out` (in place, recorded in `coverage`)
    where the photo's eye is closed (no iris, lid gap < `CLOSED_EYE` eye widths; `lids`: the
    photo's and the target's (upper, lower) lid curves, crop pixels) and the target
    opens it: the photo never showed that eyeball, so a plausible one is drawn inside the target's
    lid contour. The white of the eye takes its light from the skin under the eye (a little of
    its tint, as scattered light), shaded towards the corners and under the upper lid; the iris
    is a neutral dark brown with a darker rim, a pupil and a catchlight, placed by the gaze
    (x right, y up, sliders' units); lashes darken the upper lid's edge. Fades in from
    `CLOSED_EYE` to `CLOSED_EYE` + `_OPENING_FADE` of opening."""
    up_t, lo_t = lids[1]
    width = float(np.hypot(*(up_t[-1] - up_t[0])))
    shown = _opened_shut_eye(iris, *lids)
    box = box_around(np.concatenate([up_t, lo_t, lo_t + [0.0, 0.35 * width]]), out.shape[:2], pad=2)
    if shown <= 0.0 or box is None or width < 4.0:
        return
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    top, bottom = curve_y(up_t, xs), curve_y(lo_t, xs)
    left, right = sorted((float(up_t[0, 0]), float(up_t[-1, 0])))
    inside = np.clip(np.minimum(ys - top, bottom - ys) / 1.5 + 0.5, 0.0, 1.0)  # soft over 1.5 crop pixels
    inside = inside * np.clip(np.minimum(xs - left, right - xs) / 1.5 + 0.5, 0.0, 1.0)
    if inside.max() <= 0.0:
        return
    region = out[y0:y1, x0:x1].astype(np.float64)
    skin_band = (ys > bottom + 0.12 * width) & (ys < bottom + 0.35 * width) & (xs > left) & (xs < right)
    skin = np.median(region[skin_band], axis=0) if skin_band.sum() >= 4 else np.full(3, 170.0)
    light = float(np.clip(float(skin @ _LUMA) / 200.0, 0.35, 1.0))
    colour = _eyeball(xs, ys, top, bottom, (left, right), width, gaze)
    colour[..., :3] *= light
    colour[..., :3] = 0.88 * colour[..., :3] + 0.12 * skin * (
        colour[..., 3:] > 0.5
    )  # the skin's tint, on the white
    alpha = inside * shown
    region += (colour[..., :3] - region) * alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
    np.maximum(coverage[y0:y1, x0:x1], alpha.astype(np.float32), out=coverage[y0:y1, x0:x1])


def _eyeball(
    xs: np.ndarray,
    ys: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    corners: tuple[float, float],
    width: float,
    gaze: np.ndarray | None,
) -> np.ndarray:
    """(Y, X, 4) unlit eyeball colour (RGB, 0-255) and a 4th channel: 1 on the white, 0 on the iris."""
    left, right = corners
    g = np.zeros(2) if gaze is None else np.clip(np.asarray(gaze, np.float64), -1.0, 1.0)
    radius = 0.21 * width
    cx = 0.5 * (left + right) + g[0] * GAZE_REACH[0] * width
    cx = float(np.clip(cx, left + 0.7 * radius, right - 0.7 * radius))
    col = int(np.clip(np.round(cx - xs[0, 0]), 0, xs.shape[1] - 1))
    mid = 0.5 * float(top[0, col] + bottom[0, col])
    cy = mid - 0.03 * width - g[1] * GAZE_REACH[1] * width  # an iris sits a little high, under the upper lid
    height = np.maximum(bottom - top, 1.0)
    across = (xs - left) / max(right - left, 1.0)  # 0..1 corner to corner
    # The white: a ball in shadow towards the corners and under the upper lid (lashes and brow).
    ball = 0.62 + 0.38 * np.clip(1.0 - (2.0 * across - 1.0) ** 2, 0.0, 1.0)
    lid_shadow = 0.55 + 0.45 * smoothstep((ys - top) / (0.45 * height))
    lid_shadow = lid_shadow * (0.8 + 0.2 * smoothstep((bottom - ys) / (0.3 * height)))  # the lower lid's rim
    white = _SCLERA * (ball * lid_shadow)[..., None]
    # The iris: a darker rim, faint radial fibres, the pupil and a catchlight up-left of it.
    d = np.hypot(xs - cx, ys - cy) / radius
    angle = np.arctan2(ys - cy, xs - cx)
    iris = _IRIS_INNER + (_IRIS_RIM - _IRIS_INNER) * np.clip(d, 0.0, 1.0)[..., None] ** 1.5
    iris = iris * (1.0 + 0.08 * np.sin(angle * 17.0) * np.clip(d - 0.45, 0.0, 1.0))[..., None]
    iris = iris * (0.6 + 0.4 * lid_shadow)[..., None]
    pixel = 1.0 / radius  # one crop pixel in iris radii: anti-aliased edges
    pupil = np.clip((0.42 - d) / pixel + 0.5, 0.0, 1.0)
    iris = iris + (_PUPIL - iris) * pupil[..., None]
    in_iris = np.clip((1.0 - d) / pixel + 0.5, 0.0, 1.0)
    colour = white + (iris - white) * in_iris[..., None]
    glint = np.hypot(xs - (cx - 0.3 * radius), ys - (cy - 0.32 * radius)) / radius
    spot = np.clip((max(0.13, 0.7 * pixel) - glint) / pixel + 0.5, 0.0, 1.0) * 0.85
    colour = colour + (np.array([250.0, 250.0, 250.0]) - colour) * spot[..., None]
    # Lashes: the upper lid's edge darkened over ~6 % of the eye's width.
    lash = np.clip(1.0 - (ys - top) / (0.06 * width + 0.8), 0.0, 1.0)
    colour = colour * (1.0 - 0.5 * lash)[..., None]
    return np.concatenate([colour, (1.0 - in_iris)[..., None]], axis=-1)
