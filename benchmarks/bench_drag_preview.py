"""Cost of one slider-drag preview event, the base commit's drag path against this tree's, in one run.

    python benchmarks/bench_drag_preview.py [--base main] [--events 60] [--photos PATH ...] [--out results.json]

The base drag path is read from git (`--base`, default: the merge base with main) and run beside
this tree's:

1. In this process, per event, the two ways taking turns on the same photo (real photos given
   with `--photos`, by default a 12-megapixel portrait made from the astronaut and the 320-px photo
   of the load test): target coefficients -> `GeometricRenderer.render_frame` -> paste into the
   drag canvas (`preview_max_side`) -> JPEG at `DRAG_JPEG_QUALITY`. Each stage is timed; the
   base way runs the base commit's `pipeline/geometric.py`, `pipeline/face_mesh.py` and
   `reconstruction/crop.warp_photo` (the rest of the tree is shared). `identical` says whether the
   two ways gave the same pixels for every event (the drag path).
   The release (display-size canvas) and the saved PNG (full resolution) are compared in the
   same way: `release_identical` must be true.
2. Through real servers (`python app.py` in their own processes, the base commit's exported to a
   temporary folder, and this tree's), one session sending drag events back to back as the load
   test's clients do: wall time per event and the server's CPU per event (Gradio's queue handling
   included), the two servers taking turns in blocks of `--events` events.

Prints one JSON record; the machine's load average at start and end says how much others used it.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import benchmarks.load_test as load_test  # noqa: E402
from benchmarks.timing import summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, photo_canvas, prepare_photo  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402
from webui.common import save_jpeg  # noqa: E402
from webui.config import ServerConfig  # noqa: E402
from webui.edit_handlers import DRAG_JPEG_QUALITY  # noqa: E402

STAGES = ("coefficients", "render_frame", "paste", "jpeg")


def _request(i: int) -> EditRequest:
    return EditRequest(
        {"yaw": 20.0 * np.sin(i / 7.0), "smile": float(0.5 + 0.4 * np.sin(i / 5.0))}, engine="preview"
    )


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def _module_from(source: str, name: str, folder: Path) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def base_modules(commit: str, folder: Path) -> tuple[ModuleType, ModuleType]:
    """The base commit's geometric renderer module (using its own face_mesh) and crop module."""
    mesh = _module_from(_git("show", f"{commit}:pipeline/face_mesh.py"), "_base_face_mesh", folder)
    geometric = _git("show", f"{commit}:pipeline/geometric.py").replace(
        "from pipeline.face_mesh import", "from _base_face_mesh import"
    )
    assert mesh is sys.modules["_base_face_mesh"]
    return (
        _module_from(geometric, "_base_geometric", folder),
        _module_from(_git("show", f"{commit}:reconstruction/crop.py"), "_base_crop", folder),
    )


def handler_paths(photo: np.ndarray, events: int, folder: Path, base: tuple[ModuleType, ModuleType]) -> dict:
    """Per-event time of each stage of the base and this tree's drag preview on one photo (interleaved)."""
    base_geometric, base_crop = base
    cfg = ServerConfig()
    registry = EngineRegistry(fast=False)
    state = prepare_photo(photo, registry=registry)
    new_engine = registry.geometric(state.backend)
    new_state, renderer = state.engine_state(new_engine), new_engine.renderer
    old_engine = base_geometric.GeometricRenderer(renderer.projector.model, renderer.settings)
    old_engine._detector = renderer._detector  # the iris detector is shared: not what is compared
    old_state = old_engine.prepare(state.crop, state.coefficients)
    drag = photo_canvas(state, cfg.drag_max_side, quick=True)

    def old_paste(canvas: Canvas, frame: Any) -> np.ndarray:
        overlay = {"overlay": frame.overlay, "overlay_alpha": frame.overlay_alpha}
        if "hidden" in inspect.signature(base_crop.warp_photo).parameters:  # as place_frame passes it
            overlay["hidden"] = frame.hidden
        return base_crop.warp_photo(canvas.image, frame.flow, canvas.transform, **overlay)

    ways: dict[str, tuple[Any, Any, Callable[[Canvas, Any], np.ndarray]]] = {
        "base": (old_engine, old_state, old_paste),
        "new": (new_engine, new_state, place_frame),
    }

    def run(way: str, i: int, canvas: Canvas, times: dict[str, list[float]] | None) -> np.ndarray:
        engine, engine_state, paste = ways[way]
        t = [time.perf_counter()]
        coeffs = target_coefficients(state, _request(i), registry=registry)
        t.append(time.perf_counter())
        frame = engine.render_frame(engine_state, coeffs)
        t.append(time.perf_counter())
        image = paste(canvas, frame)
        t.append(time.perf_counter())
        save_jpeg(image, folder / f"{way}.jpg", DRAG_JPEG_QUALITY)
        t.append(time.perf_counter())
        if times is not None:
            for stage, t0, t1 in zip(STAGES, t, t[1:], strict=False):
                times[f"{way}/{stage}"].append(1000.0 * (t1 - t0))
            times[f"{way}/total"].append(1000.0 * (t[-1] - t[0]))
        return image

    times: dict[str, list[float]] = {f"{w}/{s}": [] for w in ways for s in (*STAGES, "total")}
    identical = True
    for i in range(3):
        run("base", i, drag, None), run("new", i, drag, None)
    for i in range(events):
        identical &= bool(np.array_equal(run("base", i, drag, times), run("new", i, drag, times)))
    display, full = photo_canvas(state, cfg.display_max_side), Canvas(state.image, state.crop_transform)
    release_identical = all(
        np.array_equal(run("base", i, canvas, None), run("new", i, canvas, None))
        for i in (0, 9, 17)
        for canvas in (display, full)
    )
    h, w = photo.shape[:2]
    medians = {k: round(statistics.median(v), 2) for k, v in times.items()}
    return {
        "photo": f"{w}x{h}",
        "drag_canvas": "x".join(map(str, drag.image.shape[1::-1])),
        "median_ms": medians,
        "base_total": summary_ms(times["base/total"]),
        "new_total": summary_ms(times["new/total"]),
        "new_over_base_median": round(medians["new/total"] / medians["base/total"], 3),
        "identical": identical,
        "release_identical": release_identical,
    }


