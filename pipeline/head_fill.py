"""Two layers for the whole-head proxy: the moved person in front, the background behind it.

A turned or tilted head uncovers background the photo never showed, and its silhouette must stay
smooth at the photo's own resolution (a 12 MP photo has ~5 photo pixels per crop pixel: a cover
cut at crop resolution comes out as stair steps). So the proxy's motion is not one flow with a
hard edge but two flows and a soft coverage, each smooth enough to be upsampled:

- front: the head's flow, carried a little beyond the moved sheet (no step at the silhouette);
- back: the background beside the person slid with the moved silhouette into what it uncovers,
  as a flow too (`slide_background`: stretched by at most 1.5x along the motion, so nothing
  beside the head is shown twice, as a mirror fill did with letters and microphones), reads
  that still land on the person carried on to the background beyond its edge (`edge_flow`,
  `land_outside`); it has the photo's own texture and grain at any resolution;
- alpha: where the front shows, the person mask carried along the front flow (a soft,
  sub-pixel edge), cut where the moved sheet ends.

The picture is alpha * source(p + front) + (1 - alpha) * source(p + back), on the crop here
(`composite`) and on the full-resolution photo in `reconstruction.crop.warp_photo`.

Shapes: masks (H, W) float32 in [0, 1]; flows (H, W, 2) float32 crop pixels, backward (output
pixel p shows the source at p + flow[p]); images (H, W, 3) uint8 RGB.
"""

from __future__ import annotations

import cv2
import numpy as np

from reconstruction.crop import CropTransform, crop_mask

__all__ = [
    "valid_region",
    "crop_fade",
    "border_distance",
    "border_ramp",
    "inward",
    "hold_outward",
    "person_region",
    "push_pull_fill",
    "edge_flow",
    "slide_background",
    "land_outside",
    "extend_flow",
    "front_alpha",
    "composite",
    "GONE_THRESHOLD",
    "STRETCH_BOUND",
]

#: A person probability above this counts as person when the background is filled in.
GONE_THRESHOLD = 0.08
_SMOOTH = 1.5  # crop pixels: Gaussian sigma smoothing the edge flow (seams where edge points meet)
#: The background beside a moved head slides over at least this many times the head's motion.
STRETCH_BOUND = 4.5
_FAINT = 0.03  # person probability below which the moved person does not show
_SURE = 0.3  # ... and above _FAINT + _SURE it shows fully
_SOLID = _FAINT  # person probability above which the background layer never shows the person
_ROUND = 3.0  # crop pixels: Gaussian sigma rounding the person's edge the background is read beyond
_REACH = 6.0  # crop pixels beyond the moved sheet over which the front flow fades out


