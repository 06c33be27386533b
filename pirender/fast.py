"""Fast inference path for the PIRender generator (paper section 3; an engineering addition, not in the paper).

`FastRenderer` computes the same function as `PIRenderer.render_prepared` on the re-expressed
graph of `pirender.fast_graph` (exact rewrites, bfloat16 convs with float32 norms), and:

1. `torch.compile` (inductor, `freezing`, static shapes) of the two stages (warping network up to the
   flow; editing network) fuses each norm + modulation + activation (+ pooling) into one pass and
   pre-packs the conv weights. The grid sampling between them runs eagerly (inductor's decomposition of
   it is several times slower on CPU). Compiled batch sizes are fixed; other batches are chunked and
   padded to them. When compilation is unavailable or fails, the same graph runs eagerly (logged).
2. Source-only work (the two first convs and the instance norm of the warping input) is done once per
   photo by `prepare_source`; the AdaIN modulations are a few small matmuls on z inside the graph.

Compilation takes a minute or more on two cores: build one `FastRenderer` per process and reuse it
(`cached_fast_renderer(model)` does that).
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from core.errors import InputError
from pirender.config import GeneratorConfig
from pirender.fast_graph import (
    DEFAULT_FP32_LAYERS,
    EditGraph,
    FastConv,
    FastOptions,
    WarpGraph,
    fold_upsample_conv,
    instance_norm,
)
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

#: Inductor settings used while compiling: freezing (constant weights, oneDNN pre-packing) and a higher
#: re-read threshold, so that norm + activation feeding a 2x2 pooling are recomputed in the pooling loop
#: instead of being written out in float32 and read back (about 20 ms per frame at 256x256).
INDUCTOR_CONFIG = {"freezing": True, "realize_reads_threshold": 16}


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
        self.source_conv = FastConv.like(source_conv, torch.float32, False)
        self.edit_source_conv = FastConv(
            first.weight[:, :nc], first.bias, torch.float32, False, padding=first.padding[0]
        )
        self.warp_stage = WarpGraph(model, self.options, low)
        self.edit_stage = EditGraph(model, self.options, low)
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
            warp_normed=self._layout(instance_norm(warp_feature)),
            engine_token=self._token,
        )

    def render_prepared(self, prepared: SourceFeatures, descriptor: torch.Tensor) -> RenderOutput:
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
            outs = [self._run_chunk(prepared, descriptor, a, b) for a, b in self._chunks(batch)]
        flow, warped, fake = (
            torch.cat([o[k] for o in outs]) if len(outs) > 1 else outs[0][k] for k in range(3)
        )
        return RenderOutput(flow, warped, fake)

    def forward(self, source: torch.Tensor, descriptor: torch.Tensor) -> RenderOutput:
        return self.render_prepared(self.prepare_source(source), descriptor)

    # --- batching, compilation --------------------------------------------------------------------

    def _chunks(self, batch: int) -> Iterator[tuple[int, int]]:
        """Runs of at most the largest compiled batch size (only compiled graphs need fixed sizes)."""
        step = self.batch_sizes[-1] if self.compiled else batch
        for start in range(0, batch, step):
            yield start, min(start + step, batch)

    def _run_chunk(
        self, prepared: FastSourceFeatures, descriptor: torch.Tensor, start: int, stop: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
                fake = edit_runner(edit_feature, warped, z)
        except (
            Exception
        ) as exc:  # dynamo/inductor raise many types (no compiler, unsupported op, limits, ...)
            if not self.compiled:
                raise
            self._stop_compiling(exc)
            return self._run_chunk(prepared, descriptor, start, stop)
        return flow[:n], warped[:n], fake[:n]

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
