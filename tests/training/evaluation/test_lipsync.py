"""Lip-sync evaluation helpers: the two sides of the identity split and inference-setting overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio2motion import AudioToMotion
from core.errors import InputError
from training.evaluation.lipsync import held_out_videos, with_settings

SHIPPED = Path(__file__).resolve().parents[3] / "weights" / "files" / "audio2motion"


def _videos(tmp_path: Path) -> Path:
    rows = ["file\thas_audio\tnote"]
    for i in range(8):
        rows.append(f"clip{i}.mp4\tyes\tspeaking English; identity_group=g{i // 2}")
    rows.append("mute.mp4\tno\tsilent")
    (tmp_path / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_training_and_held_out_sides_split_by_identity(tmp_path: Path) -> None:
    videos = _videos(tmp_path)
    held = held_out_videos(videos, 0.25, 0)
    train = held_out_videos(videos, 0.25, 0, training_side=True)
    names = {p.name for p, _ in held} | {p.name for p, _ in train}
    assert names == {f"clip{i}.mp4" for i in range(8)}  # clips without sound are never evaluated
    assert not {p.name for p, _ in held} & {p.name for p, _ in train}
    groups = {int(p.stem[4:]) // 2 for p, _ in held}
    assert all(int(p.stem[4:]) // 2 not in groups for p, _ in train)  # a person is on one side only
    assert {lang for _, lang in held} == {"english"}


def test_settings_replace_inference_fields_only_when_named() -> None:
    model = with_settings(
        AudioToMotion.from_pretrained(SHIPPED),
        ["lip_gain=5", "lip_speech_gate=true", "flow_mouth=0", "rest_mouth_gap=-0.02"],
    )
    c = model.config
    assert (c.lip_gain, c.lip_speech_gate, c.flow_mouth, c.rest_mouth_gap) == (5.0, True, 0.0, -0.02)
    for bad in (
        "lip_gain",
        "no_such_field=1",
        "flow_mouth=2",
        "lip_gain=abc",
        "lip_context=3",
        "lip_speech_gate=1",
        "rest_mouth_gap=nan",
    ):
        with pytest.raises(InputError):
            with_settings(AudioToMotion.from_pretrained(SHIPPED), [bad])
