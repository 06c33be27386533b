"""TrainConfig: paper defaults, dict round trip, CLI flags generated from the fields, validation."""

from __future__ import annotations

import argparse

import pytest

from core.errors import InputError
from pirender.config import GeneratorConfig
from training.config import TrainConfig, add_config_arguments, config_from_args


def test_paper_recipe():
    c = TrainConfig.paper()
    assert (c.warp_iterations, c.total_iterations) == (200_000, 400_000)
    assert (c.optim.lr, c.optim.beta1, c.optim.beta2, c.optim.lr_decay_factor) == (1e-4, 0.5, 0.999, 0.2)
    assert c.optim.lr_decay_steps == (300_000,)
    assert (c.loss.warp_weight, c.loss.perceptual_weight, c.loss.style_weight) == (2.5, 4.0, 1000.0)
    assert (
        c.loss.perceptual_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
        and c.loss.num_scales == 4
    )


def test_dict_round_trip():
    c = TrainConfig.tiny(seed=5)
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(InputError):
        TrainConfig.from_dict({"nope": 1})


def test_cli_flags_are_generated_from_fields():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(
        [
            "--optim-lr",
            "0.01",
            "--loss-perceptual-layers",
            "relu1_1",
            "relu2_1",
            "--tensorboard",
            "false",
            "--warp-iterations",
            "3",
            "--optim-lr-decay-steps",
            "5",
            "7",
        ]
    )
    c = config_from_args(args, TrainConfig.paper())
    assert c.optim.lr == 0.01 and c.loss.perceptual_layers == ("relu1_1", "relu2_1")
    assert c.tensorboard is False and c.warp_iterations == 3 and c.optim.lr_decay_steps == (5, 7)
    assert c.total_iterations == 400_000  # unset flags keep the base
    with pytest.raises(SystemExit):
        parser.parse_args(["--amp", "fp8"])


def test_validation():
    with pytest.raises(InputError):
        TrainConfig(warp_iterations=5, total_iterations=3)
    with pytest.raises(InputError):
        TrainConfig(amp="fp8")
    with pytest.raises(InputError):
        TrainConfig(batch_size=0)


def test_train_command_generator_choices(tmp_path):
    from cli.train import _generator_config

    assert _generator_config("released") == GeneratorConfig.released()
    assert _generator_config("small") == GeneratorConfig.small()
    GeneratorConfig.small().save(tmp_path / "generator.json")
    assert _generator_config(str(tmp_path / "generator.json")) == GeneratorConfig.small()
    for removed in ("refiner", "hair-flow-person", "bogus"):
        with pytest.raises(InputError, match=f"unknown generator '{removed}'.*released, small"):
            _generator_config(removed)
