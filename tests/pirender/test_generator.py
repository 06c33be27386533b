"""Contract of the generator: shapes, output access, bad inputs, gradients."""

from __future__ import annotations

import pytest
import torch

from core.errors import InputError
from pirender import GeneratorConfig, PIRenderer
from pirender.flow import FlowWarp, flow_to_deformation, warp_image


@pytest.fixture(scope="module")
def small_model() -> PIRenderer:
    torch.manual_seed(0)
    return PIRenderer(GeneratorConfig.small()).eval()


def _inputs(batch: int = 2, size: int = 64):
    g = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, size, size, generator=g) * 2 - 1, torch.randn(batch, 73, 27, generator=g)


def test_output_shapes_and_access(small_model):
    source, descriptor = _inputs()
    with torch.no_grad():
        out = small_model(source, descriptor)
    assert out.flow_field.shape == (2, 2, 32, 32)
    assert out.warp_image.shape == out.fake_image.shape == (2, 3, 64, 64)
    assert out["fake_image"] is out.fake_image
    assert set(out) == {"flow_field", "warp_image", "fake_image"}
    assert float(out.fake_image.abs().max()) <= 1.0
    assert not any(torch.isnan(v).any() for v in out.values())


def test_warp_stage_alone_has_no_fake_image(small_model):
    source, descriptor = _inputs()
    with torch.no_grad():
        out = small_model.warp(source, descriptor)
        full = small_model(source, descriptor)
    assert out.fake_image is None and "fake_image" not in out
    with pytest.raises(KeyError):
        out["fake_image"]
    torch.testing.assert_close(out.warp_image, full.warp_image)
    torch.testing.assert_close(out.flow_field, full.flow_field)


def test_warp_stage_trains_only_mapping_and_warping():
    torch.manual_seed(0)
    model = PIRenderer(GeneratorConfig.small())
    source, descriptor = _inputs(batch=1)
    model.warp(source, descriptor).warp_image.mean().backward()
    with_grad = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {"mapping_net", "warping_net"}


def test_source_batch_of_one_is_broadcast(small_model):
    source, descriptor = _inputs(batch=3)
    with torch.no_grad():
        batched = small_model(source[:1], descriptor)
        single = small_model(source[:1], descriptor[1:2])
    torch.testing.assert_close(batched.fake_image[1:2], single.fake_image, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("source", "descriptor", "message"),
    [
        (torch.zeros(1, 3, 64, 64), torch.zeros(1, 70, 27), "descriptor must have shape"),
        (torch.zeros(1, 3, 64, 64), torch.zeros(1, 73, 13), "27-frame window"),
        (torch.zeros(1, 4, 64, 64), torch.zeros(1, 73, 27), "source must have shape"),
        (torch.zeros(3, 64, 64), torch.zeros(1, 73, 27), "source must have shape"),
        (torch.zeros(1, 3, 60, 60), torch.zeros(1, 73, 27), "multiples of"),
        (torch.full((1, 3, 64, 64), 200.0), torch.zeros(1, 73, 27), "[-1, 1]"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), torch.zeros(1, 73, 27), "float tensor"),
        (torch.zeros(2, 3, 64, 64), torch.zeros(3, 73, 27), "batch"),
        (torch.zeros(1, 3, 64, 64), torch.full((1, 73, 27), float("nan")), "NaN"),
        ("not a tensor", torch.zeros(1, 73, 27), "torch.Tensor"),
    ],
)
def test_bad_inputs_raise_value_errors_that_explain(small_model, source, descriptor, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        small_model(source, descriptor)
    assert issubclass(InputError, ValueError)


def test_gradients_flow_to_every_trained_parameter():
    torch.manual_seed(0)
    model = PIRenderer(GeneratorConfig.small())
    source, descriptor = _inputs(batch=1)
    out = model(source, descriptor)
    out.fake_image.mean().backward()
    without_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert without_grad == []
    # the released quirk: the unused conv1/norm1 of the residual blocks are frozen, not silently trained
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(".conv1." in n or ".norm1." in n for n in frozen)


def test_full_residual_block_trains_conv1_when_quirk_disabled():
    from dataclasses import replace

    cfg = GeneratorConfig.small()
    cfg = replace(cfg, editing=replace(cfg.editing, released_residual_quirk=False))
    model = PIRenderer(cfg)
    assert all(p.requires_grad for p in model.parameters())


def test_gradcheck_tiny_float64():
    from dataclasses import replace

    cfg = GeneratorConfig.small()
    cfg = replace(cfg, editing=replace(cfg.editing, released_residual_quirk=False))
    torch.manual_seed(0)
    model = PIRenderer(cfg).double()
    source = (torch.rand(1, 3, 16, 16, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(False)
    descriptor = torch.randn(1, 73, 27, dtype=torch.float64, requires_grad=True)

    def f(d):
        return model(source, d).fake_image.sum()

    assert torch.autograd.gradcheck(f, (descriptor,), eps=1e-6, atol=1e-4, nondet_tol=0.0, fast_mode=True)


def test_flow_warp_pure_function_and_module_agree():
    g = torch.Generator().manual_seed(2)
    image = torch.rand(2, 3, 32, 32, generator=g)
    flow = torch.randn(2, 2, 8, 8, generator=g)
    torch.testing.assert_close(FlowWarp()(image, flow), warp_image(image, flow_to_deformation(flow)))


def test_zero_flow_is_identity_up_to_resampling():
    ramp = torch.linspace(0, 1, 32)
    image = (ramp.view(1, 1, 1, 32) + ramp.view(1, 1, 32, 1)).expand(1, 3, 32, 32) / 2
    deformation = flow_to_deformation(torch.zeros(1, 2, 32, 32))
    # corner-aligned base grid sampled with align_corners=False: close to, not exactly, the identity
    warped = warp_image(image, deformation)
    assert (warped[..., 4:-4, 4:-4] - image[..., 4:-4, 4:-4]).abs().max() < 0.02
