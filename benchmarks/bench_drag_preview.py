"""Cost of one slider-drag preview event, old path against new, as ratios measured in one run.

    python benchmarks/bench_drag_preview.py [--events 60] [--out results.json]

1. The handler's work per event, in this process, the two ways taking turns on the same photo
   (a 12-megapixel portrait and the 320-px photo of the load test):
   old: the edit pasted into the display-size canvas (longest side `display_max_side`, 1024 px)
   and written as a JPEG of quality 90; new: pasted into the drag canvas (`preview_max_side`,
   640 px) and written at `DRAG_JPEG_QUALITY`. On the 320-px photo both canvases are the photo.
2. Gradio's queue summary (`Queue.compute_analytics_summary`), which Gradio recomputes after
   every event by default from its last 10 000 events and the app now recomputes every
   `webui.app.ANALYTICS_EVERY` events: its cost per event after 1 000 and 10 000 events.
3. One event through a real server (`python app.py`, its own process) and `gradio_client`, events
   sent one after another by one session: wall time per event, the server's CPU per event, and
   the client's CPU per event, with gradio_client as it comes (a new TLS context for each of its
   HTTP calls), with one shared context, and with that context and replies handled as they arrive
   (`load_test._BrowserPace`; the last two are what `benchmarks/load_test.py` now does).

Prints one JSON record. Uses the astronaut portrait bundled with scikit-image.
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.load_test import Server, _BrowserPace, _cpu_s, _photos  # noqa: E402
from benchmarks.timing import interleaved_ms, summary_ms, timed_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, photo_canvas, prepare_photo  # noqa: E402
from webui.app import ANALYTICS_EVERY  # noqa: E402
from webui.common import save_jpeg  # noqa: E402
from webui.config import ServerConfig  # noqa: E402
from webui.edit_handlers import DRAG_JPEG_QUALITY  # noqa: E402


def _request(i: int) -> EditRequest:
    return EditRequest(
        {"yaw": 20.0 * np.sin(i / 7.0), "smile": float(0.5 + 0.4 * np.sin(i / 5.0))}, engine="preview"
    )


def handler_paths(photo: np.ndarray, events: int, folder: Path) -> dict[str, Any]:
    """Per-event handler time of the old and the new drag preview on one photo (interleaved)."""
    cfg = ServerConfig()
    registry = EngineRegistry(fast=False)
    state = prepare_photo(photo, registry=registry)
    display = photo_canvas(state, cfg.display_max_side)
    drag = photo_canvas(state, cfg.drag_max_side)

    def old(i: int) -> None:
        result = edit(state, _request(i), registry=registry, canvas=display)
        save_jpeg(result.full_image, folder / "old.jpg", 90)

    def new(i: int) -> None:
        result = edit(state, _request(i), registry=registry, canvas=drag)
        save_jpeg(result.full_image, folder / "new.jpg", DRAG_JPEG_QUALITY)

    for i in range(5):
        old(i), new(i)
    times = interleaved_ms({"old": old, "new": new}, events)
    old_ms, new_ms = statistics.median(times["old"]), statistics.median(times["new"])
    h, w = photo.shape[:2]
    return {
        "photo": f"{w}x{h}",
        "old_canvas": "x".join(map(str, display.image.shape[1::-1])),
        "new_canvas": "x".join(map(str, drag.image.shape[1::-1])),
        "old": summary_ms(times["old"]),
        "new": summary_ms(times["new"]),
        "old_kb": round((folder / "old.jpg").stat().st_size / 1024, 1),
        "new_kb": round((folder / "new.jpg").stat().st_size / 1024, 1),
        "new_over_old_median": round(new_ms / old_ms, 3),
    }


def queue_summary(recorded: int, repeats: int = 10) -> dict[str, Any]:
    """ms of one `compute_analytics_summary` over `recorded` finished events (as Gradio records them)."""
    from gradio.queueing import Queue

    records = [
        {
            "time": time.time(),
            "status": "success",
            "process_time": 0.05,
            "function": f,
            "session_hash": f"s{i % 8}",
        }
        for i, f in enumerate(("preview", "preview", "preview", "save_png") * (recorded // 4))
    ]
    summary = Queue.compute_analytics_summary

    class _Recorder:  # the attributes the method reads
        ANAYLTICS_CACHE_FREQUENCY, event_count_at_last_cache, events_recorded = 1, 0, 0
        events_recorded_per_fn: dict[str, int] = {}
        cached_event_analytics_summary: dict[str, Any] = {}
        _get_df = staticmethod(Queue._get_df)

    recorder = _Recorder()

    def once() -> None:
        recorder.events_recorded += 1
        summary(recorder, records)

    times = timed_ms(once, repeats)
    every = ANALYTICS_EVERY
    return {
        "events_recorded": recorded,
        "gradio_default_ms_per_event": round(statistics.median(times), 2),
        f"every_{every}_events_ms_per_event": round(statistics.median(times) / every, 3),
    }


def through_server(photos: dict[str, Path], events: int, work: Path) -> dict[str, Any]:
    """Wall, server CPU and client CPU per preview event, one session sending events back to back."""
    import gradio_client.utils
    from gradio_client import Client, handle_file

    temp_root = work / "temp-root"
    temp_root.mkdir()
    server = Server(temp_root, work)
    out: dict[str, Any] = {}
    try:
        server.wait_ready()
        for label, photo in photos.items():
            for tls in ("per_call_default", "shared_context", "shared_context_browser_paced"):
                kwargs = {"ssl_verify": ssl.create_default_context()} if tls != "per_call_default" else {}
                gradio_client.utils.time = _BrowserPace() if tls.endswith("paced") else time
                client = Client(server.url, verbose=False, download_files=str(work / "dl"), **kwargs)
                client.predict(handle_file(str(photo)), api_name="/analyse")
                for i in range(5):
                    client.predict(yaw=float(i), api_name="/preview")
                walls = []
                server0, client0 = _cpu_s(server.proc.pid), os.times()
                for i in range(events):
                    t0 = time.perf_counter()
                    client.predict(yaw=20.0 * np.sin(i / 7.0), smile=0.5, api_name="/preview")
                    walls.append(1000.0 * (time.perf_counter() - t0))
                client1 = os.times()
                out[f"{label}/{tls}"] = {
                    "wall_per_event": summary_ms(walls, minimum=False),
                    "server_cpu_ms_per_event": round(1000 * (_cpu_s(server.proc.pid) - server0) / events, 1),
                    "client_cpu_ms_per_event": round(
                        1000 * (client1.user + client1.system - client0.user - client0.system) / events, 1
                    ),
                }
                client.close()
        gradio_client.utils.time = time
    finally:
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60, help="preview events per measurement")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()
    big = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    record: dict[str, Any] = {"load_average_1min_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="pirender-drag-") as tmp:
        work = Path(tmp)
        ((small_path, _),) = _photos(work, 1)
        small = np.asarray(Image.open(small_path).convert("RGB"))
        record["handler_12mp"] = handler_paths(big, args.events, work)
        record["handler_320px"] = handler_paths(small, args.events, work)
        record["queue_summary"] = [queue_summary(n) for n in (1000, 10000)]
        big_path = work / "big.jpg"
        Image.fromarray(big).save(big_path, quality=92)
        record["server"] = through_server({"320px": small_path, "12mp": big_path}, args.events, work)
    record["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
