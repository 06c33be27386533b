"""Conditional normalizing flow over motion sequences (paper section 3.3, appendix D.2).

One flow maps a motion sequence x of shape (B, T, C) to noise z of the same shape. Each of its
K steps is Glow's triple -- actnorm, invertible C x C linear map, affine coupling -- except that
the coupling's scale/shift network is an LSTM running forwards in time, fed at frame t with the
passive half of that frame and the (encoded) condition of that frame. Because the LSTM is causal,
z_t depends only on x_{<=t}: the Jacobian of the whole sequence map is block lower-triangular in
time, and its log-determinant is exactly the sum of the per-frame, per-step terms returned here.
The same causality lets `inverse_step` sample one frame at a time, carrying each coupling's LSTM
state, and give exactly what the sequence-level `forward` would invert.

Shapes: x, z (B, T, C); cond (B, T, D); per-frame log-determinants (B, T), in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from core.errors import InputError

from .settings import JsonSettings

__all__ = [
    "FlowConfig",
    "ActNorm",
    "InvertibleLinear",
    "LSTMAffineCoupling",
    "FlowStep",
    "ConditionalFlow",
    "standard_normal_logpdf",
]

#: nn.LSTM state: (h, c), each (1, B, hidden); None = zeros.
LSTMState = tuple[torch.Tensor, torch.Tensor] | None
#: Single-frame LSTM cell state: (h, c), each (B, hidden); None = zeros.
CellState = tuple[torch.Tensor, torch.Tensor] | None


@dataclass(frozen=True)
class FlowConfig(JsonSettings):
    """Architecture of one conditional flow.

    Attributes:
        num_steps: K, the number of actnorm / linear / coupling steps.
        hidden_size: LSTM hidden units of each coupling network.
        cond_hidden: width of the condition encoder's output, fed to every coupling.
        scale_clamp: log-scales of the couplings are soft-clamped to (-clamp, clamp).
    """

    what = "flow settings"

    num_steps: int
    hidden_size: int = 128
    cond_hidden: int = 128
    scale_clamp: float = 2.0

    def __post_init__(self) -> None:
        if self.num_steps < 1 or self.hidden_size < 1 or self.cond_hidden < 1:
            raise InputError(f"flow sizes must be >= 1, got {self}")
        if not self.scale_clamp > 0:
            raise InputError(f"scale_clamp must be positive, got {self.scale_clamp}")


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1.

    torch's CPU tanh opens an OpenMP parallel region even for tensors of a few hundred values;
    on a busy machine every such region waits for a descheduled thread (about 2-10 ms, measured on
    our shared 2-core machines), which made frame-by-frame sampling 20x slower. sigmoid does not.
    """
    return torch.sigmoid(2.0 * x) * 2.0 - 1.0


