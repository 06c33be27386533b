"""How far a rising mouth corner lifts the skin around it (docs/SMILE_FROWN.md).

`mouth.carry_corners` moves the skin within a Gaussian around each mouth corner with the corner.
Across the mouth that Gaussian is short (`mouth.CORNER_REACH`: 0.25 mouth widths), which suits a
corner pulled down or sideways. When a smile lifts a corner by about 0.1 mouth widths, the skin a
quarter of a mouth width under it stays: that spot is magnified 5-20 times. On a down-turned mouth
(a sad, disgusted or angry photo) it holds the photo's lip line and corner shadows running down past
the corner, which are stretched into hooks hanging from the lifted corners and doubled outlines.
Here the corner's motion across the mouth (its lift) reaches further: up to `LIFTED_REACH` mouth
widths beyond, above and below it, as the corner rises against the upper lip's middle (`LIFT`:
a smile's corners rise 0.14 mouth widths, an opening mouth's 0.03); its motion along the mouth keeps
the usual reach.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LIFT", "LIFTED_REACH", "carry_lift", "corner_rise", "corner_weight", "lifted_reach"]

#: Gaussian sigmas (mouth widths) of the lift a fully rising corner carries: (outward, above, below).
LIFTED_REACH = (0.45, 0.45, 0.6)
#: A corner rising [0] mouth widths (against the upper lip's middle) gets none of that reach, [1] all.
LIFT = (0.03, 0.08)


def corner_rise(posed_upper: np.ndarray, target_upper: np.ndarray) -> np.ndarray:
    """(2,) how far each corner (first, last point) of the inner upper lip rises against the lip's
    middle point, from the photo's lip carried with the skull into the target's pose (`posed_upper`)
    to the target's (`target_upper`), in mouth widths across the target's corner-to-corner axis.
    A smile: about 0.14; an opening mouth (whose inner lips rise as a whole), a turn: 0.03 or less."""
    target, posed = np.asarray(target_upper, np.float64), np.asarray(posed_upper, np.float64)
    axis = target[-1] - target[0]
    width = max(float(np.hypot(*axis)), 1.0)
    up = np.array([axis[1], -axis[0]]) / width  # the axis turned towards the image's top
    if up[1] > 0.0:  # the curve runs from the image's right: turn the other way
        up = -up
    rise = (target - posed) @ up
    return (rise[[0, -1]] - rise[len(rise) // 2]) / width


def lifted_reach(
    posed_upper: np.ndarray | None, target_upper: np.ndarray, usual: tuple[float, float]
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per corner (first, last of the curves), the (outward, above, below) Gaussian sigmas in mouth
    widths of the lift the corner carries: the `usual` (outward, across) reach for a corner that does
    not rise (or without `posed_upper`), growing to `LIFTED_REACH` (never below the usual) as it
    rises through `LIFT`."""
    outward, across = usual
    base = (outward, across, across)
    if posed_upper is None:
        return (base, base)
    share = np.clip((corner_rise(posed_upper, target_upper) - LIFT[0]) / (LIFT[1] - LIFT[0]), 0.0, 1.0)
    return tuple(  # type: ignore[return-value]
        tuple(u + float(s) * max(r - u, 0.0) for u, r in zip(base, LIFTED_REACH, strict=True)) for s in share
    )


def corner_weight(
    along: np.ndarray,
    side: np.ndarray,
    sigmas: tuple[float, float, float, float],
    down_positive: bool,
    extent: float,
) -> np.ndarray:
    """The Gaussian weight around a corner at offsets `along` (> 0 towards the mouth's middle) and
    `side` (across; > 0 is down when `down_positive`), float32 arrays: sigmas (inward, outward, above,
    below) in pixels; brought to exactly 0 at `extent` sigmas."""
    inward, outward, above, below = sigmas
    sigma = (
        above if above == below else np.where((side > 0.0) == down_positive, below, above).astype(np.float32)
    )
    scaled = np.where(along > 0.0, along / inward, along / outward) ** 2 + (side / sigma) ** 2
    return np.exp(-0.5 * scaled) * np.clip(1.0 - scaled / extent**2, 0.0, 1.0) ** 2


def carry_lift(
    region: np.ndarray,
    offsets: tuple[np.ndarray, np.ndarray],
    motion: np.ndarray,
    slope: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray],
    across: np.ndarray,
) -> None:
    """Draw the (h, w, 2) backward flow `region` (in place) towards a corner's `motion` (2,) plus the
    mouth's `slope` (2, 2) at the pixels' `offsets` from the corner (dx (1, w), dy (h, 1)), as
    `mouth.carry_corners` does: the change's part along the mouth by weights[0], its part `across`
    (a unit vector) by weights[1]. Written per component (a matmul over (h, w, 2) costs more)."""
    dx, dy = offsets
    weight, lift = weights
    d0 = motion[0] + dx * slope[0, 0] + dy * slope[0, 1] - region[:, :, 0]
    d1 = motion[1] + dx * slope[1, 0] + dy * slope[1, 1] - region[:, :, 1]
    extra = (lift - weight) * (d0 * across[0] + d1 * across[1])
    region[:, :, 0] += weight * d0 + extra * across[0]
    region[:, :, 1] += weight * d1 + extra * across[1]
