"""The training loop: it learns, resumes exactly, checkpoints and exports, and runs under DDP (gloo, world size 1)."""

from __future__ import annotations

import csv
import dataclasses
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
from PIL import Image

from pirender.checkpoint import load_pretrained
from pirender.generator import PIRenderer
from tests.training.conftest import narrow_vgg
from tests.training.synthetic import FACE_MODEL
from training.config import LossConfig, TrainConfig
from training.dataset import PairDataset
from training.distributed import init_distributed
from training.losses import RendererLoss
from training.trainer import (
    EMA,
    Trainer,
    export_checkpoint,
    find_latest_checkpoint,
    generator_from_checkpoint,
    read_checkpoint,
)


def make_trainer(tiny_dataset, gen_config, run_dir, config, *, seed=0, ctx=None):
    torch.manual_seed(seed)
    model = PIRenderer(gen_config)
    train = PairDataset(
        tiny_dataset, "train", image_size=32, face_model=FACE_MODEL, coeff_nc=73, seed=config.seed
    )
    test = PairDataset(tiny_dataset, "test", image_size=32, seed=config.seed)
    loss = RendererLoss(LossConfig(), vgg=narrow_vgg())
    return Trainer(config, model, train, run_dir, sample_dataset=test, loss=loss, dist_ctx=ctx)


def test_a_few_dozen_steps_lower_the_loss(tiny_dataset, tiny_generator_config, tmp_path):
    config = TrainConfig.tiny(
        warp_iterations=5,
        total_iterations=45,
        sample_every=100,
        checkpoint_every=100,
        optim=dataclasses.replace(TrainConfig.tiny().optim, lr=2e-3, lr_decay_steps=()),
    )
    trainer = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "run", config)
    losses = trainer.fit()
    assert len(losses) == 45 and all(np.isfinite(losses))
    full = losses[5:]
    first, last = np.mean(full[:5]), np.mean(full[-5:])
    assert last < 0.75 * first, (first, last)


def test_warp_stage_trains_only_mapping_and_warping(tiny_dataset, tiny_generator_config, tmp_path):
    trainer = make_trainer(
        tiny_dataset,
        tiny_generator_config,
        tmp_path / "run",
        TrainConfig.tiny(warp_iterations=3, total_iterations=3),
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"mapping_net", "warping_net"}
    ema = trainer.ema.model.state_dict()
    assert not torch.equal(
        ema["mapping_net.first.0.weight"], after["mapping_net.first.0.weight"]
    )  # lags behind


def test_resume_continues_the_same_loss_curve(tiny_dataset, tiny_generator_config, tmp_path):
    config = TrainConfig.tiny(
        warp_iterations=6, total_iterations=12, checkpoint_every=4, keep_checkpoints=2, sample_every=6
    )
    straight = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "a", config)
    full_curve = straight.fit()

    first = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "b", config)
    part1 = first.fit(until=8)
    assert find_latest_checkpoint(tmp_path / "b").name == "step_00000008.pt"
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").glob("*.pt")) == [
        "step_00000004.pt",
        "step_00000008.pt",
    ]
    torch.manual_seed(123)  # the resumed process starts from other RNG state and other initial weights
    resumed = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "b", config, seed=99)
    resumed.load_checkpoint(tmp_path / "b")
    part2 = resumed.fit()
    np.testing.assert_allclose(part1 + part2, full_curve, rtol=0, atol=1e-6)
    for k, v in straight.ema.model.state_dict().items():
        torch.testing.assert_close(resumed.ema.model.state_dict()[k], v, rtol=0, atol=1e-6)
    with open(tmp_path / "b" / "train_log.csv", newline="") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh)]
    assert steps == list(range(1, 13))


def test_checkpoint_samples_and_export(tiny_dataset, tiny_generator_config, tmp_path):
    trainer = make_trainer(
        tiny_dataset,
        tiny_generator_config,
        tmp_path / "run",
        TrainConfig.tiny(warp_iterations=2, total_iterations=4, sample_every=4),
    )
    trainer.fit()
    state = read_checkpoint(tmp_path / "run")  # weights_only loading of the whole checkpoint
    assert state["step"] == 4 and state["stage"] == "full" and state["loss_fallback"] is True
    assert state["sampler"]["consumed"] == 8
    grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step_00000004.png"))
    assert grid.shape == (2 * 32, 4 * 32, 3)
    out = export_checkpoint(tmp_path / "run", tmp_path / "export")
    app_model = load_pretrained(out)
    ema = generator_from_checkpoint(tmp_path / "run")
    for k, v in ema.state_dict().items():
        assert torch.equal(app_model.state_dict()[k], v)
    assert app_model.config.face_model == FACE_MODEL


def test_bf16_autocast_on_cpu_runs(tiny_dataset, tiny_generator_config, tmp_path):
    trainer = make_trainer(
        tiny_dataset,
        tiny_generator_config,
        tmp_path / "run",
        TrainConfig.tiny(warp_iterations=1, total_iterations=2, amp="bf16"),
    )
    assert all(np.isfinite(trainer.fit()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_path_world_size_one_gloo(tiny_dataset, tiny_generator_config, tmp_path):
    config = TrainConfig.tiny(warp_iterations=2, total_iterations=4)
    plain = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "plain", config).fit()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        ctx = init_distributed("cpu")
        assert ctx.distributed and ctx.is_main and ctx.world_size == 1
        trainer = make_trainer(tiny_dataset, tiny_generator_config, tmp_path / "ddp", config, ctx=ctx)
        losses = trainer.fit()
        assert isinstance(trainer.net, torch.nn.parallel.DistributedDataParallel)
    finally:
        dist.destroy_process_group()
    np.testing.assert_allclose(losses, plain, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_torchrun_two_processes(tiny_dataset, tiny_generator_config, tmp_path):
    """A real `torchrun --nproc_per_node 2` run of the train command (gloo on CPU) across the stage switch."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    entry = tmp_path / "entry.py"
    entry.write_text(
        "import argparse, sys\n"
        f"sys.path.insert(0, {str(repo)!r})\n"
        "from cli import train\n"
        "p = argparse.ArgumentParser(); train.add_arguments(p); sys.exit(train.run(p.parse_args()))\n"
    )
    tiny_generator_config.save(tmp_path / "gen.json")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           str(entry), str(tiny_dataset), str(run), "--preset", "tiny", "--generator", str(tmp_path / "gen.json"),
           "--warp-iterations", "1", "--total-iterations", "2", "--loss-num-scales", "1", "--device", "cpu"]  # fmt: skip
    env = {**__import__("os").environ, "PIRENDER_WEIGHTS_DIR": str(tmp_path / "none"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(run / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["stage"] for r in rows] == ["warp", "full"]
    assert float(rows[-1]["images_per_second"]) > 0 and (run / "export" / "model.safetensors").is_file()


def test_ema_warms_up_then_reaches_its_decay():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, 0.999)
    model.weight.data.fill_(1.0)
    ema.update(model)  # first update: decay 1/10 -> the average moves 90 % of the way
    assert float(ema.model.weight) == pytest.approx(0.9)
    ema.updates = 10**6
    assert ema.current_decay() == 0.999
