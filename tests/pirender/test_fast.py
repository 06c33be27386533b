"""The fast inference path computes the plain generator's function (exactly in float32, to a PSNR bound in bf16)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pirender import GeneratorConfig, PIRenderer, RenderSession
from pirender.config import EditingConfig
from pirender.fast import FastOptions, FastRenderer, cached_fast_renderer, fold_upsample_conv, psnr
from pirender.testing import conformance_case, conformance_model

EAGER_FP32 = FastOptions(dtype=torch.float32, compile=False)
EAGER_BF16 = FastOptions(dtype=torch.bfloat16, compile=False)


@pytest.fixture(scope="module")
def small_model() -> PIRenderer:
    return conformance_model("small")


def _inputs(batch: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    source, descriptor = conformance_case("small")
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, *descriptor.shape[1:], generator=g) * 0.1 * descriptor.std()
    return source, descriptor + noise


def _close(out, ref, atol: float) -> None:
    for key in ("flow_field", "warp_image", "fake_image"):
        err = float((out[key] - ref[key]).abs().max())
        assert err < atol, f"{key} differs by {err}"


@pytest.mark.parametrize("size", [(5, 7), (8, 8)])
def test_folded_upsampling_equals_upsample_then_conv(size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, *size, generator=g)
    w, b = torch.randn(4, 6, 3, 3, generator=g), torch.randn(4, generator=g)
    expected = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), w, b, padding=1)
    got = F.conv_transpose2d(x, fold_upsample_conv(w), b, stride=2, padding=1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_eager_fp32_graph_matches_plain_path(small_model, channels_last):
    fast = FastRenderer(small_model, replace(EAGER_FP32, channels_last=channels_last))
    source, descriptor = _inputs(3)
    with torch.inference_mode():
        ref = small_model(source, descriptor)
        out = fast.render_prepared(fast.prepare_source(source), descriptor)
    _close(out, ref, 1e-4)
    assert out.fake_image.shape == (3, 3, 64, 64) and out.fake_image.is_contiguous()
    assert fast.compiled is False and fast.compile_seconds == 0.0


def test_full_residual_block_config_matches_plain_path():
    """Our own models may train the full residual block (no released quirk): the fast graph follows."""
    torch.manual_seed(0)
    config = GeneratorConfig.small()
    config = replace(
        config, editing=EditingConfig(**{**config.editing.__dict__, "released_residual_quirk": False})
    )
    model = PIRenderer(config).eval()
    source, descriptor = _inputs(2)
    with torch.inference_mode():
        ref = model(source, descriptor)
        out = FastRenderer(model, EAGER_FP32)(source, descriptor)
    _close(out, ref, 1e-4)


def test_bf16_graph_keeps_psnr_and_fp32_layers(small_model):
    kept = FastRenderer(
        small_model, replace(EAGER_BF16, fp32_layers=("warp.flow", "edit.res.*"))
    ).layer_dtypes()
    assert kept["warp.flow"] == kept["edit.res.1.0.conv2"] == torch.float32
    assert kept["edit.final"] == kept["warp.encoder.0.conv_0"] == torch.bfloat16
    fast = FastRenderer(small_model, EAGER_BF16)
    assert set(fast.layer_dtypes().values()) == {torch.bfloat16}
    source, descriptor = _inputs(2)
    with torch.inference_mode():
        ref = small_model(source, descriptor)
        out = fast(source, descriptor)
    assert psnr(out.fake_image, ref.fake_image) > 40
    assert psnr(out.warp_image, ref.warp_image) > 40
    assert out.fake_image.dtype == torch.float32


def test_session_protocol_and_foreign_prepared_features(small_model):
    fast = FastRenderer(small_model, EAGER_BF16)
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    _, descriptor = _inputs(5)
    plain_frames = RenderSession(small_model, image).render(descriptor).fake_image
    session = RenderSession(fast, image)
    assert session.config is small_model.config
    out = session.render(descriptor)
    assert psnr(out.fake_image, plain_frames) > 40
    # Features prepared by the plain renderer are accepted (re-prepared from their source).
    with torch.inference_mode():
        again = fast.render_prepared(small_model.prepare_source(session.prepared.source), descriptor)
    torch.testing.assert_close(again.fake_image, out.fake_image)


def test_compile_unavailable_falls_back_with_a_log_line(small_model, monkeypatch, caplog):
    import pirender.fast as fast_module

    monkeypatch.setattr(fast_module, "compile_available", lambda device: (False, "no compiler in this test"))
    with caplog.at_level(logging.WARNING, logger="pirender.fast"):
        fast = FastRenderer(small_model, replace(EAGER_BF16, compile=True))
    assert not fast.compiled
    assert "no compiler in this test" in caplog.text
    source, descriptor = _inputs(1)
    assert fast(source, descriptor).fake_image.shape == (1, 3, 64, 64)


def test_compilation_failure_at_run_time_falls_back_to_eager(small_model, monkeypatch, caplog):
    import pirender.fast as fast_module

    def broken_compile(module, **kwargs):
        def run(*args):
            raise RuntimeError("inductor exploded")

        return run

    monkeypatch.setattr(fast_module, "compile_available", lambda device: (True, ""))
    monkeypatch.setattr(fast_module.torch, "compile", broken_compile)
    with caplog.at_level(logging.WARNING, logger="pirender.fast"):
        fast = FastRenderer(small_model, replace(EAGER_FP32, compile=True))
    assert not fast.compiled and "inductor exploded" in caplog.text
    source, descriptor = _inputs(2)
    with torch.inference_mode():
        _close(fast(source, descriptor), small_model(source, descriptor), 1e-4)


def test_cached_fast_renderer_builds_once(small_model):
    a = cached_fast_renderer(small_model, EAGER_BF16)
    assert cached_fast_renderer(small_model, EAGER_BF16) is a
    assert cached_fast_renderer(small_model, EAGER_FP32) is not a


def test_renderer_benchmark_writes_results(tmp_path, capsys):
    """`python benchmarks/bench_renderer.py` on the small config."""
    from benchmarks.bench_renderer import main

    out = tmp_path / "bench.json"
    argv = [
        "--config",
        "small",
        "--no-compile",
        "--repeats",
        "1",
        "--batch",
        "2",
        "--quiet-wait",
        "0",
    ]
    assert main([*argv, "--json", str(out)]) == 0
    assert "b vs a0" in capsys.readouterr().out
    results = json.loads(out.read_text())
    names = {(r["name"], r["batch"]) for r in results["rows"]}
    assert names == {(n, b) for n in ("a0", "a", "b") for b in (1, 2)}
    b1 = next(r for r in results["rows"] if r["name"] == "b" and r["batch"] == 1)
    assert b1["psnr_fake_vs_a"] > 40 and b1["ratio_vs_a"] > 0
    a0 = next(r for r in results["rows"] if r["name"] == "a0" and r["batch"] == 1)
    assert a0["max_abs_diff_vs_a"] == 0.0


def test_original_equivalent_baseline_runs_the_discarded_branch(small_model):
    from benchmarks.bench_renderer import original_equivalent
    from pirender.editing import ResBlock

    twin = original_equivalent(small_model)
    blocks = [m for m in twin.editing_net.modules() if isinstance(m, ResBlock)]
    calls = []
    for block in blocks:
        block.conv1.register_forward_hook(lambda *args: calls.append(1))
    source, descriptor = _inputs(1)
    with torch.inference_mode():
        torch.testing.assert_close(
            twin(source, descriptor).fake_image, small_model(source, descriptor).fake_image
        )
    assert len(calls) == len(blocks) > 0


@pytest.mark.slow
def test_compiled_graph_matches_and_pads_odd_batches(small_model):
    fast = FastRenderer(small_model, FastOptions(batch_sizes=(2,)))
    assert fast.compiled, "torch.compile should work on this machine (g++ is installed)"
    assert fast.compile_seconds > 0
    source, descriptor = _inputs(3)
    with torch.inference_mode():
        ref = small_model(source, descriptor)
        out = fast.render_prepared(fast.prepare_source(source), descriptor)  # chunks 2 + (1 padded to 2)
    assert out.fake_image.shape == (3, 3, 64, 64)
    assert psnr(out.fake_image, ref.fake_image) > 40
    exact = FastRenderer(small_model, FastOptions(dtype=torch.float32, batch_sizes=(1,)))
    with torch.inference_mode():
        _close(exact(source, descriptor[:1]), small_model(source, descriptor[:1]), 1e-4)
