"""Two layers for the whole-head proxy: the moved person in front, the background behind it.

A turned or tilted head uncovers background the photo never showed, and its silhouette must stay
smooth at the photo's own resolution (a 12 MP photo has ~5 photo pixels per crop pixel: a cover
cut at crop resolution comes out as stair steps). So the proxy's motion is not one flow with a
hard edge but two flows and a soft coverage, each smooth enough to be upsampled:

- front: the head's flow, carried a little beyond the moved sheet (no step at the silhouette);
- back: the photo with the person replaced by the background around it, as a flow too
  (`fill_flow`: every pixel the person covered reads the background mirrored across the
  person's edge), so the fill has the photo's own texture and grain at any resolution instead
  of an inpainted plate blown up from the crop;
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

__all__ = ["person_region", "fill_flow", "extend_flow", "front_alpha", "composite", "GONE_THRESHOLD"]

#: A person probability above this counts as person when the background is filled in.
GONE_THRESHOLD = 0.08
_SMOOTH = 1.5  # crop pixels: Gaussian sigma smoothing the fill flow (seams where mirrors meet)
_REACH = 6.0  # crop pixels beyond the moved sheet over which the front flow fades out


def person_region(person: np.ndarray) -> np.ndarray:
    """(H, W) float32 {0, 1}: the person and its soft halo (what the fill replaces)."""
    hard = (person > GONE_THRESHOLD).astype(np.uint8)
    # Closed: a segmenter's patchy low scores on loose hair (a ponytail) become one region.
    hard = cv2.morphologyEx(hard, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return cv2.dilate(hard, np.ones((5, 5), np.uint8)).astype(np.float32)


def fill_flow(person: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 backward flow that shows, where the person was, the background around it.

    Each pixel of the (dilated) person reads the photo at its mirror image across the person's
    nearest edge (2 q - p, q the nearest background pixel), or just beyond that edge where the
    mirror lands on the person again or outside the crop; the flow is smoothed inside the person so
    that neighbouring mirrors meet without a seam, and is 0 on the background (which stays).
    """
    person = np.asarray(person, np.float32)
    h, w = person.shape
    gone = person_region(person)
    inside = gone > 0.5
    flow = np.zeros((h, w, 2), np.float32)
    if not inside.any() or inside.all():
        return flow
    _, labels = cv2.distanceTransformWithLabels(
        inside.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    outside = ~inside.ravel()
    nearest = np.zeros(int(labels.max()) + 1, np.int64)
    nearest[labels.ravel()[outside]] = np.nonzero(outside)[0]
    qy, qx = np.divmod(nearest[labels[inside]], w)  # nearest background pixel of each person pixel
    py, px = np.nonzero(inside)
    my, mx = 2 * qy - py, 2 * qx - px  # mirror images
    in_crop = (mx >= 0) & (mx < w) & (my >= 0) & (my < h)
    ok = in_crop.copy()
    # A mirror must land well clear of the person (faint hair strands the mask scores low included).
    clear = cv2.dilate((person > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8))
    ok[in_crop] = clear[my[in_crop], mx[in_crop]] == 0
    # Where the mirror fails, read the background 2 px beyond the edge, along the same direction.
    dx, dy = (qx - px).astype(np.float32), (qy - py).astype(np.float32)
    norm = np.maximum(np.hypot(dx, dy), 1e-3)
    near_x = np.clip(qx + 2.0 * dx / norm, 0, w - 1)
    near_y = np.clip(qy + 2.0 * dy / norm, 0, h - 1)
    flow[py, px, 0] = np.where(ok, mx, near_x) - px
    flow[py, px, 1] = np.where(ok, my, near_y) - py
    # Normalised convolution inside the person: mirrors of neighbouring edge points meet smoothly.
    weight = inside.astype(np.float32)
    blurred = cv2.GaussianBlur(flow, (0, 0), _SMOOTH)
    norm_w = cv2.GaussianBlur(weight, (0, 0), _SMOOTH)
    smooth = blurred / np.maximum(norm_w, 1e-3)[:, :, None]
    # Continuous at the person's edge: a pixel d inside it reads at most 2 d + 1 away.
    depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
    length = np.maximum(np.hypot(smooth[:, :, 0], smooth[:, :, 1]), 1e-6)
    smooth *= np.minimum(1.0, (2.0 * depth - 1.0).clip(0.0) / length)[:, :, None]
    # Where opposite mirrors meet (the person's middle) the average can read the person itself:
    # there the unsmoothed read stays.
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    hits = (
        cv2.remap(clear.astype(np.float32), gx + smooth[..., 0], gy + smooth[..., 1], cv2.INTER_LINEAR) > 0.0
    )
    smooth = np.where((hits & (depth > 2.0))[:, :, None], flow, smooth)
    return np.where(inside[:, :, None], smooth, 0.0).astype(np.float32)


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


def front_alpha(person: np.ndarray, flow: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: where the moved person shows (the person mask read along the
    front flow, times the moved sheet's soft cover)."""
    h, w = person.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    carried = cv2.remap(
        person, gx + flow[:, :, 0], gy + flow[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # Beyond the segmenter's soft edge the person is sure: the head's inside never shows the back.
    carried = np.clip((carried - 0.15) / 0.7, 0.0, 1.0)
    return np.clip(carried * cover, 0.0, 1.0).astype(np.float32)


def composite(
    source: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    front: np.ndarray,
    back: np.ndarray,
    alpha: np.ndarray,
) -> np.ndarray:
    """(H, W, 3) uint8: alpha * source(p + front) + (1 - alpha) * source(p + back), bilinear.

    grid: the (H, W) float32 pixel coordinates x, y (the identity sampling map)."""
    gx, gy = grid
    first = cv2.remap(
        source, gx + front[:, :, 0], gy + front[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    second = cv2.remap(
        source, gx + back[:, :, 0], gy + back[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.blendLinear(first, second, alpha.astype(np.float32), (1.0 - alpha).astype(np.float32))