@contextmanager
def _server_of(repo: Path, work: Path) -> Iterator[load_test.Server]:
    """A load-test server started from `repo` (a checkout of this project)."""
    temp_root = work / f"temp-{repo.name}"
    temp_root.mkdir()
    original, load_test.REPO = load_test.REPO, repo  # the Server starts `REPO/app.py` with cwd REPO
    try:
        server = load_test.Server(temp_root, work)
    finally:
        load_test.REPO = original
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def through_servers(commit: str, photo: Path, events: int, rounds: int, work: Path) -> dict[str, Any]:
    """Wall and server CPU per drag event of the base commit's server and this tree's, taking turns."""
    export = work / "base"
    export.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True)
    walls: dict[str, list[float]] = {"base": [], "new": []}
    cpu: dict[str, list[float]] = {"base": [], "new": []}
    with (
        _server_of(export, work) as old,
        _server_of(REPO, work) as new,
        load_test.browser_paced_client_messages(),
    ):
        clients = {}
        for way, server in (("base", old), ("new", new)):
            clients[way] = (server, load_test._client(server.url, download_files=str(work / f"dl-{way}")))
            clients[way][1].predict(load_test.handle_file(str(photo)), api_name="/analyse")
            for i in range(5):
                clients[way][1].predict(yaw=float(i), api_name="/preview")
        for _ in range(rounds):
            for way, (server, client) in clients.items():
                cpu0 = load_test._cpu_s(server.proc.pid)
                for i in range(events):
                    t0 = time.perf_counter()
                    client.predict(yaw=20.0 * np.sin(i / 7.0), smile=0.5, api_name="/preview")
                    walls[way].append(1000.0 * (time.perf_counter() - t0))
                cpu[way].append(1000.0 * (load_test._cpu_s(server.proc.pid) - cpu0) / events)
        for _, client in clients.values():
            client.close()
    base_cpu, new_cpu = statistics.median(cpu["base"]), statistics.median(cpu["new"])
    return {
        "photo": photo.name,
        "base": {"wall_per_event": summary_ms(walls["base"]), "server_cpu_ms_per_event": round(base_cpu, 1)},
        "new": {"wall_per_event": summary_ms(walls["new"]), "server_cpu_ms_per_event": round(new_cpu, 1)},
        "server_cpu_new_over_base": round(new_cpu / base_cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", default=None, help="git commit of the base drag path (default: merge base with main)"
    )
    parser.add_argument("--events", type=int, default=60, help="drag events per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each server in the server comparison")
    parser.add_argument(
        "--photos", type=Path, nargs="*", default=None, help="photos for the in-process comparison"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the comparison through real servers")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()
    commit = args.base or _git("merge-base", "HEAD", "main").strip()
    record: dict[str, Any] = {"base": commit[:12], "load_average_1min_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="pirender-drag-") as tmp:
        work = Path(tmp)
        base = base_modules(commit, work)
        ((small_path, _),) = load_test._photos(work, 1)
        if args.photos:
            photos = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in args.photos}
        else:
            big = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
            photos = {"astronaut_12mp": big}
        photos["load_test_320px"] = np.asarray(Image.open(small_path).convert("RGB"))
        record["handler"] = {
            name: handler_paths(photo, args.events, work, base) for name, photo in photos.items()
        }
        if not args.no_server:
            record["server"] = through_servers(commit, small_path, args.events, args.rounds, work)
    record["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
