"""The PIRender generator re-expressed for fast inference (an engineering addition, not in the paper).

`WarpGraph` (mapping + warping network up to the flow) and `EditGraph` (editing network) compute
what `PIRenderer.render_prepared` computes, with:

1. Exact rewrites: the editing decoder's nearest x2 upsampling + 3x3 conv becomes one 4x4 stride-2
   transposed conv on the low-resolution input (2.25x fewer FLOPs for those layers); the mapping
   network's dilated conv1d runs as matmuls; the released residual blocks' dead branch is skipped
   (as in the plain path).
2. Mixed precision: the convolutions run in bfloat16 (oneDNN; AVX512-BF16 or AMX) on channels-last
   activations, with float32 accumulation; every instance/layer norm and AdaIN statistic, the AdaIN
   modulations, the mapping network, the residual stream, grid sampling and tanh stay float32.
   `FastOptions.fp32_layers` keeps chosen convs in float32 (none by default). On CUDA the
   low-precision type is float16.

Norms, modulations and activations are written as plain tensor expressions, so that inductor
fuses each norm + modulation + activation (+ pooling) into one pass (`pirender.fast` compiles them).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pirender.blocks import NEGATIVE_SLOPE
from pirender.generator import PIRenderer

__all__ = [
    "DEFAULT_FP32_LAYERS",
    "EditGraph",
    "FastConv",
    "FastOptions",
    "WarpGraph",
    "fold_upsample_conv",
    "instance_norm",
]

EPS = 1e-5

#: Conv layers kept in float32 by default (fnmatch patterns over `FastRenderer.layer_names()`). None: on the
#: conformance weights every conv group in bf16 costs a few dB at most (the error is spread over all of
#: them, see `benchmarks/bench_renderer.py --sensitivity`), and the flow head + output conv in float32 bought +0.5 dB
#: for ~8 % more time. ("warp.flow", "edit.final") restores them.
DEFAULT_FP32_LAYERS: tuple[str, ...] = ()


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


class FastConv(nn.Module):
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
    def like(cls, conv: nn.Conv2d | nn.ConvTranspose2d, dtype: torch.dtype, channels_last: bool) -> FastConv:
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


def instance_norm(x: torch.Tensor) -> torch.Tensor:
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

    def add_conv(self, name: str, conv: nn.Module | FastConv) -> None:
        if not isinstance(conv, FastConv):
            conv = FastConv.like(conv, self.dtype_of(name), self._options.channels_last)
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


class WarpGraph(_Stage):
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
            return _act((x if normed else instance_norm(x)) * scale + shift)

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


class EditGraph(_Stage):
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
            FastConv(
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
                    name,
                    FastConv(folded, up.bias, self.dtype_of(name), options.channels_last, "deconv", 2, 1),
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
                    inner = _act(instance_norm(self.conv(f"{p}.conv1", out)) * scale + shift)
                scale, shift = mods[f"{p}.norm2"]
                out = out + instance_norm(self.conv(f"{p}.conv2", inner)) * scale + shift
            if not self.fold:
                out = F.interpolate(out, scale_factor=2.0, mode="nearest")
            up = self.ln_act(f"edit.up.{i}", self.conv(f"edit.up.{i}", out))
            out = up + self.ln_act(f"edit.jump.{i}", self.conv(f"edit.jump.{i}", features[i]))
        return torch.tanh(self.conv("edit.final", out).float()).contiguous()
