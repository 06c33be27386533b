"""Real media from ../shared/data (read in place): every container decodes with the right duration,
speech gives finite features, videos without sound are refused, generation runs on real speech."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from audio2motion import AudioToMotion, AudioToMotionConfig, audio_features, load_audio, silence_features
from core.coefficients import FaceCoefficients
from core.errors import MediaReadError

pytestmark = pytest.mark.realdata


def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "MANIFEST.tsv", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


@pytest.mark.parametrize(
    "name",
    [
        "OpenTalker__SadTalker__chinese_poem1.wav",  # 24 kHz
        "ajay-sainy__Wav2Lip-GFPGAN__kim_audio.mp3",
        "ali-vilab__dreamtalk__acknowledgement_chinese.m4a",
        "jixinya__EAMM__741400104.mov",
        "Hangz-nju-cuhk__Talking-Face_PC-AVS__681600002.mp3",  # PCM data behind an .mp3 name
    ],
)
def test_real_audio_decodes_with_manifest_duration(shared_data: Path, name: str) -> None:
    folder = shared_data / "audio"
    wave = load_audio(folder / name)
    expected = float(_manifest(folder)[name]["duration_s"])
    assert wave.size / 16000 == pytest.approx(expected, abs=0.1)
    feats = audio_features(wave, 25.0)
    assert np.isfinite(feats).all()
    # Speech is well above silence most of the time (in its strongest band).
    assert np.mean(feats.max(1) > silence_features().max() + 5.0) > 0.6


def test_real_videos_with_and_without_sound(shared_data: Path) -> None:
    folder = shared_data / "videos"
    rows = _manifest(folder)
    with_sound = "Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"
    wave = load_audio(folder / with_sound)
    assert wave.size / 16000 == pytest.approx(float(rows[with_sound]["duration_s"]), abs=0.1)
    silent = "KwaiVGI__LivePortrait__d0.mp4"
    assert rows[silent]["has_audio"] == "no"
    with pytest.raises(MediaReadError, match="no audio stream"):
        load_audio(folder / silent)


def test_generation_on_real_speech_with_a_paper_size_model(shared_data: Path) -> None:
    """An untrained paper-size model (K = 10 / 8, E = 64) runs end to end on a 5 s clip."""
    model = AudioToMotion(AudioToMotionConfig()).eval()
    source = FaceCoefficients("bfm09-deep3d", np.zeros(64), np.zeros(3), np.array([0, 0, 10.0]), np.zeros(3))
    path = shared_data / "audio" / "yerfor__Real3DPortrait__Obama_5s.wav"
    motion = model.generate(source, path, fps=30, seed=0)
    assert len(motion) == int(np.ceil(5.013 * 30)) and motion.fps == 30
    assert np.isfinite(motion.expression).all() and motion.face_model == "bfm09-deep3d"
