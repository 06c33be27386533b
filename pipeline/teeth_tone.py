"""The procedural teeth no brighter than the photo's own light allows (docs/TEETH_TONE.md).

`pipeline.teeth` lights its teeth with one ivory (`TOOTH_COLOUR`, scaled by the face's mean
brightness): near white in a bearded, elderly, dark-skinned or low-key face whose mouth lies in
shade, it reads as a denture. Real teeth in photos are at most a little brighter than the skin
around them (the 95th percentile of the opening's luma over that skin's: median 1.12 on the shared
photos that show teeth), so the lit tooth colour is capped there, read once per photo
(`tooth_cap`), and only ever made darker or less saturated (`capped_tooth`): not a colour mapping.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.images import LUMA
from pipeline.mouth import MouthInterior

__all__ = ["NATURAL_RATIO", "capped_tooth", "mouth_skin", "tooth_cap", "with_tooth_cap"]

#: Luma of a lit tooth over the local skin's 95th percentile: the median of photographed teeth
#: (`benchmarks/teeth_tone_measure.py`, 43 shared photos: quartiles 1.03 / 1.12 / 1.25).
NATURAL_RATIO = 1.12
#: The skin the mouth lies in: mesh vertices within this many face sizes of the mouth's centre.
_REACH = 0.25


def _saturation(rgb: np.ndarray) -> np.ndarray:
    high = rgb.max(axis=-1)
    return (high - rgb.min(axis=-1)) / np.maximum(high, 1.0)


def mouth_skin(
    source: np.ndarray, points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray], face_size: float
) -> np.ndarray:
    """(N, 3) float32 RGB of the crop `source` under the mesh's vertices `points` ((V, 2+) crop
    pixels) within `_REACH` face sizes of the centre of the lip vertices `mouth` (the skin or beard
    around the mouth, lips included)."""
    centre = points[np.concatenate(mouth), :2].mean(axis=0)
    near = points[np.hypot(*(points[:, :2] - centre).T) < _REACH * max(face_size, 1.0), :2]
    xy = near.round().astype(np.int64)
    h, w = source.shape[:2]
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    return source[xy[ok, 1], xy[ok, 0]].astype(np.float32)


def tooth_cap(
    source: np.ndarray, points: np.ndarray, mouth: tuple[np.ndarray, np.ndarray], face_size: float
) -> tuple[float, float] | None:
    """(luma, saturation) a lit procedural tooth may reach in this photo: `NATURAL_RATIO` times the
    95th percentile of the skin's luma around the mouth, and the skin's median saturation; None
    when too little skin is seen to tell."""
    skin = mouth_skin(source, points, mouth, face_size)
    if len(skin) < 10:
        return None
    luma = float(np.percentile(skin @ LUMA, 95))
    return NATURAL_RATIO * luma, float(np.median(_saturation(skin)))


def capped_tooth(tooth: np.ndarray, cap: tuple[float, float] | None) -> np.ndarray:
    """(3,) the lit tooth colour `tooth`, its luma and saturation no higher than `cap` (`tooth_cap`;
    None: unchanged). Saturation is lowered towards the tooth's own luma grey, luma by scaling."""
    if cap is None:
        return tooth
    luma_cap, saturation_cap = cap
    tooth = np.asarray(tooth, np.float64)
    saturation = float(_saturation(tooth))
    if saturation > saturation_cap > 0.0:
        # Towards its grey by k: (max - min) k / (grey + (max - grey) k) = the cap, solved for k.
        grey, high, spread = float(tooth @ LUMA), float(tooth.max()), float(np.ptp(tooth))
        k = saturation_cap * grey / max(spread - saturation_cap * (high - grey), 1e-6)
        tooth = grey + (tooth - grey) * min(k, 1.0)
    luma = float(tooth @ LUMA)
    return tooth * min(1.0, luma_cap / max(luma, 1e-6))


def with_tooth_cap(
    interior: MouthInterior,
    photo: tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], float] | None,
) -> MouthInterior:
    """`interior` with its `tooth_cap` read off `photo` (`tooth_cap`'s arguments: the crop, the
    mesh's points, the lip vertices, the face's size); unchanged when `photo` is None (the flag off)
    or when the photo shows its own teeth (their colour is the photo's)."""
    if photo is None or interior.teeth is not None:
        return interior
    return dataclasses.replace(interior, tooth_cap=tooth_cap(*photo))
