"""What the benchmark scripts share: timing a call, summarising the times, printing the JSON record."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["timed_ms", "interleaved_ms", "paired_toggle_ms", "print_paired", "summary_ms", "write_record"]


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


def paired_toggle_ms(
    toggle: Callable[[bool], object], call: Callable[[], object], calls: int, *, warm: int = 2
) -> list[tuple[float, float, float]]:
    """A feature off and on taking turns call by call (`toggle(on)` before each `call()`, the order
    alternating), after `warm` pairs that warm caches. Returns, for the wall clock and then the
    thread's CPU time (robust to other processes on the same cores), (median ms off, median ms on,
    median of the paired differences on - off: robust to a shared machine's load changing)."""
    clocks = (time.perf_counter, time.thread_time)
    times: list[dict[bool, list[float]]] = [{False: [], True: []} for _ in clocks]
    for i in range(calls + warm):
        for on in (False, True) if i % 2 else (True, False):
            toggle(on)
            start = [clock() for clock in clocks]
            call()
            if i >= warm:
                for k, clock in enumerate(clocks):
                    times[k][on].append(1e3 * (clock() - start[k]))
    results = []
    for kept in times:
        differences = [b - a for a, b in zip(kept[False], kept[True], strict=True)]
        results.append(
            (statistics.median(kept[False]), statistics.median(kept[True]), statistics.median(differences))
        )
    return results


def print_paired(name: str, results: list[tuple[float, float, float]]) -> None:
    """One line per clock of `paired_toggle_ms`'s results."""
    for clock, (off, on, difference) in zip(("wall", "cpu"), results, strict=True):
        sys.stdout.write(
            f"{name[:34]:34s} {clock:4s} off {off:6.2f} ms  on {on:6.2f} ms  paired {difference:+.2f} ms\n"
        )


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
