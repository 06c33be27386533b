"""Training entry: CLI, checkpoints, exact resume, refusals."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from audio2motion import AudioToMotion, TrainConfig, train, train_main
from audio2motion.training import parse_train_args
from core.errors import CheckpointError, InputError

from .helpers import make_clip_folder, make_task

TINY = [
    "--expression-steps", "2", "--pose-steps", "2", "--hidden-size", "8", "--cond-hidden", "8",
    "--n-mels", "8", "--window", "12", "--batch-size", "4", "--warmup-steps", "2", "--log-every", "2",
    "--eval-every", "3", "--checkpoint-every", "2", "--keep-checkpoints", "2", "--held-out-fraction", "0.3",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    make_clip_folder(folder, make_task(n_mels=8), num_clips=5, seconds=2.0, seed=0)
    return folder


def _args(clip_dir: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["--data-dir", str(clip_dir), "--out-dir", str(out), "--steps", str(steps), *TINY, *extra]


def test_cli_trains_and_writes_checkpoints(clip_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_main(_args(clip_dir, out, 5)) == 0
    steps = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert steps == ["step-0000004", "step-0000005"]  # keep_checkpoints=2
    last = out / "checkpoints" / "step-0000005"
    assert {p.name for p in last.iterdir()} == {
        "config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "train_config.json",
    }  # fmt: skip
    state = json.loads((last / "trainer_state.json").read_text())
    assert state["step"] == 5 and state["best_held_out_nll"] is not None
    assert json.loads((last / "train_config.json").read_text())["hidden_size"] == 8
    model = AudioToMotion.from_pretrained(out / "final")
    assert model.config.face_model == "synthetic-face" and model.config.num_expression == 4
    assert model.config.stats is not None and model.config.expression_flow.num_steps == 2
    assert (out / "best" / "model.safetensors").is_file()


def test_resume_reproduces_an_uninterrupted_run(clip_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_main(_args(clip_dir, out, 6)) == 0
    straight = load_file(str(out / "final" / "model.safetensors"))
    # Simulate a run interrupted after step 4: only that checkpoint survives.
    shutil.rmtree(out / "checkpoints" / "step-0000006")
    shutil.rmtree(out / "final")
    assert train_main(_args(clip_dir, out, 6)) == 0
    resumed = load_file(str(out / "final" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6, msg=key)
    history = json.loads((out / "checkpoints" / "step-0000006" / "trainer_state.json").read_text())
    assert [h["step"] for h in history["history"] if "train_total" in h] == [2.0, 4.0, 6.0]


def test_refusals(clip_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    assert train_main(_args(clip_dir, out, 2)) == 0
    with caplog.at_level(logging.ERROR):
        assert train_main(_args(clip_dir, out, 4, "--no-resume")) == 2
    assert "already holds checkpoints" in caplog.text
    config = parse_train_args(_args(clip_dir, out, 4))
    with pytest.raises(CheckpointError, match="other model settings"):
        train(TrainConfig(**{**config.__dict__, "hidden_size": 16}))
    with pytest.raises(InputError, match="does not exist"):
        train(
            TrainConfig(
                **{**config.__dict__, "data_dir": str(tmp_path / "nowhere"), "out_dir": str(tmp_path / "o")}
            )
        )


def test_cli_flags_come_from_the_config() -> None:
    config = parse_train_args(["--data-dir", "d", "--out-dir", "o", "--no-resume", "--learning-rate", "0.01"])
    assert (config.data_dir, config.out_dir, config.resume, config.learning_rate) == ("d", "o", False, 0.01)
    assert config.expression_steps == 10 and config.pose_steps == 8 and config.device == "auto"
    with pytest.raises(SystemExit):
        parse_train_args(["--out-dir", "o"])  # --data-dir is required
    with pytest.raises(InputError):
        TrainConfig("d", "o", steps=0)
