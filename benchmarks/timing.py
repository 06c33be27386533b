"""What the benchmark scripts share: timing a call, summarising the times, printing the JSON record."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["timed_ms", "interleaved_ms", "summary_ms", "write_record"]


def timed_ms(fn: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds of each of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def interleaved_ms(ways: dict[str, Callable[[int], object]], repeats: int) -> dict[str, list[float]]:
    """Milliseconds per call of each way, the ways taking turns (call i of each, then i + 1), so that
    noise of the machine hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for i in range(repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn(i)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def summary_ms(times: list[float], *, minimum: bool = True) -> dict[str, float]:
    """Median and 90th percentile (and, with `minimum`, the fastest) of times in ms, to 0.01 ms."""
    ordered = sorted(times)
    out = {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
    }
    if minimum:
        out["min_ms"] = round(ordered[0], 2)
    return out


def write_record(record: dict[str, Any], out: Path | None, *, indent: int = 2) -> None:
    """Print the JSON record on stdout and, when `out` is given, write it there too."""
    text = json.dumps(record, indent=indent)
    sys.stdout.write(text + "\n")
    if out is not None:
        out.write_text(text + "\n")
