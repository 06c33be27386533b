"""Drag-preview latency under load, a base commit's server against this tree's, in one run.

    python benchmarks/bench_preview_load.py --base COMMIT [--sessions 8] [--seconds 20] [--rounds 2]

Two servers run side by side (`python app.py`, loopback, no neural weights): the base commit's
(exported from git) and this tree's. They take turns: in each turn one server gets `--sessions`
simulated browser sessions dragging sliders at `--rate` events/s (with a PNG save every 3 s,
exactly as `benchmarks/load_test.py` drives them) while one more session runs reenactment jobs back
to back, for `--seconds`; then the other server gets the same. The idle server costs nothing
meanwhile, so both see the same machine, noise included. The load test itself (faults, restarts,
leaks, disk) stays `benchmarks/load_test.py`.

Printed (JSON): per server the preview p50 / p95 over all sessions, the worst session's p95, the
previews and reenactments done, the server's CPU seconds (its child processes included); and the
ratios new / base.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import benchmarks.load_test as load_test  # noqa: E402
from benchmarks.bench_drag_preview import _server_of  # noqa: E402
from benchmarks.timing import write_record  # noqa: E402


def _reenact_loop(user: load_test.Session, photo: Path, clip: Path, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        user.call("/reenact", *load_test.reenact_inputs(photo, clip, engine="preview"))


def _turn(server: Any, users: list[load_test.Session], job: tuple, seconds: float, rate: float) -> dict:
    """One turn of load on `server`: the sessions drag, one more session reenacts meanwhile."""
    for s in users:
        s.timings.clear()
    job_user, photo, clip = job
    job_user.timings.clear()
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=load_test._drag, args=(s, stop_at, rate, 3.0)) for s in users]
    threads.append(threading.Thread(target=_reenact_loop, args=(job_user, photo, clip, stop_at)))
    cpu0 = load_test._cpu_s(server.proc.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 300)
    previews = [t for s in users for t in s.timings.get("/preview", [])]
    return {
        "previews": previews,
        "session_p95_ms": [load_test._stats(s.timings.get("/preview", [])).get("p95_ms") for s in users],
        "reenactments": len(job_user.timings.get("/reenact", [])),
        "server_cpu_s": load_test._cpu_s(server.proc.pid) - cpu0,
        "errors": [e for s in (*users, job_user) for e in s.errors],
    }


def compare(commit: str, sessions: int, seconds: float, rate: float, rounds: int, work: Path) -> dict:
    export = work / "base"
    export.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True)
    photos = load_test._photos(work, sessions + 1)
    results: dict[str, list[dict]] = {"base": [], "new": []}
    with (
        _server_of(export, work) as old,
        _server_of(REPO, work) as new,
        load_test.browser_paced_client_messages(),
    ):
        servers = {"base": old, "new": new}
        people: dict[str, tuple[list[load_test.Session], tuple]] = {}
        for way, server in servers.items():
            users = [load_test.Session(i, p, c) for i, (p, c) in enumerate(photos)]
            for s in users:
                s.client = load_test._client(server.url, download_files=str(work / f"dl-{way}-{s.index}"))
                s.call("/analyse", load_test.handle_file(str(s.photo)))
            made = users[0].call("/make_clip", seconds=1.0, yaw=20.0, open_mouth=0.6)
            clip = load_test._loop_clip(str(made), work / f"driving-{way}.mp4", 3.0)
            people[way] = (users[:sessions], (users[sessions], photos[sessions][0], clip))
        time.sleep(10.0)  # both servers fully started (a preview worker takes a few seconds)
        for _ in range(rounds):
            for way, server in servers.items():
                users, job = people[way]
                results[way].append(_turn(server, users, job, seconds, rate))
        for users, job in people.values():
            for s in (*users, job[0]):
                s.client.close()
    record: dict[str, Any] = {}
    for way, turns in results.items():
        stats = load_test._stats([t for turn in turns for t in turn["previews"]])
        record[way] = {
            "preview": stats,
            "worst_session_p95_ms": max(p or 0.0 for turn in turns for p in turn["session_p95_ms"]),
            "reenactments": sum(turn["reenactments"] for turn in turns),
            "server_cpu_s": round(sum(turn["server_cpu_s"] for turn in turns), 1),
            "errors": [e for turn in turns for e in turn["errors"]][:10],
        }
    for key in ("p50_ms", "p95_ms"):
        record[f"preview_{key}_new_over_base"] = round(
            record["new"]["preview"][key] / record["base"]["preview"][key], 3
        )
    record["previews_new_over_base"] = round(
        record["new"]["preview"]["n"] / record["base"]["preview"]["n"], 3
    )
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git commit of the base server")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one turn")
    parser.add_argument("--rate", type=float, default=10.0, help="preview events per second and session")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each server")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()
    record: dict[str, Any] = {"base": args.base, "load_average_1min_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="pirender-preview-load-") as tmp:
        record.update(compare(args.base, args.sessions, args.seconds, args.rate, args.rounds, Path(tmp)))
    record["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
