"""Phonetic features : phones -> visemes per video frame, silence, bad input.

The known-words test speaks a sentence with Debian's espeak-ng and checks that the recogniser's
bilabial frames (p/b/m) are where the lips of the shipped model close; it skips cleanly without
espeak-ng or pocketsphinx.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audio2motion.audio import load_audio
from audio2motion.phonetics import (
    PHONE_TO_VISEME,
    VISEMES,
    PhoneticConfig,
    speech_activity,
    viseme_features,
    viseme_silence,
)
from core.errors import InputError

from .helpers import write_wav

SR = 16000


def _has_pocketsphinx() -> bool:
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return False
    return True


needs_recogniser = pytest.mark.skipif(not _has_pocketsphinx(), reason="pocketsphinx is not installed")


def espeak(tmp_path: Path, text: str, name: str = "speech.wav") -> Path:
    """`text` spoken by espeak-ng into a wav (skips the test when espeak-ng is missing)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng)")
    path = tmp_path / name
    # the "m7" variant: pocketsphinx's acoustic model hears its consonants best of espeak's voices
    subprocess.run(
        [exe, "-v", "en+m7", "-s", "130", "-a", "150", "-w", str(path), text], check=True, capture_output=True
    )
    return path


def test_viseme_table_covers_the_cmu_phones() -> None:
    cmu = (
        "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
    )
    assert set(cmu.split()) == set(PHONE_TO_VISEME)
    assert set(PHONE_TO_VISEME.values()) <= set(VISEMES) and VISEMES[0] == "sil"
    assert {PHONE_TO_VISEME[p] for p in ("P", "B", "M")} == {"PP"}
    assert PHONE_TO_VISEME["UW"] == PHONE_TO_VISEME["W"] == "UW" and PHONE_TO_VISEME["IY"] == "IY"
    np.testing.assert_array_equal(viseme_silence(), np.eye(len(VISEMES))[0])


def test_config_round_trip_and_checks() -> None:
    config = PhoneticConfig(lead_ms=60.0)
    assert PhoneticConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError):
        PhoneticConfig(lead_ms=-1.0)
    with pytest.raises(InputError):
        PhoneticConfig.from_dict({"unknown": 1})


@pytest.mark.parametrize(
    "name, make",
    [
        ("digital silence", lambda rng: np.zeros(3 * SR)),
        ("white noise", lambda rng: 0.3 * rng.standard_normal(3 * SR)),
        ("10 ms click", lambda rng: 0.1 * rng.standard_normal(SR // 100)),
    ],
)
def test_non_speech_is_silence(name: str, make) -> None:  # noqa: ANN001
    wave = make(np.random.default_rng(0)).astype(np.float32)
    feats = viseme_features(wave, 25.0, SR)
    assert feats.shape == (max(1, int(np.ceil(wave.size / SR * 25))), len(VISEMES))
    np.testing.assert_allclose(feats.sum(1), 1.0, atol=1e-5)
    assert (feats.argmax(1) == 0).mean() > 0.95, name


def test_bad_arrays_raise_typed_errors() -> None:
    with pytest.raises(InputError):
        viseme_features(np.zeros(0, np.float32), 25.0)
    with pytest.raises(InputError):
        viseme_features(np.full(1600, np.nan, np.float32), 25.0)
    with pytest.raises(InputError):
        viseme_features(np.zeros(1600, np.float32), 0.0)


@needs_recogniser
def test_known_sentence_gives_bilabials_and_vowels(tmp_path: Path) -> None:
    wav = espeak(tmp_path, "Bob may move my map. Two blue moons.")
    wave = load_audio(wav, sample_rate=SR)
    feats = viseme_features(wave, 25.0, SR)
    labels = [VISEMES[i] for i in feats.argmax(1)]
    # a synthetic voice is hard for the recogniser: some of the 7 bilabials and the vowels are found
    assert labels.count("PP") >= 2
    assert {"AA", "UW", "OW"} & set(labels)
    speech = speech_activity(wave, SR)
    assert 0.3 < speech.mean() < 0.98  # the pause between the sentences and the ends are silence
    assert labels[-1] == "sil"


@needs_recogniser
def test_eight_khz_and_stereo_input_still_work(tmp_path: Path) -> None:
    wav = espeak(tmp_path, "Bob may move my map.")
    wave = load_audio(wav, sample_rate=8000)
    narrow = tmp_path / "narrow.wav"
    write_wav(narrow, np.stack([wave, wave], 1), 8000)  # 8 kHz stereo, like a phone call
    feats = viseme_features(load_audio(narrow, sample_rate=SR), 25.0, SR)
    labels = [VISEMES[i] for i in feats.argmax(1)]
    assert labels.count("sil") < len(labels) and "PP" in labels
