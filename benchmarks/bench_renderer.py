"""Renderer speed: latency of the plain float32 renderer against the fast path, on the same weights and inputs.

Variants, timed interleaved in one process (other jobs share the CPU: ratios are what to compare):

- a0 "original-equivalent": our eager float32 generator plus the residual blocks' conv1/norm1 branch that
  the released code computes and discards (a benchmark-only forward pre-hook; the outputs are unchanged);
- a  our eager float32 generator (`PIRenderer.forward`);
- b  the fast path (`pirender.fast.FastRenderer.render_prepared` on a cached source).

Reported: per-frame latency, ratios b/a0 and b/a, PSNR of b against a, frames per second for batches of
video frames, compilation time; optionally an ablation of each step and a per-layer error budget.
Before each timing round the benchmark waits (up to --quiet-wait s) for the CPUs to be idle; with
`--threads 1 --clock cpu` the figures are process CPU time, nearly insensitive to other jobs.
Run: `python benchmarks/bench_renderer.py [--config released|small] [--batch 1 4 8] [--json OUT]`.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from pirender.checkpoint import load_generator
from pirender.editing import ResBlock
from pirender.fast import FastOptions, FastRenderer, psnr
from pirender.generator import PIRenderer, RenderOutput
from pirender.testing import conformance_case, conformance_model

HELP = "benchmark the plain float32 renderer against the fast path (latency, ratio, PSNR, fps)"
log = logging.getLogger(__name__)

#: Conv groups whose precision is probed one at a time by --sensitivity.
LAYER_GROUPS: dict[str, tuple[str, ...]] = {
    "warp encoder": ("warp.encoder.*",),
    "warp decoder": ("warp.decoder.*",),
    "warp flow head": ("warp.flow",),
    "edit first conv": ("edit.first",),
    "edit encoder": ("edit.down.*",),
    "edit residual": ("edit.res.*",),
    "edit up": ("edit.up.*",),
    "edit jump": ("edit.jump.*",),
    "edit final conv": ("edit.final",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", choices=("released", "small"), default="released", help="generator config"
    )
    parser.add_argument(
        "--weights",
        help="checkpoint or model directory (default: conformance weights filled by the seeded rule)",
    )
    parser.add_argument(
        "--key-table", help="key table for the conformance weights (default: found automatically)"
    )
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[1, 4, 8], help="batch sizes for frames per second"
    )
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--no-compile", action="store_true", help="fast path without torch.compile")
    parser.add_argument("--skip-a0", action="store_true", help="do not time the original-equivalent baseline")
    parser.add_argument(
        "--native-batches",
        action="store_true",
        help="compile every --batch size (default: batch 1, run in chunks)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="also time a second build (warm inductor caches)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall clock, or process CPU time (with --threads 1: insensitive to other jobs on the machine)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each timing round wait up to this many seconds for the CPUs to be 85%% idle (0: no wait)",
    )
    parser.add_argument(
        "--ablation", action="store_true", help="also time each step of the fast path on its own"
    )
    parser.add_argument(
        "--sensitivity", action="store_true", help="PSNR with one conv group at a time in bf16"
    )
    parser.add_argument(
        "--json", default=None, help="where to write the results (default bench_renderer_<config>.json)"
    )


def original_equivalent(model: PIRenderer) -> PIRenderer:
    """A copy of `model` that also runs the released residual blocks' discarded conv1 -> AdaIN1 -> act branch.

    This is what the original code pays per frame; the outputs are identical to `model`'s.
    """
    twin = copy.deepcopy(model).eval()
    if not twin.config.editing.released_residual_quirk:
        return twin

    def discarded_branch(block: ResBlock, args: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, z = args
        block.act(block.norm1(block.conv1(x), z))  # computed and thrown away, like the released code

    for module in twin.editing_net.modules():
        if isinstance(module, ResBlock):
            module.register_forward_pre_hook(discarded_branch)
    return twin


def _descriptors(base: torch.Tensor, batch: int) -> torch.Tensor:
    """`batch` descriptor windows near `base` (1, C, W): a deterministic stand-in for video frames."""
    g = torch.Generator().manual_seed(batch)
    scale = base.std(dim=2, keepdim=True).clamp_min(1e-3)
    noise = torch.randn(batch, *base.shape[1:], generator=g) * 0.1 * scale
    noise[0] = 0
    return base + noise


def _cpu_idle_fraction(interval: float = 0.5) -> float | None:
    """Fraction of all CPUs idle over `interval` seconds (from /proc/stat); None where unavailable."""

    def read() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return fields[3] + fields[4], sum(fields[:8])  # idle + iowait, total (without guest time)

    try:
        idle0, total0 = read()
        time.sleep(interval)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return (idle1 - idle0) / max(total1 - total0, 1)


@dataclass
class _Clock:
    """How rounds are timed: wall clock or process CPU time, after waiting for the machine to be quiet.

    quiet_wait: wait up to this many seconds before each round for `quiet_idle` of the CPUs to be idle
    (other engineers' jobs share the machine); the idle fraction seen is recorded.
    """

    cpu: bool = False
    quiet_wait: float = 0.0
    quiet_idle: float = 0.85
    idle_seen: list[float] = field(default_factory=list)

    def now(self) -> float:
        return time.process_time() if self.cpu else time.perf_counter()

    def wait_quiet(self) -> None:
        if self.quiet_wait <= 0:
            return
        deadline = time.monotonic() + self.quiet_wait
        idle = _cpu_idle_fraction()
        while idle is not None and idle < self.quiet_idle and time.monotonic() < deadline:
            idle = _cpu_idle_fraction(2.0)
        if idle is not None:
            self.idle_seen.append(round(idle, 3))


def _time(fn: Callable[[], object], clock: _Clock | None = None) -> float:
    clock = clock or _Clock()
    start = clock.now()
    fn()
    return clock.now() - start


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int, clock: _Clock) -> dict[str, list[float]]:
    """Time every function once per round, rotating the order, `repeats` rounds (after one warm round)."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:
        fns[n]()
    for r in range(repeats):
        clock.wait_quiet()
        for n in names[r % len(names) :] + names[: r % len(names)]:
            times[n].append(_time(fns[n], clock))
    return times


def _ratio(slow: list[float], fast: list[float]) -> float:
    """Median of the per-round speed ratios (robust to load changing between rounds)."""
    return statistics.median(s / f for s, f in zip(slow, fast, strict=True))


@dataclass
class _Row:
    name: str
    batch: int
    times: list[float]
    psnr_fake: float | None = None
    psnr_warp: float | None = None
    notes: dict[str, float | str] = field(default_factory=dict)

    @property
    def frame_ms(self) -> float:
        return 1e3 * statistics.median(self.times) / self.batch

    @property
    def fps(self) -> float:
        return self.batch / statistics.median(self.times)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "batch": self.batch,
            "times_s": self.times,
            "median_ms_per_frame": self.frame_ms,
            "min_ms_per_frame": 1e3 * min(self.times) / self.batch,
            "fps": self.fps,
            "psnr_fake_vs_a": self.psnr_fake,
            "psnr_warp_vs_a": self.psnr_warp,
            **self.notes,
        }


