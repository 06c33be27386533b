"""The drag preview, a base commit's code against this tree's, in one run (interleaved frame by frame).

    python benchmarks/bench_fast_preview.py [--base main] [--repeats 30] [--photo PATH ...] [--out results.json]
    python benchmarks/bench_fast_preview.py --check [--base main]

The base commit is exported with `git archive` and each code tree is served by its own worker
process (the same script with `--serve`, run inside that tree); the workers take turns, one
frame each, so machine noise hits both and only one computes at a time. A frame is what a drag
costs: `engine.render_frame` of the next target of `bench_fullres._drag` and `place_frame` into
the 768 px quick canvas (`photo_canvas(state, 768, quick=True)`). Scenes: the astronaut at 12 MP
of `bench_fullres.drag_scene` and each `--photo`. Prints one JSON record: per scene the median
ms of both and the ratio of the medians (new / old).

`--check`: instead of timing, both trees render `CHECK_PHOTOS` x `CHECK_EDITS` as a drag preview
(768 px quick canvas) and as a full-resolution edit, and the record gives the images that differ
and the largest absolute difference (docs/FAST_PREVIEW.md: it must be 0).
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

IMAGES = Path(__file__).resolve().parents[2] / "shared/data/images"
DEFAULT_PHOTO = IMAGES / "KwaiVGI__LivePortrait__s2.jpg"
CHECK_PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "KwaiVGI__LivePortrait__s2.jpg",
    "serengil__deepface__img1.jpg",
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",
    "dchen236__FairFace__race_Black.jpg",
    "deepinsight__insightface__7242.jpg",
)
CHECK_EDITS: tuple[dict[str, float], ...] = (
    {"yaw": 30.0},
    {"yaw": -30.0},
    {"pitch": -15.0},
    {"roll": 15.0},
    {"open_mouth": 1.0},
    {"close_eyes": 1.0},
    {"smile": 1.0},
    {"yaw": 20.0, "pitch": -8.0, "smile": 0.6, "open_mouth": 0.5, "close_eyes": 0.4},  # a drag target
)


def render_checks(out: Path, images: Path) -> None:
    """Worker: each check photo x edit as a drag preview and a full-resolution edit, into one .npz."""
    import numpy as np

    from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo
    from pipeline.photo import place_frame, target_coefficients

    registry = EngineRegistry()
    rendered: dict[str, np.ndarray] = {}
    for name in CHECK_PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        prepared = state.engine_state(engine)
        for k, values in enumerate(CHECK_EDITS):
            request = EditRequest(values)
            frame = engine.render_frame(prepared, target_coefficients(state, request, registry=registry))
            rendered[f"{name}|{k}|preview"] = place_frame(photo_canvas(state, 768, quick=True), frame)
            rendered[f"{name}|{k}|full"] = edit(state, request, registry=registry).full_image
    np.savez_compressed(out, **rendered)


def check(base_code: Path) -> dict[str, object]:
    """Both trees' check images, compared pixel by pixel."""
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        for label, code in (("old", base_code), ("new", REPO)):
            command = [sys.executable, str(code / "benchmarks/bench_fast_preview.py")]
            out = str(Path(folder) / f"{label}.npz")
            env = {**os.environ, "PYTHONPATH": str(code)}
            subprocess.run(
                [*command, "--render-checks", out, "--images", str(IMAGES)],
                cwd=code,
                env=env,
                check=True,
                capture_output=True,
            )
        old, new = (np.load(Path(folder) / f"{label}.npz") for label in ("old", "new"))
        differ = {}
        for key in old.files:
            a, b = old[key].astype(np.int16), new[key].astype(np.int16)
            if a.shape != b.shape or np.any(a != b):
                differ[key] = -1 if a.shape != b.shape else int(np.abs(a - b).max())
        return {
            "images": len(old.files),
            "differ": differ,
            "max_abs_difference": max(differ.values(), default=0),
        }


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
    parser.add_argument("--check", action="store_true", help="compare the images, not the times")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--render-checks", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--images", type=Path, default=IMAGES, help="the shared photos' folder")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.repeats)
        return
    if args.render_checks is not None:
        render_checks(args.render_checks, args.images)
        return
    record: dict[str, object] = {"base": args.base, "repeats": args.repeats, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as code:
        archive = subprocess.run(
            ["git", "archive", args.base], cwd=REPO, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        # The base may predate this script: the worker side is taken from this tree.
        (Path(code) / "benchmarks/bench_fast_preview.py").write_text(Path(__file__).read_text())
        if args.check:
            write_record({"base": args.base, **check(Path(code))}, args.out)
            return
        for photo in [None, *args.photo]:
            name = "astronaut_12mp" if photo is None else photo.stem
            record[name] = compare(Path(code), photo, args.repeats, args.rounds)
            print(json.dumps({name: record[name]}), file=sys.stderr, flush=True)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
