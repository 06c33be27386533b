"""The drag preview, a base commit's code against this tree's, in one run (interleaved frame by frame).

    python benchmarks/bench_fast_preview.py [--base main] [--repeats 30] [--photo PATH ...] [--out results.json]

The base commit is exported with `git archive` and each code tree is served by its own worker
process (the same script with `--serve`, run inside that tree); the workers take turns, one
frame each, so machine noise hits both and only one computes at a time. A frame is what a drag
costs: `engine.render_frame` of the next target of `bench_fullres._drag` and `place_frame` into
the 768 px quick canvas (`photo_canvas(state, 768, quick=True)`). Scenes: the astronaut at 12 MP
of `bench_fullres.drag_scene` and each `--photo`. Prints one JSON record: per scene the median
ms of both and the ratio of the medians (new / old).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import summary_ms, write_record  # noqa: E402

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared/data/images/KwaiVGI__LivePortrait__s2.jpg"


def serve(photo: str, repeats: int) -> None:
    """Worker: prepare the scene, then time one frame per line read ("i"), answering its ms."""
    from benchmarks.bench_fullres import drag_scene
    from pipeline import photo_canvas
    from pipeline.photo import place_frame

    scene = drag_scene(Path(photo) if photo else None, repeats)
    canvas = photo_canvas(scene.state, 768, quick=True)
    for i in range(3):  # warm-up
        place_frame(canvas, scene.engine.render_frame(scene.prepared, scene.targets[i]))
    print("ready", flush=True)
    for line in sys.stdin:
        i = int(line)
        start = time.perf_counter()
        place_frame(canvas, scene.engine.render_frame(scene.prepared, scene.targets[i]))
        print(f"{(time.perf_counter() - start) * 1000.0:.4f}", flush=True)


def _worker(code: Path, photo: Path | None, repeats: int) -> subprocess.Popen:
    command = [sys.executable, str(code / "benchmarks/bench_fast_preview.py"), "--serve", str(photo or "")]
    worker = subprocess.Popen(
        [*command, "--repeats", str(repeats)],
        cwd=code,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    while worker.stdout.readline().strip() != "ready":
        if worker.poll() is not None:
            raise RuntimeError(f"the benchmark worker in {code} stopped before it was ready")
    return worker


def _frame_ms(worker: subprocess.Popen, i: int) -> float:
    worker.stdin.write(f"{i}\n")
    worker.stdin.flush()
    return float(worker.stdout.readline())


def compare(base_code: Path, photo: Path | None, repeats: int, rounds: int) -> dict[str, object]:
    """Both code trees on one scene, frame by frame in turns (which goes first alternates)."""
    workers = {"old": _worker(base_code, photo, repeats), "new": _worker(REPO, photo, repeats)}
    times: dict[str, list[float]] = {"old": [], "new": []}
    try:
        for r in range(rounds):
            for i in range(repeats):
                order = ("old", "new") if (r + i) % 2 == 0 else ("new", "old")
                for name in order:
                    times[name].append(_frame_ms(workers[name], i))
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    record: dict[str, object] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
    record["ratio_new_over_old"] = round(statistics.median(times["new"]) / statistics.median(times["old"]), 3)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the commit to compare against")
    parser.add_argument("--repeats", type=int, default=30, help="drag targets per scene")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the targets")
    parser.add_argument("--photo", type=Path, nargs="*", default=[DEFAULT_PHOTO])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.repeats)
        return
    record: dict[str, object] = {"base": args.base, "repeats": args.repeats, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as code:
        archive = subprocess.run(
            ["git", "archive", args.base], cwd=REPO, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        # The base may predate this script: the worker side is taken from this tree.
        (Path(code) / "benchmarks/bench_fast_preview.py").write_text(Path(__file__).read_text())
        for photo in [None, *args.photo]:
            name = "astronaut_12mp" if photo is None else photo.stem
            record[name] = compare(Path(code), photo, args.repeats, args.rounds)
            print(json.dumps({name: record[name]}), file=sys.stderr, flush=True)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
