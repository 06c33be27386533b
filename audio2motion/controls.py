"""User controls of audio-driven animation: strengths, still mode, blinks, reference head motion.

Generated motion is composed of parts that the user can scale separately
(`AudioToMotion.generate(..., controls=AnimationControls(...))`):

    expression(t) = photo + lips * lip_part(t) + expression * flow_part(t) + blink(t) * close_eyes
    pose(t)       = photo pose + head * flow_pose(t)        (or the reference motion's head, or still)

* lip part: the viseme -> mouth component of phonetic models (the mouth follows the phones);
* flow part: the normalizing flow's sample (expression variety on top of the lips; for models
  without phonetics it is the whole expression change, and `lips` has no separate effect);
* blinks: a random blink train (`blink_track`: Poisson onsets at `blinks_per_minute`, each blink
  100-300 ms, raised-cosine lid closure) along the face model's "close eyes" direction
  (`reconstruction.controls`), seeded by the generation seed;
* head: `still=True` keeps the photo's pose exactly; `head_reference` (a `MotionSequence`, e.g. a
  reenactment source) replaces the generated head motion with the reference's motion relative
  to its first frame (resampled to the output rate, held at its last frame when shorter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.coefficients import MotionSequence
from core.errors import InputError

__all__ = [
    "AnimationControls",
    "blink_track",
    "reference_head_motion",
    "smooth_in_time",
    "gaussian_blur_time",
    "BLINK_RATE_RANGE",
]

#: Allowed blink rates, blinks per minute (people blink about 10-20 times a minute while talking).
BLINK_RATE_RANGE = (0.0, 60.0)
#: Blink durations are drawn uniformly from this range (seconds, lids closing and opening).
BLINK_DURATION_S = (0.1, 0.3)
#: Shortest gap between the ends and starts of two blinks (seconds).
_MIN_BLINK_GAP_S = 0.5


@dataclass(frozen=True)
class AnimationControls:
    """How strongly each part of the generated motion is applied (all relative to the photo).

    Attributes:
        lips: scale of the lip (viseme) part; 0 = lips stay as in the photo; 1 = as trained.
        expression: scale of the flow's expression part (brows, cheeks, extra mouth variety).
        head: scale of the generated head motion (pose change from the photo); 0 = no head motion.
        still: True keeps the photo's head pose exactly (overrides `head` and `head_reference`).
        blinks_per_minute: mean blink rate; 0 = no blinks (the default 15 is typical for talking).
        blink_strength: lid closure of a blink (1 = fully closed).
        head_reference: optional MotionSequence whose head motion (pose relative to its first
            frame, scaled by `head`) replaces the generated head motion.
    """

    lips: float = 1.0
    expression: float = 1.0
    head: float = 1.0
    still: bool = False
    blinks_per_minute: float = 15.0
    blink_strength: float = 1.0
    head_reference: MotionSequence | None = None

    def __post_init__(self) -> None:
        for name in ("lips", "expression", "head", "blink_strength"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 3):
                raise InputError(f"AnimationControls.{name} must be a number in [0, 3], got {value!r}")
        lo, hi = BLINK_RATE_RANGE
        rate = self.blinks_per_minute
        if not (isinstance(rate, int | float) and math.isfinite(rate) and lo <= rate <= hi):
            raise InputError(f"AnimationControls.blinks_per_minute must be in [{lo:g}, {hi:g}], got {rate!r}")
        if self.head_reference is not None and not isinstance(self.head_reference, MotionSequence):
            raise InputError(
                f"AnimationControls.head_reference must be a MotionSequence, got {type(self.head_reference).__name__}"
            )

    @classmethod
    def from_strengths(
        cls, expression_strength: float = 1.0, pose_strength: float = 1.0
    ) -> AnimationControls:
        """The controls behind the older `expression_strength` / `pose_strength` arguments
        (lips and expression both follow `expression_strength`)."""
        return cls(lips=expression_strength, expression=expression_strength, head=pose_strength)


def blink_track(num_frames: int, fps: float, blinks_per_minute: float, seed: int = 0) -> np.ndarray:
    """(T,) float32 lid closure in [0, 1] of a random blink train.

    Onsets follow a Poisson process of `blinks_per_minute` (with at least 0.5 s between blinks);
    each blink lasts 100-300 ms (uniform) and closes the lids with a raised-cosine profile
    (1 = closed at its middle frame). Deterministic for a seed.
    """
    if num_frames < 0 or not (math.isfinite(fps) and fps > 0):
        raise InputError(f"need num_frames >= 0 and fps > 0, got {num_frames}, {fps}")
    out = np.zeros(num_frames, dtype=np.float32)
    if blinks_per_minute <= 0 or num_frames == 0:
        return out
    rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, 18])
    duration_s = num_frames / fps
    mean_gap = 60.0 / blinks_per_minute
    t = rng.uniform(0.2, min(mean_gap, max(duration_s, 0.2)))  # the first blink comes early but not at 0
    times = np.arange(num_frames) / fps
    while t < duration_s:
        length = rng.uniform(*BLINK_DURATION_S)
        phase = (times - t) / length  # 0 .. 1 over the blink
        inside = (phase >= 0) & (phase <= 1)
        out[inside] = np.maximum(out[inside], 0.5 - 0.5 * np.cos(2 * np.pi * phase[inside]))
        t += length + max(_MIN_BLINK_GAP_S, rng.exponential(mean_gap) - length)
    return out


def reference_head_motion(reference: MotionSequence, num_frames: int, fps: float) -> np.ndarray:
    """(T, 6) pose change (angles in radians, translation) of `reference` relative to its first frame,
    resampled to `fps` and held at the last frame when the reference is shorter."""
    if len(reference) < 1:
        raise InputError("the head reference motion has no frames")
    pose = np.concatenate([reference.angles, reference.translation], axis=1).astype(np.float64)
    pose = pose - pose[:1]
    src_t = np.arange(len(reference)) / reference.fps
    dst_t = np.arange(num_frames) / fps
    return np.stack([np.interp(dst_t, src_t, pose[:, j]) for j in range(6)], axis=1).astype(np.float32)


def gaussian_blur_time(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """(T, D) float64 values blurred along time with a Gaussian of `sigma_frames` (ends replicated; 0 = unchanged)."""
    x = np.asarray(values, dtype=np.float64)
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x
    radius = int(math.ceil(3 * sigma_frames))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    taps /= taps.sum()
    padded = np.pad(x, ((radius, radius), (0, 0)), mode="edge")
    out = np.zeros_like(x)
    for k, w in enumerate(taps):
        out += w * padded[k : k + x.shape[0]]
    return out


def smooth_in_time(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """(T, D) float32 values blurred along time with a Gaussian of `sigma_frames` (see `gaussian_blur_time`).

    The flows draw independent noise every frame; smoothing their output removes the frame-to-frame
    jitter that noise causes (real head motion is smooth at 25 fps).
    """
    return gaussian_blur_time(values, sigma_frames).astype(np.float32)
