"""Fast inference path for the PIRender generator (paper section 3; an engineering addition, not in the paper).

`FastRenderer` computes the same function as `PIRenderer.render_prepared`, re-expressed for speed:

1. Exact rewrites: the editing decoder's nearest x2 upsampling + 3x3 conv becomes one 4x4 stride-2
   transposed conv on the low-resolution input (2.25x fewer FLOPs for those layers); the mapping
   network's dilated conv1d runs as matmuls; the released residual blocks' dead branch is skipped
   (as in the plain path).
2. Mixed precision: the convolutions run in bfloat16 (oneDNN; AVX512-BF16 or AMX) on channels-last
   activations, with float32 accumulation; every instance/layer norm and AdaIN statistic, the AdaIN
   modulations, the mapping network, the residual stream, grid sampling and tanh stay float32.
   `FastOptions.fp32_layers` keeps chosen convs in float32 (none by default). On CUDA the
   low-precision type is float16.
3. `torch.compile` (inductor, `freezing`, static shapes) of the two stages (warping network up to the
   flow; editing network) fuses each norm + modulation + activation (+ pooling) into one pass and
   pre-packs the conv weights. The grid sampling between them runs eagerly (inductor's decomposition of
   it is several times slower on CPU). Compiled batch sizes are fixed; other batches are chunked and
   padded to them. When compilation is unavailable or fails, the same graph runs eagerly (logged).
4. Source-only work (the two first convs and the instance norm of the warping input) is done once per
   photo by `prepare_source`; the AdaIN modulations are a few small matmuls on z inside the graph.

Compilation takes a minute or more on two cores: build one `FastRenderer` per process and reuse it
(`cached_fast_renderer(model)` does that).
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import math
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from pirender.blocks import NEGATIVE_SLOPE
from pirender.config import GeneratorConfig
from core.errors import InputError
from pirender.flow import flow_to_deformation, warp_image
from pirender.generator import PIRenderer, RenderOutput, SourceFeatures, check_descriptor, check_source

__all__ = [
    "DEFAULT_FP32_LAYERS",
    "FastOptions",
    "FastRenderer",
    "FastSourceFeatures",
    "cached_fast_renderer",
    "compile_available",
    "fold_upsample_conv",
    "optimize_for_inference",
    "psnr",
]

log = logging.getLogger(__name__)

EPS = 1e-5

#: Conv layers kept in float32 by default (fnmatch patterns over `FastRenderer.layer_names()`). None: on the
#: conformance weights every conv group in bf16 costs a few dB at most (the error is spread over all of
#: them, see `pirender bench --sensitivity`), and the flow head + output conv in float32 bought +0.5 dB
#: for ~8 % more time. ("warp.flow", "edit.final") restores them.
DEFAULT_FP32_LAYERS: tuple[str, ...] = ()

#: Inductor settings used while compiling: freezing (constant weights, oneDNN pre-packing) and a higher
#: re-read threshold, so that norm + activation feeding a 2x2 pooling are recomputed in the pooling loop
#: instead of being written out in float32 and read back (about 20 ms per frame at 256x256).
INDUCTOR_CONFIG = {"freezing": True, "realize_reads_threshold": 16}


@dataclass(frozen=True)
class FastOptions:
    """How the fast path is built.

    dtype: low-precision type of the convs; None = bfloat16 on CPUs with fast bf16 (else float32),
        float16 on CUDA; torch.float32 keeps only the exact rewrites and compilation.
    fp32_layers: fnmatch patterns of conv layers kept in float32 whatever `dtype` is.
    channels_last: NHWC activations and weights (what oneDNN's fast conv kernels want).
    fold_upsampling: replace nearest-x2 + conv3x3 by the equivalent 4x4 stride-2 transposed conv.
    compile: torch.compile with inductor + freezing; falls back to eager (logged) when unavailable.
    batch_sizes: batch sizes compiled at warm-up; other batches are chunked / padded to these.
    """

    dtype: torch.dtype | None = None
    fp32_layers: tuple[str, ...] = DEFAULT_FP32_LAYERS
    channels_last: bool = True
    fold_upsampling: bool = True
    compile: bool = True
    batch_sizes: tuple[int, ...] = (1,)


@dataclass
class FastSourceFeatures(SourceFeatures):
    """`SourceFeatures` plus what the fast graph caches per photo.

    warp_normed: (1|B, Cw, H, W) float32 `instance_norm(warp_feature)`, in the engine's memory layout.
    engine_token: identifies the `FastRenderer` that prepared it (features of another engine are re-prepared).
    """

    warp_normed: torch.Tensor | None = None
    engine_token: object = field(default=None, compare=False, repr=False)


def compile_available(device: torch.device) -> tuple[bool, str]:
    """Whether torch.compile (inductor) can run on `device` here, and if not, why."""
    if not hasattr(torch, "compile"):
        return False, "this torch has no torch.compile"
    try:
        import torch._dynamo as dynamo
    except ImportError as exc:
        return False, f"torch._dynamo cannot be imported ({exc})"
    if not dynamo.is_dynamo_supported():
        return False, "torch.compile does not support this Python version"
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return False, "no C++ compiler (g++) found for inductor's CPU kernels"
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False, "triton is not installed (inductor's GPU kernels need it)"
    return True, ""


# Which rows of a 3x3 kernel land on each row of the equivalent 4x4 stride-2 transposed kernel.
_FOLD = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))


def fold_upsample_conv(weight: torch.Tensor) -> torch.Tensor:
    """3x3 conv weight (Cout, Cin, 3, 3) -> transposed-conv weight (Cin, Cout, 4, 4) such that

    `conv_transpose2d(x, W4, b, stride=2, padding=1) == conv2d(upsample_nearest_x2(x), W, b, padding=1)`.
    Output row 2m sees input rows m-1 (tap 3) and m (tap 1); row 2m+1 sees m (tap 2) and m+1 (tap 0).
    """
    fold = torch.tensor(_FOLD, dtype=torch.float64, device=weight.device)
    folded = torch.einsum("ay,oiyx,bx->ioab", fold, weight.detach().double(), fold)
    return folded.to(weight.dtype).contiguous()


def _frozen(t: torch.Tensor, dtype: torch.dtype = torch.float32) -> nn.Parameter:
    return nn.Parameter(t.detach().to(dtype).clone(), requires_grad=False)


class _Conv(nn.Module):
    """One conv of the fast graph: weights re-laid-out once; the input is cast to the layer's type and
    the output keeps it (float32 accumulation inside oneDNN either way).

    kind: "conv" (F.conv2d) or "deconv" (F.conv_transpose2d).
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        dtype: torch.dtype,
        channels_last: bool,
        kind: str = "conv",
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
    ) -> None:
        super().__init__()
        w = weight.detach().to(dtype).clone()
        self.weight = nn.Parameter(
            w.contiguous(memory_format=torch.channels_last) if channels_last else w, False
        )
        self.bias = None if bias is None else _frozen(bias, dtype)
        self.dtype = dtype
        self.kind = kind
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    @classmethod
    def like(cls, conv: nn.Conv2d | nn.ConvTranspose2d, dtype: torch.dtype, channels_last: bool) -> _Conv:
        transposed = isinstance(conv, nn.ConvTranspose2d)
        return cls(
            conv.weight,
            conv.bias,
            dtype,
            channels_last,
            kind="deconv" if transposed else "conv",
            stride=conv.stride[0],
            padding=conv.padding[0],
            output_padding=conv.output_padding[0] if transposed else 0,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)
        if self.kind == "deconv":
            return F.conv_transpose2d(
                x, self.weight, self.bias, self.stride, self.padding, self.output_padding
            )
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, NEGATIVE_SLOPE)


