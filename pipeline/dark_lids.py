"""The photo's lash run where `eyes.lash_heights` misses it, so a shut lid does not stretch the
lashes over itself (docs/DARK_LIDS.md, `PreviewSettings.dark_lids`).

A shut lid reads the photo's band of 0.4 eye widths above the fitted upper lid, from above the
photo's lash run (`lash_fringe`, docs/SHUT_LIDS.md). `lash_heights` tells lashes from the skin
0.15-0.35 eye widths above the lid and takes a run only where it is darker than 0.4 of that skin.
Under a dark make-up band the skin reference lies inside the band, and on a small or soft photo
the lashes beside the eye's middle are greyer than that: the run is missed on some or all columns,
and the lid stretches the lashes over its lower half (a black lower half, or a pale middle between
dark sides). Here the run is also read against the band the lid itself reads (its lighter
quarter), and the larger of the two is kept, once per photo (`lash_runs`). The lid, now read from
skin alone, is stretched further and painted more fully (`lid_skin.smooth_shut_lids`), so the few
patches of its texture tile that hold a hair or a highlight show as blotches: they are calmed
(`calm_tile`).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.geometry import smoothstep
from core.images import LUMA as _LUMA
from pipeline.wide_eyes import white_above

__all__ = ["calm_tile", "lash_runs"]

#: The band the shut lid reads (eye widths above the fitted lid) and its skin, this percentile.
_BAND = 0.4
_SKIN = 75.0
#: The run is at most this many eye widths high (as `eyes.lash_heights`: a crease above is lid).
_REACH = 0.2
#: Rows belong to the run while darker than this share of the way from its darkest to the skin.
_LEVEL = 0.65
#: A run counts where its darkest is at most this share of the band's skin and this many levels
#: darker than it (a lid margin in soft shadow is not lashes).
_DARK = 0.6
_CONTRAST = 16.0
#: On an eye where `lash_heights` found no run, a run counts only where found on this share of
#: the lid's points (lashes run across the eye; a run over its middle alone is an iris or a socket).
_ACROSS = 0.6


def lash_runs(source: np.ndarray, upper: np.ndarray, found: np.ndarray, white: bool = False) -> np.ndarray:
    """(K,) crop pixels: the lash run above each point of the fitted upper lid curve (K, 2) in the
    (H, W, 3) uint8 crop `source`: the larger of `found` (`eyes.lash_heights`, same `white`) and
    the run read against the band the shut lid reads (per column, luma blurred across a crop pixel:
    the rows from the lid line up darker than `_LEVEL` of the way from the run's darkest to the
    band's skin, at most `_REACH` eye widths), tapering to 0 over the outer quarters as lashes do;
    `found` alone on an eye where it has no run and this one is not found `_ACROSS` the lid."""
    width = float(np.hypot(*(upper[-1] - upper[0])))
    k = len(upper)
    if width < 4.0:
        return found
    lifted = white_above(source, upper, width) if white else np.zeros(k)
    line = upper - np.stack([np.zeros(k), lifted], axis=1)
    luma = cv2.GaussianBlur(source.astype(np.float32) @ _LUMA, (5, 1), 1.0)
    steps = np.arange(-1.0, _BAND * width + 0.5, 0.5)  # rows above the lid line, crop pixels
    map_x = np.repeat(line[:, :1], len(steps), axis=1).astype(np.float32)
    map_y = (line[:, 1:2] - steps[None, :]).astype(np.float32)
    profile = cv2.remap(luma, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (K, D)
    near = steps <= _REACH * width
    dark = profile[:, near].min(axis=1)
    skin = np.percentile(profile[:, steps >= 0.0], _SKIN, axis=1)
    light = profile > (dark + _LEVEL * (skin - dark))[:, None]
    light[:, ~near] = True
    first = np.argmax(light & (steps[None, :] >= 0.0), axis=1)
    height = np.where((skin - dark >= _CONTRAST) & (dark <= _DARK * skin), steps[first], 0.0)
    padded = np.pad(height, 1, mode="edge")
    height = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    if not (np.any(found > 0.5) or np.mean(height > 0.5) >= _ACROSS):
        return found  # a dark pocket over the eye's middle (an iris top, a deep-set lid), not lashes
    left, right = sorted((float(upper[0, 0]), float(upper[-1, 0])))
    taper = smoothstep(np.minimum(upper[:, 0] - left, right - upper[:, 0]) / (0.25 * width))
    return np.maximum(found, lifted + height * taper)


#: A painted shut lid is no lighter than this many times its own read, blurred over `_BLUR` crop
#: pixels: `lid_skin.lid_colours` averages a make-up band or a liner's shade out as hair, and the
#: painted lid would be a pale disc inside it.
_CEILING = 1.15
_BLUR = 2.0


def no_lighter(colour: np.ndarray, read: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 paint `colour` darkened (in place) where its luma exceeds `_CEILING` times
    that of the (h, w, 3) uint8 `read` (the flow's own read of the photo there), blurred."""
    own = cv2.GaussianBlur(read.astype(np.float32) @ _LUMA, (0, 0), _BLUR)
    colour *= np.minimum(1.0, _CEILING * own / np.maximum(colour @ _LUMA, 1.0))[..., None]
    return colour


#: A painted lid's texture tile (`lid_shape.lid_detail`) keeps its detail within this many robust
#: sigmas of its median: its few patches with a hair or a highlight are not copied as blotches.
_SPECKS = 2.0


def calm_tile(tile: np.ndarray) -> np.ndarray:
    """The (T, T, 3) float32 texture tile (a ratio to its local mean, about 1) with each pixel's
    departure from the median scaled down to at most `_SPECKS` robust sigmas of luma (a new array)."""
    luma = tile @ _LUMA
    centre = float(np.median(luma))
    departure = luma - centre
    sigma = max(1.4826 * float(np.median(np.abs(departure))), 1e-4)
    limit = _SPECKS * sigma
    scale = np.minimum(1.0, limit / np.maximum(np.abs(departure), 1e-6))
    return (1.0 + (tile - 1.0) * scale[..., None]).astype(np.float32)
