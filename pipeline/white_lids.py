"""A squint shut from both sides: its upper lid comes down over part of the slit and the skin under
its lower lid rises over the rest (docs/WHITE_LIDS.md, `PreviewSettings.white_lids`).

`eyes._close_squint` shuts an eye the photo shows nearly shut where it is: the upper lid, its crease
and the brow stay, and the skin under the lower lid is drawn up to the upper lid's line (drawing a
squint's short lid down over the whole slit brought its crease onto the lash line,
docs/SQUINT_SHUT.md). The lash line is painted where the two meet, so it lies at the top of the
slit over risen under-eye skin; under a top light that skin is lit and the upper lid shaded, and
the shut eye reads as an eyeball rolled up under a dark arc (face-api.js angry). With a `share` of
the slit closed from above, the upper lid's skin above its lash run is stretched down over that
share (a squint's slit is small: its crease moves by a fraction of a crop pixel per tenth) and
the lash line lies lower, where a shut lid's lash line is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SQUINT_SHARE", "squint_reads"]

#: With `PreviewSettings.white_lids`, the share of a squint's slit its upper lid closes.
SQUINT_SHARE = 0.5


def squint_reads(
    q: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    root: np.ndarray,
    start: np.ndarray,
    closure: float,
    share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(photo row each target row reads, the row the upper lid's margin comes down to), per pixel of
    a squint that closes by `closure` (eye frame, photo pixels). q: (target rows, the photo's upper
    lid line, its lower lid line, the lowest row of the skin drawn up) per pixel; root: the lowest
    photo row of the upper lid read when shut (above its lash run; inf while not shut); start: the
    top of the upper lid's band. share 0 is `eyes._close_squint`'s own: photo rows [low + 0.5,
    bottom] drawn up over [rise, bottom] and, above `rise`, the photo as it is (shut, only down to
    `root`: never the hidden eyeball, or the lashes hidden with it), meeting within a crop pixel.
    With a share, rows [start, root] (not shut: [start, lid], the lashes and all) are stretched down
    to the margin, `closure * share` of the gap below the lid line, and the skin under the lower lid
    rises over the rest."""
    qy, lid, low, bottom = q
    gap = np.maximum(low - lid, 0.0)
    rise = low - closure * (1.0 - share) * gap  # the lower lid's edge, risen
    lower_y = low + 0.5 + (qy - rise) * (bottom - low - 0.5) / np.maximum(bottom - rise, 1e-3)
    meet = np.clip(qy - rise + 0.5, 0.0, 1.0)
    upper_y = np.minimum(qy, root)
    margin = lid
    if share > 0.0:
        margin = lid + closure * share * gap
        end = np.where(np.isfinite(root), root, lid)
        stretched = start + (qy - start) * (end - start) / np.maximum(margin - start, 1e-3)
        upper_y = np.where(qy < start, qy, np.where(qy <= margin, stretched, upper_y))
    return (1.0 - meet) * upper_y + meet * lower_y, margin