def _machine() -> dict:
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line
                break
        model = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if "model name" in ln
            ),
            "",
        )
    except OSError:
        model = platform.processor()
    return {
        "cpu": model,
        "avx512_bf16": " avx512_bf16" in flags,
        "amx_bf16": " amx_bf16" in flags,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "mkldnn_bf16": bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _compare(out: RenderOutput, ref: RenderOutput) -> tuple[float, float]:
    return psnr(out.fake_image, ref.fake_image), psnr(out.warp_image, ref.warp_image)


def run_benchmark(args: argparse.Namespace) -> dict:
    """Run every measurement; returns the JSON-able results."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_generator(args.weights) if args.weights else conformance_model(args.config, args.key_table)
    model.eval()
    source, base = conformance_case(args.config)
    if args.weights:
        size = model.config.image_size
        source = torch.nn.functional.interpolate(source, size=(size, size), mode="bilinear", antialias=True)
    batches = sorted(set(args.batch) | {1})
    results: dict = {
        "machine": _machine(),
        "config": args.config if not args.weights else "from weights",
        "weights": args.weights or f"conformance ({args.config}, seeded rule)",
        "repeats": args.repeats,
    }
    log.info("machine: %s", results["machine"])
    clock = _Clock(cpu=args.clock == "cpu", quiet_wait=args.quiet_wait)
    results["clock"] = "process CPU time" if clock.cpu else "wall clock"

    # The fast path, compiled for batch 1 (other batches run as batch-1 chunks) unless --native-batches.
    start = time.perf_counter()
    fast = FastRenderer(model, FastOptions(compile=not args.no_compile), warmup=False)
    build_s = time.perf_counter() - start
    warmup_s = {1: fast.warmup([1])}
    if args.native_batches:
        warmup_s.update({b: fast.warmup([b]) for b in batches if b != 1})
    results["fast"] = {
        "compiled": fast.compiled,
        "dtype": str(fast.options.dtype),
        "fp32_layers": list(fast.options.fp32_layers),
        "compiled_batch_sizes": list(fast.batch_sizes),
        "build_s": build_s,
        "warmup_s_per_batch": warmup_s,
    }
    if args.rebuild and fast.compiled:
        # A second engine in the same process: dynamo traces again, inductor's caches are warm.
        again = FastRenderer(model, FastOptions(), warmup=False)
        results["fast"]["rebuild_warmup_s"] = again.warmup([1])
        del again
    plain = model
    a0 = None if args.skip_a0 else original_equivalent(model)

    rows: list[_Row] = []
    with torch.inference_mode():
        prepared = fast.prepare_source(source)
        results["fast"]["prepare_source_ms"] = 1e3 * min(
            _time(lambda: fast.prepare_source(source)) for _ in range(3)
        )
        for b in batches:
            desc = _descriptors(base, b)
            src = source.expand(b, -1, -1, -1)
            ref = plain(source, desc)
            out = fast.render_prepared(prepared, desc)
            fns: dict[str, Callable[[], object]] = {}
            if a0 is not None:
                diff = float((a0(source, desc).fake_image - ref.fake_image).abs().max())
                fns["a0"] = lambda src=src, desc=desc: a0(src, desc)
            fns["a"] = lambda src=src, desc=desc: plain(src, desc)
            fns["b"] = lambda desc=desc: fast.render_prepared(prepared, desc)
            log.info("timing batch %d (%d rounds)", b, args.repeats)
            times = _interleaved(fns, args.repeats, clock)
            pf, pw = _compare(out, ref)
            row_b = _Row("b", b, times["b"], pf, pw, {"ratio_vs_a": _ratio(times["a"], times["b"])})
            if a0 is not None:
                rows.append(_Row("a0", b, times["a0"], notes={"max_abs_diff_vs_a": diff}))
                row_b.notes["ratio_vs_a0"] = _ratio(times["a0"], times["b"])
            rows += [_Row("a", b, times["a"]), row_b]
        if args.ablation:
            results["ablation"] = _ablation(model, source, base, args.repeats, clock)
        if args.sensitivity:
            results["sensitivity"] = _sensitivity(model, source, base)
    results["rows"] = [r.as_dict() for r in rows]
    results["idle_fraction_before_rounds"] = clock.idle_seen
    results["machine"]["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return results


def _ablation(
    model: PIRenderer, source: torch.Tensor, base: torch.Tensor, repeats: int, clock: _Clock
) -> list[dict]:
    """Each step on its own at batch 1, timed interleaved against the plain path (a)."""
    desc = _descriptors(base, 1)
    ref = model(source, desc)
    graph = FastOptions(dtype=torch.float32, channels_last=False, fold_upsampling=False, compile=False)
    fold = replace(graph, fold_upsampling=True)
    steps: dict[str, FastOptions | None] = {
        "autocast bf16 of the plain network (the easy switch)": None,
        "1 graph, fp32 eager (mapping as matmuls, IN cached)": graph,
        "2 + folded upsampling (exact)": fold,
        "3 + channels-last": replace(fold, channels_last=True),
        "4 + bf16 convs (eager)": replace(fold, channels_last=True, dtype=None),
        "5 compiled fp32 (fold, channels-last)": replace(fold, channels_last=True, compile=True),
        "6 compiled bf16 (fold, channels-last) = b": FastOptions(),
        "b with flow head + output conv in fp32": FastOptions(fp32_layers=("warp.flow", "edit.final")),
        "b without folded upsampling": FastOptions(fold_upsampling=False),
    }
    fns: dict[str, Callable[[], object]] = {"a": lambda: model(source, desc)}
    meta: dict[str, dict] = {}
    for name, options in steps.items():
        if options is None:

            def run_autocast() -> RenderOutput:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(source, desc)

            fns[name], meta[name] = run_autocast, {}
        else:
            engine = FastRenderer(model, options, warmup=False)
            meta[name] = {"warmup_s": engine.warmup([1]), "compiled": engine.compiled}
            prep = engine.prepare_source(source)
            fns[name] = lambda engine=engine, prep=prep: engine.render_prepared(prep, desc)
        meta[name]["psnr_fake"], meta[name]["psnr_warp"] = _compare(fns[name](), ref)
        log.info("ablation step ready: %s %s", name, meta[name])
    times = _interleaved(fns, repeats, clock)
    return [
        {
            "step": name,
            "median_ms": 1e3 * statistics.median(times[name]),
            "ratio_vs_a": _ratio(times["a"], times[name]),
            **meta.get(name, {}),
        }
        for name in fns
    ]


def _sensitivity(model: PIRenderer, source: torch.Tensor, base: torch.Tensor) -> list[dict]:
    """PSNR against a with only one conv group in bf16 (eager graph), then all but one group."""
    desc = _descriptors(base, 1)
    ref = model(source, desc)
    out_rows = []
    names = FastRenderer(model, FastOptions(compile=False), warmup=False).layer_names()
    for name, patterns in LAYER_GROUPS.items():
        rest = tuple(n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in patterns))
        alone = FastRenderer(model, FastOptions(compile=False, fp32_layers=rest), warmup=False)
        all_but = FastRenderer(model, FastOptions(compile=False, fp32_layers=patterns), warmup=False)
        pf1, pw1 = _compare(alone(source, desc), ref)
        pf2, pw2 = _compare(all_but(source, desc), ref)
        out_rows.append(
            {
                "group": name,
                "only_this_bf16_psnr_fake": pf1,
                "only_this_bf16_psnr_warp": pw1,
                "all_but_this_bf16_psnr_fake": pf2,
                "all_but_this_bf16_psnr_warp": pw2,
            }
        )
    return out_rows


def format_table(results: dict) -> str:
    """Human-readable summary of `run_benchmark` results."""
    m, fast = results["machine"], results["fast"]
    warmups = ", ".join(f"batch {b}: {s:.1f} s" for b, s in fast["warmup_s_per_batch"].items())
    rebuild = (
        f"; a second build in the same process: {fast['rebuild_warmup_s']:.1f} s"
        if "rebuild_warmup_s" in fast
        else ""
    )
    idle = results.get("idle_fraction_before_rounds") or []
    lines = [
        f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, avx512_bf16={m['avx512_bf16']} "
        f"amx_bf16={m['amx_bf16']}; load average {m['load_average']} -> {m.get('load_average_end')}",
        f"timing: {results['clock']}, {results['repeats']} interleaved rounds"
        + (f", CPU idle before rounds {min(idle):.0%}-{max(idle):.0%}" if idle else ""),
        f"weights: {results['weights']}",
        f"fast path: compiled={fast['compiled']}, convs in {fast['dtype'].replace('torch.', '')}, fp32 layers "
        f"{fast['fp32_layers'] or 'none'}, compiled batch sizes {fast['compiled_batch_sizes']}",
        f"warm-up incl. compilation: {warmups}{rebuild}; prepare_source {fast['prepare_source_ms']:.1f} ms per photo",
        "",
        f"{'variant':8s} {'batch':>5s} {'ms/frame':>9s} {'(min)':>8s} {'fps':>7s} {'b vs a0':>8s} {'b vs a':>8s} "
        f"{'PSNR dB':>8s}",
    ]
    for r in results["rows"]:
        ra0 = f"{r['ratio_vs_a0']:.2f}x" if "ratio_vs_a0" in r else ""
        ra = f"{r['ratio_vs_a']:.2f}x" if "ratio_vs_a" in r else ""
        p = f"{r['psnr_fake_vs_a']:.1f}" if r["psnr_fake_vs_a"] is not None else ""
        lines.append(
            f"{r['name']:8s} {r['batch']:5d} {r['median_ms_per_frame']:9.1f} {r['min_ms_per_frame']:8.1f} "
            f"{r['fps']:7.2f} {ra0:>8s} {ra:>8s} {p:>8s}"
        )
    if results.get("ablation"):
        lines += [
            "",
            f"ablation, batch 1: {'step':50s} {'ms':>8s} {'vs a':>7s} {'PSNR':>6s} {'warm-up s':>9s}",
        ]
        for step in results["ablation"]:
            p = f"{step['psnr_fake']:.1f}" if "psnr_fake" in step else ""
            w = f"{step['warmup_s']:.1f}" if "warmup_s" in step else ""
            lines.append(
                f"  {step['step']:66s} {step['median_ms']:8.1f} {step['ratio_vs_a']:6.2f}x {p:>6s} {w:>9s}"
            )
    if results.get("sensitivity"):
        lines += [
            "",
            "sensitivity: PSNR dB (image/warp) vs a with only this conv group in bf16 | all but this group",
        ]
        for s in results["sensitivity"]:
            lines.append(
                f"  {s['group']:18s} {s['only_this_bf16_psnr_fake']:6.1f}/{s['only_this_bf16_psnr_warp']:6.1f} | "
                f"{s['all_but_this_bf16_psnr_fake']:6.1f}/{s['all_but_this_bf16_psnr_warp']:6.1f}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results = run_benchmark(args)
    path = Path(args.json or f"bench_renderer_{args.config}.json")
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    sys.stdout.write(format_table(results) + "\n")
    log.info("wrote %s", path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (benchmarks/bench_renderer.py)."""
    parser = argparse.ArgumentParser(prog="bench_renderer", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
