"""What the photo must not show where a frame shuts an eye, made once per photo.

A shut eye hides the photo's opening (and, with `PreviewSettings.lash_fringe`, the lash run above
it) at the photo's resolution, and its lash line takes the colour of those lashes
(`face_paint.paint_lash_line`, docs/SHUT_LIDS.md). Both depend on the photo alone (the frame only
decides whether the eye is shut, `eyes.is_shut`), so they are made in `prepare`, not per frame: an
eye looking up, whose run is read past (`lid_edge.upward_lid_run`, docs/UPWARD_LIDS.md), then
costs a frame no more than any other shut eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.eyes import Lids, is_shut, opening_mask
from pipeline.face_paint import lash_colour

__all__ = ["ShutMask", "shut_eyes", "shut_masks"]


@dataclass(frozen=True, eq=False)
class ShutMask:
    """One eye of the photo: opening: (H, W) float32, 1 on its opening; fringe: the opening with
    the lash run above it (None where it has no run); lashes: (3,) the run's colour for the lash
    line (None with no run)."""

    opening: np.ndarray
    fringe: np.ndarray | None = None
    lashes: np.ndarray | None = None


def shut_masks(
    source: np.ndarray, lids: Sequence[Lids], runs: Sequence[np.ndarray]
) -> tuple[ShutMask | None, ...]:
    """Per eye of the (H, W, 3) uint8 crop `source`: its fitted (upper, lower) lid curves `lids`
    and lash run `runs` (K,) -> its `ShutMask` (None: the eye has no opening in the crop)."""
    size = (int(source.shape[0]), int(source.shape[1]))
    masks: list[ShutMask | None] = []
    for eye, run in zip(lids, runs, strict=True):
        opening = opening_mask(eye, size)
        if opening is None or not np.any(run > 0.5) or not np.any(opening > 0.5):  # (no lashes to read)
            masks.append(None if opening is None else ShutMask(opening))
            continue
        masks.append(ShutMask(opening, opening_mask(eye, size, run), lash_colour(source, opening)))
    for mask in masks:  # shared by every frame of the photo
        for array in (mask.opening, mask.fringe) if mask is not None else ():
            if array is not None:
                array.setflags(write=False)
    return tuple(masks)


def shut_eyes(
    masks: Sequence[ShutMask | None],
    source_lids: Sequence[Lids],
    target_lids: Sequence[Lids],
    wide: Sequence[bool],
    fringe: bool,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per eye the target shuts (`eyes.is_shut` of its photo's and target's lids, `wide` as in
    `eyes.refine_eye_flow`): the (H, W) float32 mask, 1 on the photo's opening (and, with `fringe`,
    on the photo's lash run above it: the shut lid reads only skin above it), and the colour (3,)
    of those lashes for the lash line (None: the line takes its own)."""
    shut = []
    for mask, source, target, w in zip(masks, source_lids, target_lids, wide, strict=True):
        if mask is None or not is_shut(source, target, w):
            continue
        if fringe and mask.fringe is not None:
            shut.append((mask.fringe, mask.lashes))
        else:
            shut.append((mask.opening, None))
    return shut
