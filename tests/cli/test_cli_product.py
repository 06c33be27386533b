"""`pirender edit / reenact / animate`: flags from the control table, outputs with provenance, clean errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.edit import flag_name
from cli.main import build_parser, main
from pipeline import CONTROL_SPECS, SYNTHESIZED_NOTICE, read_video_metadata
from reconstruction.images import read_png_text
from tests.conftest import write_speech_like

DRIVING = "videos/Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"


@pytest.fixture(autouse=True)
def no_weights(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path_factory.mktemp("no-weights")))


@pytest.fixture(scope="module")
def photo(astronaut: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    return path


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", ["edit", "reenact", "animate"])
def test_help_renders(command: str) -> None:
    text = _subparser(command).format_help()
    assert "--engine" in text and "-o OUTPUT" in text


def test_edit_flags_come_from_the_control_table() -> None:
    options = {s for a in _subparser("edit")._actions for s in a.option_strings}
    assert {flag_name(spec.name) for spec in CONTROL_SPECS} <= options
    spec = CONTROL_SPECS[-1]
    args = build_parser().parse_args(
        ["edit", "p.jpg", "-o", "o.png", flag_name(spec.name), str(spec.maximum)]
    )
    assert getattr(args, f"control_{spec.name}") == spec.maximum


def test_out_of_range_control_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    spec = CONTROL_SPECS[0]
    with pytest.raises(SystemExit) as exc:
        main(["edit", "p.jpg", "-o", "o.png", flag_name(spec.name), str(spec.maximum + 1)])
    assert exc.value.code == 2 and f"{spec.maximum:g}" in capsys.readouterr().err


def test_edit_writes_png_with_provenance(photo: Path, tmp_path: Path) -> None:
    out, crop, clip = tmp_path / "out.png", tmp_path / "crop.png", tmp_path / "clip.mp4"
    code = main(
        [
            "edit",
            str(photo),
            "--yaw",
            "15",
            "--smile",
            "0.6",
            "--engine",
            "preview",
            "-o",
            str(out),
            "--save-crop",
            str(crop),
            "--clip",
            str(clip),
            "--clip-seconds",
            "0.4",
        ]
    )
    assert code == 0
    text = read_png_text(out)
    assert text["Comment"].startswith(SYNTHESIZED_NOTICE)
    assert "yaw=15" in text["Description"] and "smile=0.6" in text["Description"]
    assert "engine=geometric" in text["Description"]
    edited = np.asarray(Image.open(out))
    original = np.asarray(Image.open(photo))
    assert edited.shape == original.shape and np.abs(edited.astype(int) - original).mean() > 0.5
    assert Image.open(crop).size == (256, 256)
    assert read_video_metadata(clip).metadata["comment"].startswith(SYNTHESIZED_NOTICE)


def test_edit_preset(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "smile.png"
    assert main(["edit", str(photo), "--preset", "smile", "--engine", "preview", "-o", str(out)]) == 0
    assert "smile=0.8" in read_png_text(out)["Description"]


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_not_a_face_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    coffee = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    assert main(["edit", str(coffee), "--yaw", "10", "-o", str(tmp_path / "o.png")]) == 2
    assert "face" in _one_line_error(capsys.readouterr().err).lower()
    assert not (tmp_path / "o.png").exists()


def test_broken_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50)
    assert main(["edit", str(broken), "-o", str(tmp_path / "o.png")]) == 2
    assert "broken.jpg" in _one_line_error(capsys.readouterr().err)


def test_animate_without_model_exits_2(
    photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "none"
    empty.mkdir()
    code = main(
        [
            "animate",
            str(photo),
            str(tmp_path / "s.wav"),
            "-o",
            str(tmp_path / "a.mp4"),
            "--model-dir",
            str(empty),
        ]
    )
    assert code == 2
    assert "not installed" in _one_line_error(capsys.readouterr().err)


@pytest.mark.realdata
@pytest.mark.slow
def test_reenact_cli(photo: Path, shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "re.mp4"
    code = main(
        [
            "reenact",
            str(photo),
            str(shared_data / DRIVING),
            "-o",
            str(out),
            "--parts",
            "expression",
            "--max-seconds",
            "1",
            "--engine",
            "preview",
        ]
    )
    assert code == 0
    info = read_video_metadata(out)
    assert info.has_audio and "parts=expression" in info.metadata["description"]


def test_animate_uses_the_shipped_audio_model_by_default(
    photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No flags, no user weights: weights/files/audio2motion animates the photo (H.264 + the speech)."""
    monkeypatch.delenv("PIRENDER_AUDIO_MODEL", raising=False)
    wav = write_speech_like(tmp_path / "s.wav", 1.0)
    out = tmp_path / "a.mp4"
    assert main(["animate", str(photo), str(wav), "-o", str(out), "--engine", "preview"]) == 0
    info = read_video_metadata(out)
    assert info.has_audio and info.duration == pytest.approx(1.0, abs=0.15)
    assert "operation=animate" in info.metadata["description"]