def valid_region(transform: CropTransform) -> np.ndarray:
    """(c, c) float32 in [0, 1]: where the crop shows the photo itself (1).

    Where the crop's box leaves the photo the crop is padding: at the photo's resolution a read
    there repeats the photo's edge row (streaks). 0 within a crop pixel of the photo's edge, 1 three
    crop pixels inside it."""
    c = transform.crop_size
    gx, gy = np.meshgrid(np.arange(c, dtype=np.float32), np.arange(c, dtype=np.float32))
    pts = cv2.transform(np.stack([gx, gy], axis=-1).reshape(1, -1, 2), transform.inverse()).reshape(c, c, 2)
    h, w = transform.original_size
    x, y = pts[..., 0], pts[..., 1]
    inside = np.minimum(np.minimum(x + 0.5, w - 0.5 - x), np.minimum(y + 0.5, h - 0.5 - y)) * transform.scale
    valid = np.clip((inside - 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
    valid.setflags(write=False)
    return valid


def crop_fade(size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the weights `reconstruction.crop.warp_photo` fades every flow with towards
    the crop's border (a square crop; ones for any other)."""
    h, w = size
    return crop_mask(h, feather=0.1, margin=0.0) if h == w else np.ones((h, w), np.float32)


def border_distance(valid: np.ndarray) -> np.ndarray:
    """(H, W) float32: crop pixels from each pixel to where `valid` (`valid_region`) drops below 0.5."""
    inside = (np.asarray(valid) >= 0.5).astype(np.uint8)
    far = float(sum(inside.shape))  # no border at all: as far as the crop is wide
    return (
        np.minimum(cv2.distanceTransform(inside, cv2.DIST_L2, 3), far)
        if not inside.all()
        else np.full(inside.shape, far, np.float32)
    )


def inward(distance: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 unit vectors away from the border (the gradient of a smoothed
    `border_distance`, signed: defined beyond the border too), 0 where there is no border."""
    d = np.asarray(distance, np.float32)
    signed = d - cv2.distanceTransform((d <= 0.0).astype(np.uint8), cv2.DIST_L2, 3)  # < 0 beyond
    gy, gx = np.gradient(cv2.GaussianBlur(signed, (0, 0), 2.0))
    norm = np.hypot(gx, gy)
    out = np.zeros((*d.shape, 2), np.float32)
    ok = norm > 1e-3
    out[ok, 0], out[ok, 1] = gx[ok] / norm[ok], gy[ok] / norm[ok]
    return out


def hold_outward(flow: np.ndarray, normal: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(..., 2) backward `flow` with its component towards the border (a read towards where the
    photo ends: flow . normal < 0) scaled by `keep` (...) in [0, 1]; along the border and away
    from it the flow is kept."""
    along = flow[..., 0] * normal[..., 0] + flow[..., 1] * normal[..., 1]
    cut = np.minimum(along, 0.0) * (1.0 - keep)
    return (flow - cut[..., None] * normal).astype(np.float32)


def border_ramp(motion: np.ndarray, distance: np.ndarray, bound: float = STRETCH_BOUND) -> np.ndarray:
    """Weights in [0, 1] (the shape of `motion`) taking a motion to 0 where the photo ends.

    motion: magnitudes (crop pixels) of moving points' motion away from the photo's edge;
    distance: their `border_distance`. A smoothstep over `bound` times the largest motion near the
    edge: a person that reaches the photo's edge is stretched there by at most 1 / (1 - 1.5 /
    bound), as the default stretches hair, and uncovers no gap that only the crop's padding (the
    photo's edge row repeated: streaks) could fill."""
    motion, distance = np.asarray(motion, np.float32), np.asarray(distance, np.float32)
    reach = 2.0
    for _ in range(3):  # the motion within the ramp sets the ramp's length
        near = motion[distance < reach * 2.0]
        if near.size == 0:
            break
        reach = max(reach, bound * float(near.max()))
    t = np.clip(distance / reach, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def person_region(person: np.ndarray, threshold: float = GONE_THRESHOLD) -> np.ndarray:
    """(H, W) float32 {0, 1}: the person (probability above `threshold`) and a halo around it."""
    hard = (person > threshold).astype(np.uint8)
    # Closed: a segmenter's patchy low scores on loose hair (a ponytail) become one region.
    hard = cv2.morphologyEx(hard, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return cv2.dilate(hard, np.ones((5, 5), np.uint8)).astype(np.float32)


def edge_flow(person: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 2) float32 backward flow from each pixel of the (dilated, rounded) person region to the
    background just beyond its nearest edge, 0 outside (once per photo); valid: optional (H, W)
    where the crop shows the photo (`valid_region`): beyond it is no background to read."""
    person = np.asarray(person, np.float32)
    h, w = person.shape
    # The person's solid part only: loose strands the segmenter scores low are not shown by the
    # moved person (`front_alpha`) and may show behind it, slid like the background around them.
    # A rounded edge: the directions to a ragged one cross from pixel to pixel.
    inside = cv2.GaussianBlur(person_region(person, _SOLID), (0, 0), _ROUND) > 0.5
    beyond = inside if valid is None else inside | (cv2.GaussianBlur(valid, (0, 0), 1.0) < 0.9)
    flow = np.zeros((h, w, 2), np.float32)
    if not inside.any() or beyond.all():
        return flow
    _, labels = cv2.distanceTransformWithLabels(
        beyond.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    outside = ~beyond.ravel()
    nearest = np.zeros(int(labels.max()) + 1, np.int64)
    nearest[labels.ravel()[outside]] = np.nonzero(outside)[0]
    qy, qx = np.divmod(nearest[labels[inside]], w)  # nearest background pixel of each person pixel
    py, px = np.nonzero(inside)
    dx, dy = (qx - px).astype(np.float32), (qy - py).astype(np.float32)
    norm = np.maximum(np.hypot(dx, dy), 1e-3)
    flow[py, px, 0] = np.clip(qx + 1.5 * dx / norm, 0, w - 1) - px
    flow[py, px, 1] = np.clip(qy + 1.5 * dy / norm, 0, h - 1) - py
    return flow


def slide_background(
    flow: np.ndarray,
    cover: np.ndarray,
    edge: np.ndarray,
    reach: float,
    *,
    scale: float = 1.0,
    bound: float = STRETCH_BOUND,
    border: np.ndarray | None = None,
) -> np.ndarray:
    """(rh, rw, 2) float32 backward flow of the background behind a moved sheet (raster grid; flows
    in crop pixels, `scale` raster pixels per crop pixel).

    The background beside the head slides with its silhouette: each rim pixel's read is carried on to the background just
    beyond the photo's person (`edge`, (H, W, 2) crop-sized, from `edge_flow`: where the turned
    sheet's rim shows a point that was inside the person, e.g. at the limb that turns away), that
    flow is carried inwards (behind the moved person, where its soft edge lets the background
    through) and outwards (push-pull: smooth, continuous at the rim) and faded to 0 with a
    smoothstep over `reach` raster pixels, or `bound` times the rim's motion if longer: the
    background is stretched into what the head uncovers by at most 1 / (1 - 1.5 / bound), never
    folded, never shown twice, never mirrored, and stays still beyond. border: optional (rh, rw)
    raster pixels to where the photo ends or the crop's fade begins (`border_distance`): the
    slide's reads towards it are faded to 0 there over all the room between it and the moved
    sheet (`hold_outward`: stretched, never read beyond the photo, never squeezed into the crop's
    fade; along the border it slides on).
    """
    inside = cover > 0.5
    rim = inside & ~(cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if not rim.any():
        return np.zeros_like(flow)
    rh, rw = cover.shape
    h, w = edge.shape[:2]
    ry, rx = np.nonzero(rim)
    px, py = (rx + 0.5) * (w / rw) - 0.5, (ry + 0.5) * (h / rh) - 0.5  # crop pixels
    lands = flow[ry, rx]
    lx, ly = (px + lands[:, 0]).astype(np.float32), (py + lands[:, 1]).astype(np.float32)
    step = cv2.remap(edge, lx[None], ly[None], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
    rim_flow = np.zeros_like(flow)
    rim_flow[ry, rx] = lands + step
    # Smoothed along the rim: where the sheet folds away its rim's reads jump from row to row
    # (stair-step streaks in what they stretch).
    carried = cv2.GaussianBlur(push_pull_fill(rim_flow, rim.astype(np.float32)), (0, 0), 2.0)
    motion = float(np.percentile(np.hypot(rim_flow[ry, rx, 0], rim_flow[ry, rx, 1]), 95))
    dist = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
    t = np.clip(dist / max(reach, bound * motion * scale, 1.0), 0.0, 1.0)
    keep = 1.0 - t * t * (3.0 - 2.0 * t)
    slid = carried * keep[:, :, None]
    if border is not None:
        room = np.clip(border / np.maximum(border + dist, 1e-3), 0.0, 1.0)
        slid = hold_outward(slid, inward(border), room * room * (3.0 - 2.0 * room))
    return slid.astype(np.float32)


def land_outside(back: np.ndarray, edge: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(H, W, 2) float32: the back flow with every read that still lands on the person carried on
    to the background beyond its edge (`edge` from `edge_flow`, sampled where the read lands)."""
    gx, gy = grid
    step = cv2.remap(
        edge, gx + back[..., 0], gy + back[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return back + step


def push_pull_fill(values: np.ndarray, weights: np.ndarray, *, keep: float = 0.5) -> np.ndarray:
    """Fill the low-weight parts of (H, W, C) float32 `values` from the well-weighted ones.

    Push-pull pyramid: weighted averages go down a pyramid, then come back up, each level keeping
    its own values where its weight is high (>= `keep`, blended below) and the coarser level's
    elsewhere. Smooth, continuous with the data, O(H W).
    """
    w = np.clip(np.asarray(weights, np.float32), 0.0, 1.0)
    v = np.asarray(values, np.float32)
    squeeze = v.ndim == 2
    if squeeze:
        v = v[:, :, None]
    sums, ws = [v * w[:, :, None]], [w]
    while max(ws[-1].shape) > 1:
        hh, ww = ws[-1].shape
        size = (max(1, (ww + 1) // 2), max(1, (hh + 1) // 2))
        sums.append(cv2.resize(sums[-1], size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1))
        ws.append(cv2.resize(ws[-1], size, interpolation=cv2.INTER_AREA))
    est = sums[-1] / np.maximum(ws[-1], 1e-6)[:, :, None]
    est[ws[-1] < 1e-6] = 0.0
    for level in range(len(sums) - 2, -1, -1):
        hh, ww = ws[level].shape
        up = cv2.resize(est, (ww, hh), interpolation=cv2.INTER_LINEAR).reshape(hh, ww, -1)
        own = sums[level] / np.maximum(ws[level], 1e-6)[:, :, None]
        alpha = np.clip(ws[level] / keep, 0.0, 1.0)[:, :, None]
        est = alpha * own + (1.0 - alpha) * up
    return est[:, :, 0] if squeeze else est


def extend_flow(flow: np.ndarray, cover: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Raster-grid (rh, rw, 2) flow and {0, 1} cover taken to the crop's (H, W): the flow continued
    beyond the cover (nearest covered pixel's flow, faded to 0 over a few crop pixels) and upsampled,
    the cover upsampled and softened (a smooth edge, no stair steps)."""
    rh, rw = cover.shape
    h, w = size
    if cover.max() < 0.5:
        return np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32)
    _, labels = cv2.distanceTransformWithLabels(
        (cover < 0.5).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    inside = cover.ravel() > 0.5
    nearest = np.zeros(int(labels.max()) + 1, np.int64)
    nearest[labels.ravel()[inside]] = np.nonzero(inside)[0]
    flow = flow.reshape(-1, 2)[nearest[labels.ravel()]].reshape(rh, rw, 2)
    if (rh, rw) != (h, w):
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        cover = cv2.resize(cover, (w, h), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(cover.astype(np.float32), (0, 0), 1.0)
    soft = np.clip(2.0 * soft - 0.5, 0.0, 1.0)  # 0 where the flow starts to fade
    outside = cv2.distanceTransform((soft <= 0.0).astype(np.uint8), cv2.DIST_L2, 3)
    fade = np.clip(1.0 - outside / _REACH, 0.0, 1.0)
    return (flow * fade[:, :, None]).astype(np.float32), soft.astype(np.float32)


def front_alpha(
    person: np.ndarray, flow: np.ndarray, cover: np.ndarray, grid: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: where the moved person shows (the person mask read along the
    front flow, times the moved sheet's soft cover); grid: the identity sampling map, if at hand."""
    h, w = person.shape
    gx, gy = (
        grid
        if grid is not None
        else np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    )
    carried = cv2.remap(
        person, gx + flow[:, :, 0], gy + flow[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # The segmenter's soft edge (loose hair, a coarse top of the hair) moves with the person; beyond
    # it the person is sure: the head's inside never shows the back.
    carried = np.clip((carried - _FAINT) / _SURE, 0.0, 1.0)
    return np.clip(carried * cover, 0.0, 1.0).astype(np.float32)


def composite(
    source: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    front: np.ndarray,
    back: np.ndarray,
    alpha: np.ndarray,
) -> np.ndarray:
    """(H, W, 3) uint8: alpha * source(p + front) + (1 - alpha) * source(p + back), bilinear.

    grid: the (H, W) float32 pixel coordinates x, y (the identity sampling map). The back is read
    only in the box of rows and columns where alpha < 1 (a neck layer covers a band of the crop)."""
    gx, gy = grid
    out = cv2.remap(
        source, gx + front[:, :, 0], gy + front[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    x, y, width, height = cv2.boundingRect((alpha < 1.0).view(np.uint8))  # where the back shows
    if width == 0:
        return out
    box = slice(y, y + height), slice(x, x + width)
    second = cv2.remap(
        source,
        gx[box] + back[box][:, :, 0],
        gy[box] + back[box][:, :, 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    a = alpha[box].astype(np.float32)
    out[box] = cv2.blendLinear(out[box], second, a, 1.0 - a)
    return out
