"""The `prepare`, `train` and `evaluate` command modules, driven through their argparse front ends."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from cli import evaluate as evaluate_cmd
from cli import prepare as prepare_cmd
from cli import train as train_cmd
from core.errors import InputError, WeightsNotFoundError
from pirender.checkpoint import load_pretrained
from pirender.config import GeneratorConfig
from tests.training.synthetic import FACE_MODEL


def _args(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_modules_follow_the_command_shape():
    for module in (prepare_cmd, train_cmd, evaluate_cmd):
        assert isinstance(module.HELP, str) and callable(module.add_arguments) and callable(module.run)


def test_train_resume_export_and_evaluate(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    gen = tmp_path / "generator.json"
    dataclasses.replace(GeneratorConfig.small(), face_model=FACE_MODEL, image_size=32).save(gen)
    run = tmp_path / "run"
    common = [str(tiny_dataset), str(run), "--preset", "tiny", "--generator", str(gen), "--device", "cpu"]
    assert (
        train_cmd.run(
            _args(
                train_cmd,
                common + ["--warp-iterations", "1", "--total-iterations", "2", "--loss-num-scales", "1"],
            )
        )
        == 0
    )
    assert (run / "export" / "model.safetensors").is_file() and (run / "samples").is_dir()
    assert json.loads((run / "train_config.json").read_text())["total_iterations"] == 2
    # Resuming with a larger budget continues from step 2 with the saved config.
    assert train_cmd.run(_args(train_cmd, common + ["--total-iterations", "3"])) == 0
    assert (run / "checkpoints" / "step_00000003.pt").is_file()
    assert json.loads((run / "train_config.json").read_text())["loss"]["num_scales"] == 1
    with pytest.raises(InputError, match="already holds checkpoints"):
        train_cmd.run(_args(train_cmd, common + ["--no-resume"]))
    assert train_cmd.run(_args(train_cmd, [str(tiny_dataset), str(run), "--export-only"])) == 0
    assert load_pretrained(run / "export").config.face_model == FACE_MODEL

    # Fine-tuning starts from given weights.
    ft = tmp_path / "finetune"
    argv = [
        str(tiny_dataset),
        str(ft),
        "--preset",
        "tiny",
        "--init",
        str(run / "export"),
        "--warp-iterations",
        "0",
        "--total-iterations",
        "1",
        "--loss-num-scales",
        "1",
    ]
    assert train_cmd.run(_args(train_cmd, argv)) == 0

    out = tmp_path / "eval"
    argv = [
        str(run),
        str(tiny_dataset),
        "--compare",
        str(ft / "export"),
        "-o",
        str(out),
        "--backend",
        "none",
        "--max-frames",
        "2",
    ]
    assert evaluate_cmd.run(_args(evaluate_cmd, argv)) == 0
    report = json.loads((out / "report.json").read_text())
    assert [e["engine"] for e in report["engines"]] == ["run", "export"]
    assert "| run |" in (out / "report.md").read_text()


def test_prepare_command_reports_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("PIRENDER_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    (tmp_path / "videos").mkdir()
    with pytest.raises(WeightsNotFoundError, match="epoch_20.pth"):
        prepare_cmd.run(
            _args(
                prepare_cmd,
                [str(tmp_path / "videos"), str(tmp_path / "ds"), "--no-progress", "--backend", "deep3d"],
            )
        )