def _var_mean(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Biased variance and mean of float32 `x` over `dims`, from one pass of sums.

    Cheaper than the Welford update inductor emits for `torch.var_mean` (its sums are cascade-summed).
    The data are first shifted by one of their own values (the shifted-data algorithm), so that
    E[d^2] - E[d]^2 does not cancel when the mean is large against the spread.
    """
    shift = x[(slice(None),) + tuple(slice(0, 1) if d in dims else slice(None) for d in range(1, x.ndim))]
    d = x - shift
    mean_d = d.mean(dim=dims, keepdim=True)
    var = ((d * d).mean(dim=dims, keepdim=True) - mean_d * mean_d).clamp_min(0)
    return var, mean_d + shift


def _instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel normalisation of (B, C, H, W) in float32 (any memory layout)."""
    x = x.float()
    var, mean = _var_mean(x, (2, 3))
    return (x - mean) * torch.rsqrt(var + EPS)


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm2d in float32: statistics over (C, H, W) per sample, per-channel affine (C, 1, 1)."""
    x = x.float()
    var, mean = _var_mean(x, (1, 2, 3))
    return (x - mean) * torch.rsqrt(var + EPS) * weight + bias


def _avg_pool2(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling of (B, C, H, W), H and W even, as a reduction over a (B, H/2, 2, W/2, 2, C) view
    (inductor then fuses the norm and activation before it into the pooling loop). Same layout as x."""
    b, c, h, w = x.shape
    layout = (
        torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    )
    pooled = x.permute(0, 2, 3, 1).reshape(b, h // 2, 2, w // 2, 2, c).mean(dim=(2, 4))
    return pooled.permute(0, 3, 1, 2).contiguous(memory_format=layout)


def _conv1d_as_matmul(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dilation: int
) -> torch.Tensor:
    """Valid (unpadded) conv1d of x (B, C, T) as one matmul over stacked shifted views (eager's dilated
    conv1d takes a slow per-channel path on CPU)."""
    out_nc, in_nc, k = weight.shape
    length = x.shape[2] - dilation * (k - 1)
    cols = torch.stack(
        [x[:, :, j * dilation : j * dilation + length] for j in range(k)], dim=2
    )  # (B, C, k, T')
    return (
        torch.matmul(weight.reshape(out_nc, in_nc * k), cols.reshape(x.shape[0], in_nc * k, length))
        + bias[:, None]
    )


class _Mapping(nn.Module):
    """The mapping network (descriptor (B, coeff_nc, T) -> z (B, D, 1)) in float32 matmuls."""

    def __init__(self, mapping: nn.Module) -> None:
        super().__init__()
        convs = [mapping.first[0]] + [enc[1] for enc in mapping.encoders]
        self.weights = nn.ParameterList(_frozen(c.weight) for c in convs)
        self.biases = nn.ParameterList(_frozen(c.bias) for c in convs)
        self.dilations = [c.dilation[0] for c in convs]

    def forward(self, descriptor: torch.Tensor) -> torch.Tensor:
        out = _conv1d_as_matmul(descriptor.float(), self.weights[0], self.biases[0], self.dilations[0])
        for w, b, d in zip(self.weights[1:], self.biases[1:], self.dilations[1:], strict=True):
            trim = d * (w.shape[2] - 1) // 2  # the dilated conv shortens the window by `trim` at each end
            out = _conv1d_as_matmul(_act(out), w, b, d) + out[:, :, trim:-trim]
        return out.mean(dim=2, keepdim=True)


class _Modulations(nn.Module):
    """The AdaIN modulations (1 + gamma(z), beta(z)) of a stage, float32, each (B, C, 1, 1).

    The shared hidden layers of all its AdaINs are stacked into one linear layer, and gamma/beta of each
    AdaIN into one, so that a stage pays a handful of small matmuls for all of them.
    """

    def __init__(self, adains: dict[str, nn.Module]) -> None:
        super().__init__()
        self.names = list(adains)
        mods = list(adains.values())
        self.hidden = mods[0].mlp_shared[0].weight.shape[0] if mods else 0
        self.shared_weight = _frozen(torch.cat([a.mlp_shared[0].weight for a in mods])) if mods else None
        self.shared_bias = _frozen(torch.cat([a.mlp_shared[0].bias for a in mods])) if mods else None
        self.heads_weight = nn.ParameterList(
            _frozen(torch.cat([a.mlp_gamma.weight, a.mlp_beta.weight])) for a in mods
        )
        self.heads_bias = nn.ParameterList(
            _frozen(torch.cat([a.mlp_gamma.bias, a.mlp_beta.bias])) for a in mods
        )

    def forward(self, z: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        batch = z.shape[0]
        hidden = F.relu(F.linear(z.reshape(batch, -1), self.shared_weight, self.shared_bias))
        hidden = hidden.view(batch, len(self.names), self.hidden)
        out = {}
        for k, (name, w, b) in enumerate(zip(self.names, self.heads_weight, self.heads_bias, strict=True)):
            gamma, beta = F.linear(hidden[:, k], w, b)[:, :, None, None].chunk(2, dim=1)
            out[name] = (1 + gamma, beta)
        return out


class _Stage(nn.Module):
    """Plumbing shared by the two stages: named convs (with their precision), layer-norm affines, AdaINs."""

    def __init__(self, options: FastOptions, low: torch.dtype) -> None:
        super().__init__()
        self._options, self._low = options, low
        self.convs = nn.ModuleDict()
        self.ln_weight = nn.ParameterDict()
        self.ln_bias = nn.ParameterDict()
        self._adains: dict[str, nn.Module] = {}

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "/")  # ModuleDict keys cannot contain dots

    def dtype_of(self, name: str) -> torch.dtype:
        keep = any(fnmatch.fnmatchcase(name, p) for p in self._options.fp32_layers)
        return torch.float32 if keep else self._low

    def add_conv(self, name: str, conv: nn.Module | _Conv) -> None:
        if not isinstance(conv, _Conv):
            conv = _Conv.like(conv, self.dtype_of(name), self._options.channels_last)
        self.convs[self._key(name)] = conv

    def add_layer_norm(self, name: str, norm: nn.Module) -> None:
        self.ln_weight[self._key(name)] = _frozen(norm.weight)
        self.ln_bias[self._key(name)] = _frozen(norm.bias)

    def add_adain(self, name: str, adain: nn.Module) -> None:
        self._adains[name] = adain

    def finish(self) -> None:
        self.modulations = _Modulations(self._adains)
        del self._adains

    def conv(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.convs[self._key(name)](x)

    def ln_act(self, name: str, x: torch.Tensor) -> torch.Tensor:
        key = self._key(name)
        return _act(_layer_norm(x, self.ln_weight[key], self.ln_bias[key]))

    def layer_dtypes(self) -> dict[str, torch.dtype]:
        return {k.replace("/", "."): c.dtype for k, c in self.convs.items()}


class _WarpStage(_Stage):
    """Mapping + warping network up to the flow field.

    forward(warp_normed (1|B, Cw, H, W), descriptor (B, coeff_nc, window)) -> (flow (B, 2, H/s, W/s)
    float32 in coarse-grid pixels, z (B, D, 1)).
    """

    def __init__(self, model: PIRenderer, options: FastOptions, low: torch.dtype) -> None:
        super().__init__(options, low)
        self.mapping = _Mapping(model.mapping_net)
        hg = model.warping_net.hourglass
        self.enc_blocks = len(hg.encoder.blocks)
        for i, block in enumerate(hg.encoder.blocks):
            for n in ("conv_0", "conv_1"):
                self.add_conv(f"warp.encoder.{i}.{n}", getattr(block, n))
            for n in ("norm_0", "norm_1"):
                self.add_adain(f"warp.encoder.{i}.{n}", getattr(block, n))
        self.levels = list(hg.decoder.levels)
        for i in self.levels:
            block = hg.decoder.blocks[str(i)]
            for n in ("conv_0", "conv_1", "conv_s"):
                self.add_conv(f"warp.decoder.{i}.{n}", getattr(block, n))
            for n in ("norm_0", "norm_1", "norm_s"):
                self.add_adain(f"warp.decoder.{i}.{n}", getattr(block, n))
        self.add_layer_norm("warp.flow", model.warping_net.flow_out[0])
        self.add_conv("warp.flow", model.warping_net.flow_out[2])
        self.finish()

    def forward(
        self, warp_normed: torch.Tensor, descriptor: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.mapping(descriptor)
        mods = self.modulations(z)

        def adain_act(name: str, x: torch.Tensor, normed: bool = False) -> torch.Tensor:
            scale, shift = mods[name]
            return _act((x if normed else _instance_norm(x)) * scale + shift)

        x = warp_normed  # instance_norm(input_layer(source)), cached per photo
        features = []
        for i in range(self.enc_blocks):
            x = self.conv(f"warp.encoder.{i}.conv_0", adain_act(f"warp.encoder.{i}.norm_0", x, normed=i == 0))
            x = self.conv(f"warp.encoder.{i}.conv_1", adain_act(f"warp.encoder.{i}.norm_1", x))
            features.append(x)
        out = features.pop()
        for i in self.levels:
            p = f"warp.decoder.{i}"
            shortcut = self.conv(f"{p}.conv_s", adain_act(f"{p}.norm_s", out))
            main = self.conv(f"{p}.conv_0", adain_act(f"{p}.norm_0", out))
            main = self.conv(f"{p}.conv_1", adain_act(f"{p}.norm_1", main))
            out = torch.cat([shortcut.float() + main.float(), features.pop().float()], dim=1)
        flow = self.conv("warp.flow", self.ln_act("warp.flow", out)).float()
        return flow.contiguous(), z


class _EditStage(_Stage):
    """Editing network on the warped image.

    forward(edit_feature (1|B, Ce, H, W) the source's share of the first conv, warped (B, 3, H, W) in
    [-1, 1], z (B, D, 1)) -> image (B, 3, H, W) float32 in [-1, 1].
    """

    def __init__(self, model: PIRenderer, options: FastOptions, low: torch.dtype) -> None:
        super().__init__(options, low)
        ed = model.editing_net
        first = ed.encoder_first.model[0]
        nc = model.config.image_nc
        self.add_conv(
            "edit.first",
            _Conv(
                first.weight[:, -nc:],
                None,
                self.dtype_of("edit.first"),
                options.channels_last,
                padding=first.padding[0],
            ),
        )
        self.add_layer_norm("edit.first", ed.encoder_first.model[1])
        self.layers = len(ed.encoder_down)
        for i, down in enumerate(ed.encoder_down):
            self.add_conv(f"edit.down.{i}", down.model[0])
            self.add_layer_norm(f"edit.down.{i}", down.model[1])
        self.quirk = model.config.editing.released_residual_quirk
        self.num_res = len(ed.decoder_res[0]) if self.layers else 0
        self.fold = options.fold_upsampling
        for i in range(self.layers):
            for j, res in enumerate(ed.decoder_res[i]):
                if not self.quirk:
                    self.add_conv(f"edit.res.{i}.{j}.conv1", res.conv1)
                    self.add_adain(f"edit.res.{i}.{j}.norm1", res.norm1)
                self.add_conv(f"edit.res.{i}.{j}.conv2", res.conv2)
                self.add_adain(f"edit.res.{i}.{j}.norm2", res.norm2)
            up, name = ed.decoder_up[i].model[0], f"edit.up.{i}"
            if self.fold:
                folded = fold_upsample_conv(up.weight)
                self.add_conv(
                    name, _Conv(folded, up.bias, self.dtype_of(name), options.channels_last, "deconv", 2, 1)
                )
            else:
                self.add_conv(name, up)
            self.add_layer_norm(name, ed.decoder_up[i].model[1])
            self.add_conv(f"edit.jump.{i}", ed.decoder_jump[i].model[0])
            self.add_layer_norm(f"edit.jump.{i}", ed.decoder_jump[i].model[1])
        self.add_conv("edit.final", ed.final[0])
        self.finish()

    def forward(self, edit_feature: torch.Tensor, warped: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        mods = self.modulations(z)
        x = self.ln_act("edit.first", edit_feature.float() + self.conv("edit.first", warped).float())
        features = [x]
        for i in range(self.layers):
            x = _avg_pool2(self.ln_act(f"edit.down.{i}", self.conv(f"edit.down.{i}", x)))
            features.append(x)
        out = features[-1]
        for i in reversed(range(self.layers)):
            for j in range(self.num_res):
                p = f"edit.res.{i}.{j}"
                inner = out
                if not self.quirk:
                    scale, shift = mods[f"{p}.norm1"]
                    inner = _act(_instance_norm(self.conv(f"{p}.conv1", out)) * scale + shift)
                scale, shift = mods[f"{p}.norm2"]
                out = out + _instance_norm(self.conv(f"{p}.conv2", inner)) * scale + shift
            if not self.fold:
                out = F.interpolate(out, scale_factor=2.0, mode="nearest")
            up = self.ln_act(f"edit.up.{i}", self.conv(f"edit.up.{i}", out))
            out = up + self.ln_act(f"edit.jump.{i}", self.conv(f"edit.jump.{i}", features[i]))
        return torch.tanh(self.conv("edit.final", out).float()).contiguous()


def _default_low_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        if getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)():
            return torch.bfloat16
        log.info("this CPU has no fast bfloat16 support: the fast path keeps float32 convs")
    return torch.float32


class FastRenderer(nn.Module):
    """The RenderEngine protocol (`config`, `prepare_source`, `render_prepared`, `parameters()`, `device`)
    on the fast graph.

    Args:
        model: the plain generator; its weights are copied (re-laid-out); it is left unchanged.
        options: see `FastOptions`.
        warmup: run (and compile) the graph now for every `options.batch_sizes`; otherwise the first
            calls pay for compilation.
    Attributes:
        compiled: whether the stages run compiled.
        compile_seconds: wall time of the warm-up runs that compiled (0 when not compiled).
    """

    def __init__(self, model: PIRenderer, options: FastOptions | None = None, warmup: bool = True) -> None:
        super().__init__()
        options = options or FastOptions()
        self.config: GeneratorConfig = model.config
        self.device = next(model.parameters()).device
        low = options.dtype or _default_low_dtype(self.device)
        self.options = replace(options, dtype=low)
        self.batch_sizes = tuple(sorted(set(options.batch_sizes)))
        if not self.batch_sizes or self.batch_sizes[0] < 1:
            raise InputError(f"batch_sizes must be positive integers, got {options.batch_sizes}")
        source_conv = model.warping_net.hourglass.encoder.input_layer
        first = model.editing_net.encoder_first.model[0]
        nc = self.config.image_nc
        # Source-only convs stay float32: they run once per photo.
        self.source_conv = _Conv.like(source_conv, torch.float32, False)
        self.edit_source_conv = _Conv(
            first.weight[:, :nc], first.bias, torch.float32, False, padding=first.padding[0]
        )
        self.warp_stage = _WarpStage(model, self.options, low)
        self.edit_stage = _EditStage(model, self.options, low)
        self.to(self.device).eval()
        self.requires_grad_(False)
        self.compiled = False
        self.compile_seconds = 0.0
        self._token = object()
        # One render at a time: each already uses every core, and the inductor config patch is process-wide.
        self._lock = threading.RLock()
        # (warp, edit) callables; a tuple, so that compiled wrappers are not registered as submodules.
        self._runners: tuple[Callable, Callable] = (self.warp_stage, self.edit_stage)
        if options.compile:
            ok, why = compile_available(self.device)
            if ok:
                self._runners = tuple(
                    torch.compile(stage, dynamic=False, fullgraph=True)
                    for stage in (self.warp_stage, self.edit_stage)
                )
                self.compiled = True
            else:
                log.warning("fast renderer: compilation unavailable (%s); running the graph eagerly", why)
        if warmup:
            self.warmup()

    def layer_names(self) -> list[str]:
        """Names of the conv layers (what `FastOptions.fp32_layers` patterns match)."""
        return list(self.layer_dtypes())

    def layer_dtypes(self) -> dict[str, torch.dtype]:
        return {**self.warp_stage.layer_dtypes(), **self.edit_stage.layer_dtypes()}

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return (
            x.contiguous(memory_format=torch.channels_last) if self.options.channels_last else x.contiguous()
        )

    # --- RenderEngine protocol -------------------------------------------------------------------

    @torch.inference_mode()
    def prepare_source(self, source: torch.Tensor) -> FastSourceFeatures:
        """Source-only work, once per photo. source: (B, 3, H, W) float in [-1, 1]."""
        check_source(source, self.config)
        source = source.to(self.device, torch.float32).contiguous()
        warp_feature = self.source_conv(source)
        return FastSourceFeatures(
            source=source,
            warp_feature=warp_feature,
            edit_feature=self._layout(self.edit_source_conv(source)),
            warp_normed=self._layout(_instance_norm(warp_feature)),
            engine_token=self._token,
        )

    def render_prepared(
        self, prepared: SourceFeatures, descriptor: torch.Tensor, *, warp_only: bool = False
    ) -> RenderOutput:
        """Render targets `descriptor` (B, C, window) for a prepared source (batch 1 or B).

        Features prepared by another engine (e.g. the plain `PIRenderer`) are re-prepared from their source.
        Returns float32 NCHW tensors like the plain path.
        """
        check_descriptor(descriptor, self.config)
        if not isinstance(prepared, FastSourceFeatures) or prepared.engine_token is not self._token:
            prepared = self.prepare_source(prepared.source)
        batch = descriptor.shape[0]
        if prepared.source.shape[0] not in (1, batch):
            raise InputError(
                f"source batch ({prepared.source.shape[0]}) and descriptor batch ({batch}) differ"
            )
        with self._lock, torch.inference_mode():
            # A fresh inference tensor: graph inputs then always have the same dispatch keys (dynamo guards
            # on them; a normal tensor after an inference one would trigger a recompilation).
            descriptor = descriptor.to(self.device, torch.float32).clone(
                memory_format=torch.contiguous_format
            )
            outs = [self._run_chunk(prepared, descriptor, a, b, warp_only) for a, b in self._chunks(batch)]
        flow, warped, fake = (
            torch.cat([o[k] for o in outs]) if len(outs) > 1 else outs[0][k] for k in range(3)
        )
        return RenderOutput(flow, warped, None if warp_only else fake)

    def forward(
        self, source: torch.Tensor, descriptor: torch.Tensor, *, warp_only: bool = False
    ) -> RenderOutput:
        return self.render_prepared(self.prepare_source(source), descriptor, warp_only=warp_only)

    # --- batching, compilation --------------------------------------------------------------------

    def _chunks(self, batch: int) -> Iterator[tuple[int, int]]:
        """Runs of at most the largest compiled batch size (only compiled graphs need fixed sizes)."""
        step = self.batch_sizes[-1] if self.compiled else batch
        for start in range(0, batch, step):
            yield start, min(start + step, batch)

    def _run_chunk(
        self, prepared: FastSourceFeatures, descriptor: torch.Tensor, start: int, stop: int, warp_only: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        n = stop - start
        size = next((s for s in self.batch_sizes if s >= n), n) if self.compiled else n

        def rows(t: torch.Tensor) -> torch.Tensor:
            t = t if t.shape[0] == 1 else t[start:stop]
            if size != n and t.shape[0] != 1:  # pad up to a compiled size rather than compile a new one
                t = torch.cat([t, t[-1:].expand(size - n, *t.shape[1:])])
            return t

        source, warp_normed, edit_feature = (
            rows(prepared.source),
            rows(prepared.warp_normed),
            rows(prepared.edit_feature),
        )
        desc = rows(descriptor)
        try:
            with self._compile_context():
                warp_runner, edit_runner = self._runners
                flow, z = warp_runner(warp_normed, desc)
                warped = warp_image(source.expand(size, -1, -1, -1), flow_to_deformation(flow))
                fake = None if warp_only else edit_runner(edit_feature, warped, z)
        except (
            Exception
        ) as exc:  # dynamo/inductor raise many types (no compiler, unsupported op, limits, ...)
            if not self.compiled:
                raise
            self._stop_compiling(exc)
            return self._run_chunk(prepared, descriptor, start, stop, warp_only)
        return flow[:n], warped[:n], None if fake is None else fake[:n]

    def _stop_compiling(self, exc: Exception) -> None:
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        log.warning(
            "fast renderer: compilation failed (%s: %s); running the graph eagerly",
            type(exc).__name__,
            first_line,
        )
        self.compiled = False
        self._runners = (self.warp_stage, self.edit_stage)

    def _compile_context(self) -> contextlib.AbstractContextManager:
        if not self.compiled:
            return contextlib.nullcontext()
        from torch._dynamo import config as dynamo_config
        from torch._inductor import config as inductor_config

        stack = contextlib.ExitStack()
        stack.enter_context(inductor_config.patch(INDUCTOR_CONFIG))
        # Each engine x batch size is one compiled entry of the same code objects; allow a few engines.
        stack.enter_context(dynamo_config.patch(recompile_limit=max(dynamo_config.recompile_limit, 64)))
        return stack

    def warmup(self, batch_sizes: Sequence[int] | None = None) -> float:
        """Run (and compile) the graph on dummy inputs for `batch_sizes`; returns the seconds it took.

        A failed compilation is logged and the engine falls back to the eager graph.
        """
        sizes = tuple(batch_sizes or self.batch_sizes)
        cfg = self.config
        g = torch.Generator().manual_seed(0)
        source = (torch.rand(1, cfg.image_nc, cfg.image_size, cfg.image_size, generator=g) * 2 - 1).to(
            self.device
        )
        descriptors = [torch.randn(b, cfg.coeff_nc, cfg.window, generator=g).to(self.device) for b in sizes]
        if self.compiled:
            self.batch_sizes = tuple(sorted(set(self.batch_sizes) | set(sizes)))
        start = time.perf_counter()
        prepared = self.prepare_source(source)
        for desc in descriptors:
            self.render_prepared(prepared, desc)
        elapsed = time.perf_counter() - start
        if self.compiled:
            self.compile_seconds += elapsed
        log.info(
            "fast renderer ready: %s, %s convs, %s, warm-up %.1f s for batch sizes %s",
            "compiled" if self.compiled else "eager",
            str(self.options.dtype).replace("torch.", ""),
            "channels-last" if self.options.channels_last else "NCHW",
            elapsed,
            sizes,
        )
        return elapsed


def optimize_for_inference(
    model: PIRenderer, options: FastOptions | None = None, warmup: bool = True
) -> FastRenderer:
    """Build the fast path for `model` (see `FastRenderer`)."""
    return FastRenderer(model, options, warmup=warmup)


_CACHE: weakref.WeakKeyDictionary[PIRenderer, dict[FastOptions, FastRenderer]] = weakref.WeakKeyDictionary()


def cached_fast_renderer(model: PIRenderer, options: FastOptions | None = None) -> FastRenderer:
    """One `FastRenderer` per (model, options) in this process: compile once, reuse for every session."""
    options = options or FastOptions()
    per_model = _CACHE.setdefault(model, {})
    if options not in per_model:
        per_model[options] = FastRenderer(model, options)
    return per_model[options]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between two image batches in [-1, 1], on the [0, 1] scale (as for uint8 images)."""
    mse = float((((a.float() - b.float()) / 2) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)
