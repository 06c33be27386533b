"""Conditional flow: invertibility, exact log-determinants, causality, actnorm init, step-wise sampling."""

from __future__ import annotations

import pytest
import torch

from audio2motion.flows import ActNorm, ConditionalFlow, FlowConfig, InvertibleLinear
from audio2motion.model import AudioToMotion, AudioToMotionConfig, MotionBatch
from core.errors import InputError

from .helpers import randomize


def _flow(channels: int, cond_dim: int = 3, steps: int = 3, seed: int = 0) -> ConditionalFlow:
    """A float64 flow with initialised actnorms and non-trivial couplings."""
    flow = ConditionalFlow(
        channels, cond_dim, FlowConfig(steps, 5, 6), torch.Generator().manual_seed(seed)
    ).double()
    gen = torch.Generator().manual_seed(seed + 1)
    flow.train()
    x = 2.0 * torch.randn(3, 7, channels, generator=gen, dtype=torch.float64) + 1.0
    flow(x, torch.randn(3, 7, cond_dim, generator=gen, dtype=torch.float64))
    return randomize(flow, 0.3, seed).eval()


@pytest.mark.parametrize("channels", [5, 6])
def test_logdet_matches_bruteforce_jacobian(channels: int) -> None:
    flow = _flow(channels)
    t = 4
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, t, channels, generator=gen, dtype=torch.float64)
    cond = torch.randn(1, t, 3, generator=gen, dtype=torch.float64)

    def f(flat: torch.Tensor) -> torch.Tensor:
        return flow(flat.reshape(1, t, channels), cond)[0].reshape(-1)

    jac = torch.autograd.functional.jacobian(f, x.reshape(-1))  # (T*C, T*C)
    _, logdet = flow(x, cond)
    sign, brute = torch.linalg.slogdet(jac)
    assert sign.item() != 0
    torch.testing.assert_close(logdet.sum(), brute, rtol=0, atol=1e-9)
    # Causality: z_t does not depend on x_t' for t' > t (block upper triangle is zero) ...
    blocks = jac.reshape(t, channels, t, channels)
    for i in range(t):
        for j in range(i + 1, t):
            assert blocks[i, :, j].abs().max() == 0
    # ... while the past does matter (the LSTM carries it).
    assert blocks[t - 1, :, 0].abs().max() > 1e-6


def test_sequence_inverse_and_framewise_inverse_agree() -> None:
    flow = _flow(6)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 9, 6, generator=gen, dtype=torch.float64)
    cond = torch.randn(2, 9, 3, generator=gen, dtype=torch.float64)
    z, _ = flow(x, cond)
    torch.testing.assert_close(flow.inverse(z, cond), x, rtol=0, atol=1e-10)
    states, frames = [None] * len(flow.steps), []
    plan = flow.sampling_plan()
    for i in range(9):
        x_t, states = flow.inverse_step(z[:, i], cond[:, i], states, plan)
        frames.append(x_t)
    torch.testing.assert_close(torch.stack(frames, 1), x, rtol=0, atol=1e-10)


def test_default_size_flows_invert_to_1e4_in_float32() -> None:
    """f(f^-1(z)) = z for the paper-size model (K = 10 / 8, E = 64) with random weights and inputs."""
    model = randomize(AudioToMotion(AudioToMotionConfig()), 0.05, lu_scale=0.005).eval()
    gen = torch.Generator().manual_seed(0)
    for flow in (model.expression_flow, model.pose_flow):
        assert len(flow.steps) == (10 if flow is model.expression_flow else 8)
        z = torch.randn(2, 30, flow.channels, generator=gen)
        cond = torch.randn(2, 30, flow.cond_dim, generator=gen)
        with torch.no_grad():
            x = flow.inverse(z, cond)
            z_back, _ = flow(x, cond)
            x_back = flow.inverse(z_back, cond)
        assert (z_back - z).abs().max() < 1e-4
        assert (x_back - x).abs().max() < 1e-4


def test_actnorm_data_dependent_init() -> None:
    norm = ActNorm(3).train()
    x = torch.randn(4, 50, 3) * torch.tensor([2.0, 0.5, 7.0]) + torch.tensor([1.0, -3.0, 0.0])
    y, logdet = norm(x)
    flat = y.reshape(-1, 3)
    torch.testing.assert_close(flat.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    assert logdet.shape == (4, 50)
    before = norm.bias.detach().clone()
    norm(x + 5.0)  # initialised once only
    torch.testing.assert_close(norm.bias.detach(), before)
    torch.testing.assert_close(norm.inverse(y), x, atol=1e-5, rtol=0)
    assert int(ActNorm(3).eval()(x)[0].sub(x).abs().max() == 0)  # no init in eval mode


def test_invertible_linear_lu_logdet() -> None:
    lin = InvertibleLinear(5, torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        lin.log_s.add_(0.3)
        lin.upper.add_(0.2)
    w = lin.weight()
    torch.testing.assert_close(lin.log_s.sum(), torch.linalg.slogdet(w)[1])
    torch.testing.assert_close(lin.inverse_weight() @ w, torch.eye(5, dtype=torch.float64))


def test_flow_gradients_are_correct() -> None:
    flow = _flow(4, cond_dim=2, steps=2)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    cond = torch.randn(1, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, c: flow.log_prob(a, c), (x, cond))


def test_flow_and_model_reject_bad_shapes(tiny_model: AudioToMotion) -> None:
    flow = _flow(4)
    with pytest.raises(InputError, match="flow input"):
        flow(torch.zeros(2, 3, 5, dtype=torch.float64), torch.zeros(2, 3, 3, dtype=torch.float64))
    with pytest.raises(InputError, match="condition"):
        flow(torch.zeros(2, 3, 4, dtype=torch.float64), torch.zeros(2, 4, 3, dtype=torch.float64))
    with pytest.raises(InputError):
        FlowConfig(num_steps=0)
    c = tiny_model.config
    bad = MotionBatch(
        torch.zeros(1, 8, c.num_expression), torch.zeros(1, 8, 6), torch.zeros(1, 5, 8), torch.zeros(1, 6)
    )
    with pytest.raises(InputError, match="audio"):
        tiny_model.nll_terms(bad)