def standard_normal_logpdf(z: torch.Tensor) -> torch.Tensor:
    """(..., C) -> (...) log N(z; 0, I), summed over the last axis."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2.0 * math.pi))


class ActNorm(nn.Module):
    """y = (x + bias) * exp(log_scale) per channel; initialised from the first training batch
    so that its output has zero mean and unit variance per channel (Glow, section 3.1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set bias and scale from data x (B, T, C) (statistics over batch and time)."""
        flat = x.reshape(-1, x.shape[-1])
        mean = flat.mean(0)
        std = flat.std(0, unbiased=False) if flat.shape[0] > 1 else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std.clamp_min(1e-3)))
        self.initialized.fill_(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> y (B, T, C), log-det (B, T)."""
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        return y, self.log_scale.sum().expand(x.shape[:-1])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """y (..., C) -> x (..., C)."""
        return y * torch.exp(-self.log_scale) - self.bias


class InvertibleLinear(nn.Module):
    """y = W x per frame with W = P L (U + diag(sign * exp(log_s))) (Glow's LU form).

    log|det W| = sum(log_s) exactly; W starts as a random rotation drawn from `generator`.
    """

    def __init__(self, channels: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=generator, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        diag = torch.diagonal(upper)
        self.register_buffer("permutation", p.float())
        self.register_buffer("sign_s", torch.sign(diag).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1), persistent=False)
        self.register_buffer("eye", torch.eye(channels), persistent=False)
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(diag.abs()).float())

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> torch.Tensor:
        """(C, C) matrix W."""
        lower, upper = self._factors()
        return self.permutation @ lower @ upper

    def inverse_weight(self) -> torch.Tensor:
        """(C, C) matrix W^-1 = U^-1 L^-1 P^T from two triangular solves.

        Computed in float64 on the CPU (some accelerators lack float64): sampling inverts ten of
        these per frame, and float32 inverses cost an order of magnitude in round-trip accuracy.
        """
        lower, upper = (f.cpu().double() for f in self._factors())
        eye = torch.eye(lower.shape[0], dtype=torch.float64)
        lower_inv = torch.linalg.solve_triangular(lower, eye, upper=False, unitriangular=True)
        upper_inv = torch.linalg.solve_triangular(upper, eye, upper=True)
        inverse = upper_inv @ lower_inv @ self.permutation.cpu().double().T
        return inverse.to(device=self.lower.device, dtype=self.lower.dtype)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> y (B, T, C), log-det (B, T)."""
        return x @ self.weight().T, self.log_s.sum().expand(x.shape[:-1])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """y (..., C) -> x (..., C)."""
        return y @ self.inverse_weight().T


class LSTMAffineCoupling(nn.Module):
    """Affine coupling whose scale and shift come from an LSTM over time.

    The first C // 2 channels (passive) pass unchanged; the rest become
    x_b * exp(log_s) + shift, where (log_s, shift) = head(LSTM([x_a, h_cond]))_t. The output
    head starts at zero, so a fresh coupling is the identity.
    """

    def __init__(self, channels: int, cond_features: int, hidden_size: int, scale_clamp: float) -> None:
        super().__init__()
        self.num_passive = channels // 2
        self.num_active = channels - self.num_passive
        self.scale_clamp = scale_clamp
        self.lstm = nn.LSTM(self.num_passive + cond_features, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2 * self.num_active)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _scale_shift(
        self, passive: torch.Tensor, cond: torch.Tensor, state: LSTMState
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        hidden, state = self.lstm(torch.cat([passive, cond], dim=-1), state)
        shift, raw = self.head(hidden).chunk(2, dim=-1)
        log_s = self.scale_clamp * _tanh(raw / self.scale_clamp)
        return log_s, shift, state

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, state: LSTMState = None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """x (B, T, C), cond (B, T, H) -> y (B, T, C), log-det (B, T), LSTM state."""
        passive, active = x[..., : self.num_passive], x[..., self.num_passive :]
        log_s, shift, state = self._scale_shift(passive, cond, state)
        y = torch.cat([passive, active * torch.exp(log_s) + shift], dim=-1)
        return y, log_s.sum(-1), state

    def inverse(
        self, y: torch.Tensor, cond: torch.Tensor, state: LSTMState = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """y (B, T, C), cond (B, T, H) -> x (B, T, C), LSTM state (T may be 1, frame by frame)."""
        passive, active = y[..., : self.num_passive], y[..., self.num_passive :]
        log_s, shift, state = self._scale_shift(passive, cond, state)
        x = torch.cat([passive, (active - shift) * torch.exp(-log_s)], dim=-1)
        return x, state

    def inverse_frame(
        self, y_t: torch.Tensor, cond_t: torch.Tensor, state: CellState
    ) -> tuple[torch.Tensor, CellState]:
        """One frame: y_t (B, C), cond_t (B, H), cell state ((B, hidden), (B, hidden)) or None.

        A hand-written LSTM cell on the LSTM's own weights: the same arithmetic as the sequence
        path, without nn.LSTM's per-call set-up (about 180 us, most of the sampling time otherwise).
        """
        passive, active = y_t[:, : self.num_passive], y_t[:, self.num_passive :]
        if state is None:
            zeros = y_t.new_zeros(y_t.shape[0], self.lstm.hidden_size)
            state = (zeros, zeros)
        lstm = self.lstm
        gates = torch.addmm(
            lstm.bias_ih_l0 + lstm.bias_hh_l0, torch.cat([passive, cond_t], dim=-1), lstm.weight_ih_l0.T
        )
        gates = torch.addmm(gates, state[0], lstm.weight_hh_l0.T)  # (B, 4 * hidden): i, f, g, o
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * _tanh(g)
        h = torch.sigmoid(o) * _tanh(c)
        shift, raw = self.head(h).chunk(2, dim=-1)
        log_s = self.scale_clamp * _tanh(raw / self.scale_clamp)
        return torch.cat([passive, (active - shift) * torch.exp(-log_s)], dim=-1), (h, c)


class FlowStep(nn.Module):
    """actnorm -> invertible linear -> LSTM affine coupling."""

    def __init__(
        self, channels: int, cond_features: int, config: FlowConfig, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.linear = InvertibleLinear(channels, generator)
        self.coupling = LSTMAffineCoupling(channels, cond_features, config.hidden_size, config.scale_clamp)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> y (B, T, C), log-det (B, T)."""
        x, ld_norm = self.actnorm(x)
        x, ld_linear = self.linear(x)
        x, ld_coupling, _ = self.coupling(x, cond)
        return x, ld_norm + ld_linear + ld_coupling

    def inverse(
        self, y: torch.Tensor, cond: torch.Tensor, state: LSTMState = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """y (B, T, C) -> x (B, T, C), the coupling's LSTM state after the last frame."""
        y, state = self.coupling.inverse(y, cond, state)
        y = self.linear.inverse(y)
        return self.actnorm.inverse(y), state

    def inverse_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(C, C) matrix M and (C,) offset with linear^-1 then actnorm^-1 = y @ M + offset."""
        matrix = self.linear.inverse_weight().T * torch.exp(-self.actnorm.log_scale)[None, :]
        return matrix, -self.actnorm.bias


class ConditionalFlow(nn.Module):
    """K flow steps sharing one condition encoder (MLP from the raw condition to `cond_hidden`)."""

    def __init__(self, channels: int, cond_dim: int, config: FlowConfig, generator: torch.Generator) -> None:
        super().__init__()
        if channels < 1 or cond_dim < 1:
            raise InputError(f"a flow needs channels >= 1 and cond_dim >= 1, got {channels}, {cond_dim}")
        self.channels = channels
        self.cond_dim = cond_dim
        self.cond_net = nn.Sequential(
            nn.Linear(cond_dim, config.cond_hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(config.cond_hidden, config.cond_hidden),
        )
        self.steps = nn.ModuleList(
            [FlowStep(channels, config.cond_hidden, config, generator) for _ in range(config.num_steps)]
        )

    def _check(self, x: torch.Tensor, cond: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.channels:
            raise InputError(f"flow input must be (B, T, {self.channels}), got {tuple(x.shape)}")
        if cond.shape != (*x.shape[:2], self.cond_dim):
            raise InputError(
                f"condition must be (B, T, {self.cond_dim}) = {(*x.shape[:2], self.cond_dim)}, got {tuple(cond.shape)}"
            )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Motion x (B, T, C) -> noise z (B, T, C) and summed log-det per frame (B, T)."""
        self._check(x, cond)
        h = self.cond_net(cond)
        logdet = x.new_zeros(x.shape[:2])
        for step in self.steps:
            x, ld = step(x, h)
            logdet = logdet + ld
        return x, logdet

    def log_prob(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, T) log p(x_t | x_<t, cond) in nats, one value per frame."""
        z, logdet = self(x, cond)
        return standard_normal_logpdf(z) + logdet

    def inverse(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Noise z (B, T, C) -> motion x (B, T, C) for a known condition sequence."""
        self._check(z, cond)
        h = self.cond_net(cond)
        for step in reversed(self.steps):
            z, _ = step.inverse(z, h)
        return z

    def sampling_plan(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-step fused inverse affine maps, computed once before a frame-by-frame loop."""
        return [step.inverse_affine() for step in self.steps]

    def inverse_step(
        self,
        z_t: torch.Tensor,
        cond_t: torch.Tensor,
        states: list[CellState],
        plan: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, list[CellState]]:
        """One frame: z_t (B, C), cond_t (B, D), per-step cell states -> x_t (B, C), new states.

        Start with ``states = [None] * num_steps``; pass ``plan = sampling_plan()`` to reuse the
        inverted matrices over many frames (the weights must not change in between).
        """
        plan = self.sampling_plan() if plan is None else plan
        h = self.cond_net(cond_t)  # (B, H)
        y = z_t
        new_states: list[CellState] = list(states)
        for i in reversed(range(len(self.steps))):
            y, new_states[i] = self.steps[i].coupling.inverse_frame(y, h, states[i])
            matrix, offset = plan[i]
            y = torch.addmm(offset, y, matrix)
        return y, new_states
