"""Renderer speed (issue: fast inference path): plain float32 forward vs `pirender.fast.FastRenderer`.

    python benchmarks/bench_renderer.py [--config released|small] [--weights PATH] [--batch 1 4 8]
        [--repeats 5] [--threads N] [--no-compile] [--skip-a0] [--ablation] [--sensitivity] [--json OUT]

Times, interleaved in one run on the same weights and inputs: (a0) eager float32 that also computes
the released residual blocks' discarded branch, as the original code does; (a) our eager float32
forward; (b) the fast path. Prints per-frame latency, the ratios of (b) against (a0) and (a), the PSNR
of (b) against (a), frames per second per batch size and the compile time, and writes them as JSON.
Default weights: the conformance weights (seeded filling rule of shared/conformance/README.md).
The same code runs as `pirender bench`.
"""

from __future__ import annotations

import sys

from pirender.commands.bench import main

if __name__ == "__main__":
    sys.exit(main())
