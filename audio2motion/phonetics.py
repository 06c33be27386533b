"""Phonetic features of speech: per video frame viseme posteriors (paper section 3.3 audio a(i)).

The paper's audio features are log-mel energies only, from which 17 training clips teach no
phonetics: the lips then follow loudness. This module adds what the lips actually follow, the
*phones*, computed offline without learning:

1. phone recognition with pocketsphinx 5.x (its wheel bundles the en-us acoustic model and the
   phone language model ``en-us-phone.lm.bin``); about 0.04 s per second of audio on one core.
   Other languages go through the same (English) phone recogniser: its phones are the nearest
   English sounds, which is what the mouth needs;
2. phones -> 13 visemes (`VISEMES`: mouth shapes; p/b/m share one, f/v another, ...);
3. coarticulation: a viseme starts `lead_ms` before its phone (the lips get ready for a sound
   before it is heard) and neighbouring visemes blend with a Gaussian of `blend_ms`;
4. silence: frames that are quiet (below the recording's loud level by `range_db`, or below
   `floor_dbfs`) or not speech-like (spectral flatness of noise, see `speech_activity`) are
   set to the silence viseme, whatever the recogniser said;
5. averaged over each video frame [i / fps, (i + 1) / fps).

Result: (T, V) float32 rows summing to 1 (`viseme_features`), V = len(VISEMES), column 0 is
silence. `PhoneticConfig` holds every setting and is saved in the model's config.json.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InputError, WeightsNotFoundError

from .audio import num_video_frames
from .controls import gaussian_blur_time
from .settings import JsonSettings

__all__ = [
    "VISEMES",
    "PHONE_TO_VISEME",
    "PhoneSegment",
    "PhoneticConfig",
    "recognise_phones",
    "speech_activity",
    "viseme_features",
    "viseme_silence",
]

logger = logging.getLogger(__name__)

#: Mouth-shape classes; index 0 is silence (mouth at rest).
VISEMES: tuple[str, ...] = (
    "sil",  # silence / pause: mouth at rest
    "PP",  # p b m: lips pressed together
    "FF",  # f v: lower lip under the upper teeth
    "DD",  # t d n l th dh: tongue tip, jaw slightly open
    "SS",  # s z: teeth close, lips slightly spread
    "KK",  # k g ng h y: back of the tongue, jaw open
    "CH",  # ch jh sh zh: lips pushed forward
    "RR",  # r er: lips slightly rounded
    "AA",  # aa ae ah ay aw: jaw open
    "EH",  # eh ey: half open, spread
    "IY",  # iy ih: spread, nearly closed
    "OW",  # ao ow oy: open and rounded
    "UW",  # uw uh w: rounded, protruded
)

#: CMU / pocketsphinx phone -> viseme name (fillers such as +NSN+ and SIL map to "sil").
PHONE_TO_VISEME: dict[str, str] = {
    **dict.fromkeys(("P", "B", "M"), "PP"),
    **dict.fromkeys(("F", "V"), "FF"),
    **dict.fromkeys(("T", "D", "N", "L", "TH", "DH"), "DD"),
    **dict.fromkeys(("S", "Z"), "SS"),
    **dict.fromkeys(("K", "G", "NG", "HH", "Y"), "KK"),
    **dict.fromkeys(("CH", "JH", "SH", "ZH"), "CH"),
    **dict.fromkeys(("R", "ER"), "RR"),
    **dict.fromkeys(("AA", "AE", "AH", "AY", "AW"), "AA"),
    **dict.fromkeys(("EH", "EY"), "EH"),
    **dict.fromkeys(("IY", "IH"), "IY"),
    **dict.fromkeys(("AO", "OW", "OY"), "OW"),
    **dict.fromkeys(("UW", "UH", "W"), "UW"),
}
_VISEME_INDEX = {name: i for i, name in enumerate(VISEMES)}
#: pocketsphinx frames per second (10 ms hop).
_PS_RATE = 100
#: Shorter audio than this is treated as silence (the recogniser needs a few frames).
_MIN_SECONDS = 0.1


@dataclass(frozen=True)
class PhoneSegment:
    """One recognised phone: CMU phone name and its span in seconds [start, end)."""

    phone: str
    start: float
    end: float

    @property
    def viseme(self) -> str:
        """The viseme the phone belongs to ("sil" for silence and fillers)."""
        return PHONE_TO_VISEME.get(self.phone, "sil")


@dataclass(frozen=True)
class PhoneticConfig(JsonSettings):
    """Settings of the phonetic features (saved in the model's config.json).

    Attributes:
        lead_ms: a viseme starts this long before its phone (anticipatory coarticulation).
        blend_ms: std of the Gaussian that blends neighbouring visemes (ms).
        range_db: frames quieter than the recording's loud level (95th percentile of 10 ms
            levels) by more than this are silence.
        floor_dbfs: frames below this absolute level are silence.
        max_flatness: frames whose spectral flatness (geometric / arithmetic mean of the power
            spectrum, 300 Hz - 4 kHz) exceeds this are noise, not speech (white noise ~0.55,
            voiced speech < 0.1, fricatives ~0.3).
        min_speech_ms / min_pause_ms: speech runs shorter than min_speech_ms are dropped, pauses
            shorter than min_pause_ms are filled (no flicker).
        language_weight / phone_penalty: pocketsphinx `lw` and `pip` of the phone decoder.
    """

    what = "phonetic config keys"

    lead_ms: float = 40.0
    blend_ms: float = 25.0
    range_db: float = 35.0
    floor_dbfs: float = -55.0
    max_flatness: float = 0.45
    min_speech_ms: float = 80.0
    min_pause_ms: float = 120.0
    language_weight: float = 2.0
    phone_penalty: float = 0.3

    def __post_init__(self) -> None:
        for name in ("lead_ms", "blend_ms", "range_db", "min_speech_ms", "min_pause_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"PhoneticConfig.{name} must be a finite number >= 0, got {value}")
        if not 0 < self.max_flatness <= 1:
            raise InputError(f"PhoneticConfig.max_flatness must be in (0, 1], got {self.max_flatness}")

    @property
    def num_visemes(self) -> int:
        """V, the number of viseme channels."""
        return len(VISEMES)


# ---------------------------------------------------------------------- recogniser
_DECODER_LOCK = threading.Lock()
_DECODERS: dict[tuple[float, float], Any] = {}


def _decoder(config: PhoneticConfig) -> Any:
    """A pocketsphinx phone decoder (built once per setting; decoding is serialised by the lock)."""
    key = (config.language_weight, config.phone_penalty)
    if key not in _DECODERS:
        try:
            from pocketsphinx import Decoder, get_model_path
        except ImportError as exc:
            raise WeightsNotFoundError(
                "phonetic features need pocketsphinx 5.x (`pip install 'pocketsphinx>=5,<6'`): " + str(exc)
            ) from None
        model = get_model_path()
        phone_lm = os.path.join(model, "en-us", "en-us-phone.lm.bin")
        if not os.path.isfile(phone_lm):
            raise WeightsNotFoundError(f"pocketsphinx's phone language model is missing: {phone_lm}")
        _DECODERS[key] = Decoder(
            allphone=phone_lm,
            lw=config.language_weight,
            pip=config.phone_penalty,
            beam=1e-10,
            pbeam=1e-10,
            loglevel="FATAL",
        )
    return _DECODERS[key]


def recognise_phones(
    wave: np.ndarray, sample_rate: int, config: PhoneticConfig | None = None
) -> list[PhoneSegment]:
    """Phones of (N,) float mono PCM in [-1, 1] at `sample_rate` (16000 Hz expected by the model).

    Audio shorter than 0.1 s gives no phones. Raises WeightsNotFoundError without pocketsphinx.
    """
    config = config or PhoneticConfig()
    if sample_rate != 16000:
        raise InputError(
            f"the phone recogniser needs 16 kHz audio, got {sample_rate} Hz (load_audio resamples)"
        )
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size < _MIN_SECONDS * sample_rate:
        return []
    pcm = (np.clip(wave, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    with _DECODER_LOCK:
        decoder = _decoder(config)
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = [
            PhoneSegment(s.word, s.start_frame / _PS_RATE, (s.end_frame + 1) / _PS_RATE)
            for s in decoder.seg()
        ]
    return segments


# ---------------------------------------------------------------------- speech activity
def _runs_fill(mask: np.ndarray, value: bool, max_len: int) -> np.ndarray:
    """Flip runs of `value` no longer than `max_len` (frames) to `not value`."""
    out = mask.copy()
    n, i = mask.size, 0
    while i < n:
        j = i
        while j < n and mask[j] == mask[i]:
            j += 1
        if mask[i] == value and j - i <= max_len:
            out[i:j] = not value
        i = j
    return out


def speech_activity(wave: np.ndarray, sample_rate: int, config: PhoneticConfig | None = None) -> np.ndarray:
    """(F,) bool speech mask at 100 frames/s (10 ms hop, 25 ms windows) of (N,) float mono PCM.

    Speech = loud enough (see `PhoneticConfig.range_db` / `floor_dbfs`) and not noise-like
    (spectral flatness <= `max_flatness`), then short runs are cleaned up.
    """
    config = config or PhoneticConfig()
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    hop, win = sample_rate // _PS_RATE, int(0.025 * sample_rate)
    n = int(math.ceil(wave.size / hop))
    if n == 0:
        return np.zeros(0, dtype=bool)
    padded = np.pad(wave, (0, n * hop + win - wave.size))
    frames = padded[np.arange(n)[:, None] * hop + np.arange(win)[None]]  # (F, win)
    level_db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), n=512, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / sample_rate)
    band = spec[:, (freqs >= 300) & (freqs <= 4000)] + 1e-12
    flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    loud = float(np.percentile(level_db, 95))
    mask = (level_db > max(loud - config.range_db, config.floor_dbfs)) & (flatness <= config.max_flatness)
    mask = _runs_fill(mask, False, int(config.min_pause_ms / 10))
    return _runs_fill(mask, True, int(config.min_speech_ms / 10))


# ---------------------------------------------------------------------- per-frame visemes
def viseme_silence() -> np.ndarray:
    """(V,) float32 features of silence (one-hot on "sil")."""
    out = np.zeros(len(VISEMES), dtype=np.float32)
    out[0] = 1.0
    return out


def viseme_track(segments: list[PhoneSegment], speech: np.ndarray, config: PhoneticConfig) -> np.ndarray:
    """(F, V) float64 viseme posteriors at 100 frames/s from phones and the (F,) speech mask."""
    n = speech.size
    ids = np.zeros(n, dtype=np.int64)
    lead = int(round(config.lead_ms / 10))
    for seg in segments:
        lo = max(0, int(round(seg.start * _PS_RATE)) - lead)
        hi = min(n, int(round(seg.end * _PS_RATE)) - lead)
        if hi > lo:
            ids[lo:hi] = _VISEME_INDEX[seg.viseme]
    # the speech mask is shifted by the same lead: the mouth opens just before the sound starts
    shifted = np.concatenate([speech[lead:], np.zeros(min(lead, n), dtype=bool)]) if lead else speech
    ids[~shifted] = 0
    onehot = np.eye(len(VISEMES))[ids]
    return gaussian_blur_time(onehot, config.blend_ms / 10)


def viseme_features(
    wave: np.ndarray, fps: float, sample_rate: int = 16000, config: PhoneticConfig | None = None
) -> np.ndarray:
    """(T, V) float32 viseme posteriors per video frame (rows sum to 1; column 0 = silence).

    Args:
        wave: (N,) float mono PCM at `sample_rate` (16 kHz), nominally [-1, 1].
        fps: video frame rate; frame i covers [i / fps, (i + 1) / fps); T = `num_video_frames`.
        config: settings (defaults when None).
    """
    config = config or PhoneticConfig()
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0 or not np.all(np.isfinite(wave)):
        raise InputError(f"audio must be a non-empty finite (N,) array, got shape {wave.shape}")
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    t = num_video_frames(wave.size, sample_rate, fps)
    speech = speech_activity(wave, sample_rate, config)
    segments = recognise_phones(wave, sample_rate, config) if speech.any() else []
    track = viseme_track(segments, speech, config)  # (F, V) at 100 fps
    # average the 100 fps track over each video frame's interval
    bounds = np.round(np.arange(t + 1) * _PS_RATE / fps).astype(np.int64)
    cum = np.concatenate([np.zeros((1, track.shape[1])), np.cumsum(track, axis=0)])
    lo = np.minimum(bounds[:-1], track.shape[0])
    hi = np.maximum(np.minimum(bounds[1:], track.shape[0]), lo)
    sums = cum[hi] - cum[lo]
    counts = (hi - lo)[:, None]
    out = np.where(counts > 0, sums / np.maximum(counts, 1), viseme_silence()[None])
    out /= out.sum(axis=1, keepdims=True)
    return out.astype(np.float32)
