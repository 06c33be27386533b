"""The painted mouth gap's appearance: the painter's knobs as one small, bounded set of numbers.

`pipeline.mouth_paint` draws the gap the photo never showed as a shaded cavity, a tongue and
procedural teeth (`pipeline.teeth`). What decides how that opened mouth looks (the cavity's
colour and its shading, the tongue's colour and share, the teeth's colour, how much of each row
shows) is a `MouthLook`; its defaults are the painter's own constants, so painting with
`MouthLook()` is pixel-identical to painting without one. `LOOK_RANGES` bounds every entry:
whatever chooses a look (a fixed calibration, `pipeline.mouth_look_net`) can only move these
knobs within them, never paint pixels of its own. Colours are RGB 0-255 before the face's exposure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["MouthLook", "LOOK_FIELDS", "LOOK_RANGES", "look_size"]


@dataclass(frozen=True)
class MouthLook:
    """cavity: the dark inside's colour; floor: how much lighter it gets from under the upper
    teeth (shade 0.75) down to the lower lip (0.75 + floor); corners: its shade at the mouth's
    corners (1 mid-mouth); tongue: the tongue's colour at its lit crest, tongue_share: how much of
    it covers the cavity there; teeth: a lit tooth's colour (dimmed in a dark photo);
    upper_teeth / lower_teeth: how much of each row shows (a factor of what the opening leaves
    room for)."""

    cavity: tuple[float, float, float] = (34.0, 13.0, 15.0)
    floor: float = 0.4
    corners: float = 0.35
    tongue: tuple[float, float, float] = (160.0, 66.0, 70.0)
    tongue_share: float = 0.75
    teeth: tuple[float, float, float] = (236.0, 227.0, 208.0)
    upper_teeth: float = 1.0
    lower_teeth: float = 1.0

    def __post_init__(self) -> None:
        values = self.to_vector()
        low, high = LOOK_RANGES[:, 0], LOOK_RANGES[:, 1]
        bad = [LOOK_FIELDS[i] for i in np.flatnonzero(~((values >= low - 1e-6) & (values <= high + 1e-6)))]
        if bad:
            raise ValueError(f"mouth look entries out of range: {bad}")

    def to_vector(self) -> np.ndarray:
        """(look_size(),) float64 in `LOOK_FIELDS` order."""
        parts = [
            np.atleast_1d(np.asarray(getattr(self, f.name), np.float64)) for f in dataclasses.fields(self)
        ]
        return np.concatenate(parts)

    @classmethod
    def from_vector(cls, values: np.ndarray) -> MouthLook:
        """The look of a (look_size(),) vector, each entry clipped into its range."""
        v = np.clip(np.asarray(values, np.float64).reshape(-1), LOOK_RANGES[:, 0], LOOK_RANGES[:, 1])
        if v.size != len(LOOK_FIELDS):
            raise ValueError(f"a mouth look has {len(LOOK_FIELDS)} entries, got {v.size}")
        out, i = {}, 0
        for f in dataclasses.fields(cls):
            n = 3 if f.name in _COLOURS else 1
            out[f.name] = tuple(float(x) for x in v[i : i + n]) if n == 3 else float(v[i])
            i += n
        return cls(**out)


_COLOURS = ("cavity", "tongue", "teeth")
#: Entry names of `MouthLook.to_vector`, and each entry's (low, high) plausible range.
LOOK_FIELDS = (
    "cavity_r", "cavity_g", "cavity_b", "floor", "corners",
    "tongue_r", "tongue_g", "tongue_b", "tongue_share",
    "teeth_r", "teeth_g", "teeth_b", "upper_teeth", "lower_teeth",
)  # fmt: skip
LOOK_RANGES = np.array(
    [[4.0, 150.0]] * 3 + [[0.0, 1.2], [0.2, 1.0]] + [[20.0, 230.0]] * 3 + [[0.0, 1.0]]
    + [[90.0, 255.0]] * 3 + [[0.4, 1.2], [0.0, 1.5]]
)  # fmt: skip


def look_size() -> int:
    """Number of entries of a look's vector."""
    return len(LOOK_FIELDS)
