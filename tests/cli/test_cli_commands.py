"""`pirender edit-video / reenact --parts / animate controls` and the commands that wrap other
command lines (`evaluate-lipsync`, `audio-prepare`, `audio-train`, `audio-evaluate`)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.animate import controls_from_args
from cli.edit import flag_name
from cli.main import COMMANDS, build_parser, main
from cli.wrapped import WRAPPED, leading_folder_as
from core.quiet import PROJECT_PACKAGES
from pipeline import CONTROL_SPECS, REENACT_PARTS, ReenactOptions, read_video_metadata
from reconstruction.video import VideoReader

REPO = Path(__file__).resolve().parents[2]
CLIP = "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"
#: wrapped commands whose own parser is named after the `pirender` command
WRAPPED_PROGS = ("audio-prepare", "audio-train", "audio-evaluate", "evaluate-lipsync")


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_commands_are_named_with_hyphens() -> None:
    assert {
        "edit-video",
        "evaluate-lipsync",
        "audio-prepare",
        "audio-train",
        "audio-evaluate",
        "weights",
    } <= set(COMMANDS) | set(WRAPPED)
    assert not set(COMMANDS) & set(WRAPPED)


def test_edit_video_flags_come_from_the_control_table() -> None:
    options = {s for a in _subparser("edit-video")._actions for s in a.option_strings}
    assert {flag_name(spec.name) for spec in CONTROL_SPECS} <= options
    args = build_parser().parse_args(["edit-video", "v.mp4", "--smile", "0.6", "--yaw", "-10", "-o", "o.mp4"])
    assert (args.control_smile, args.control_yaw, args.engine) == (0.6, -10.0, "preview")


def test_reenact_parts_is_one_choice_of_the_pipeline_table() -> None:
    action = next(a for a in _subparser("reenact")._actions if "--parts" in a.option_strings)
    assert list(action.choices) == [c.name for c in REENACT_PARTS]
    args = build_parser().parse_args(["reenact", "p.jpg", "d.mp4", "-o", "o.mp4", "--parts", "mouth"])
    assert ReenactOptions(parts=args.parts).parts == ("mouth",)
    assert ReenactOptions(parts=action.default) == ReenactOptions()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reenact", "p.jpg", "d.mp4", "-o", "o.mp4", "--parts", "expression,pose"])


def test_animate_controls_from_flags() -> None:
    parse = build_parser().parse_args
    base = ["animate", "p.jpg", "s.wav", "-o", "o.mp4"]
    defaults = controls_from_args(parse(base))
    assert (defaults.lips, defaults.expression, defaults.head, defaults.still) == (1.0, 1.0, 1.0, False)
    flags = ["--lips", "0.5", "--expression", "0", "--head", "2", "--still", "--blinks-per-minute", "12"]
    chosen = controls_from_args(parse(base + flags))
    assert (chosen.lips, chosen.expression, chosen.head, chosen.still, chosen.blinks_per_minute) == (
        0.5,
        0.0,
        2.0,
        True,
        12.0,
    )
    older = controls_from_args(parse(base + ["--expression-strength", "0.3", "--pose-strength", "0"]))
    assert (older.lips, older.expression, older.head) == (0.3, 0.3, 0.0)
    assert parse(base + ["--head-from", "ref.mp4"]).head_from == "ref.mp4"


def test_bad_animate_control_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["animate", str(tmp_path / "p.jpg"), str(tmp_path / "s.wav"), "-o", "o.mp4", "--lips", "7"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "lips" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", WRAPPED_PROGS)
def test_wrapped_help_is_the_wrapped_commands_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith(f"usage: pirender {command} ")


def test_wrapped_arguments_pass_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    import audio2motion.training

    seen: list[list[str]] = []
    monkeypatch.setattr(audio2motion.training, "train_main", lambda argv: seen.append(argv) or 0)
    assert main(["-v", "audio-train", "--data-dir", "clips", "--out-dir", "run", "--steps", "3"]) == 0
    assert seen == [["--data-dir", "clips", "--out-dir", "run", "--steps", "3"]]
    # the clips' folder may come first without its flag
    assert leading_folder_as("--videos", ["clips", "--model", "m"]) == ["--videos", "clips", "--model", "m"]
    assert leading_folder_as("--videos", ["--videos", "clips", "--model", "m"]) == [
        "--videos",
        "clips",
        "--model",
        "m",
    ]


@pytest.mark.realdata
@pytest.mark.slow
def test_edit_video_cli_on_a_real_clip(shared_data: Path, tmp_path: Path) -> None:
    """A real run in its own process: only the project's lines on the console; the clip's first
    second comes back with its sound, every frame's face changed."""
    clip, out = shared_data / CLIP, tmp_path / "smile.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "edit-video", str(clip), "--smile", "0.8", "--max-seconds", "1"]
        + ["-o", str(out)],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert done.stdout == "" and lines[-1] == f"INFO cli.edit_video: wrote {out}"
    assert all(line.split(" ")[1].split(".")[0] in PROJECT_PACKAGES for line in lines)  # our loggers only
    info = read_video_metadata(out)
    assert info.has_audio and info.duration == pytest.approx(1.0, abs=0.05)
    original = list(VideoReader(clip, max_seconds=1.0))
    edited = list(VideoReader(out))
    assert len(edited) == len(original) == 25
    for a, b in zip(original, edited, strict=True):
        assert np.abs(a.astype(np.int16) - b.astype(np.int16)).max() > 30  # the face changed in every frame
