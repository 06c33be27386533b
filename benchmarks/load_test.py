"""Load and fault test of the web app: simulated browser sessions against a real server on 127.0.0.1.

The server runs as its own process (`python app.py`, loopback only, a fresh temp root, no neural
weights). Then, bounded in count and time:

1. N sessions (gradio_client, one thread each in this process) each analyse their own photo (the
   example, tinted per session), drag sliders at a human rate (`--rate` preview events per second
   at most, sent like the page sends them with trigger_mode "always_last": the next value when the
   previous one has returned, so a slow server gets fewer events, never a backlog) and save a PNG
   every few seconds (a save missed while the server was slow is not made up for); one session
   runs a reenactment and one an audio animation meanwhile. The clients are made to cost what a
   browser costs the server's machine, not more: one TLS context for all their HTTP calls (see
   `_TLS`) and replies handled as they arrive (see `_BrowserPace`).
2. A client is killed (SIGKILL) in the middle of a long reenactment: the time until the job slot
   serves another session's job is the orphan's release time; 10 s later none of its files remain.
3. All sessions close; then the server gets SIGTERM: its run folder must be gone. A second server
   is started and SIGKILLed, and a third start must remove what the killed one left.

Reported: p50 / p95 per endpoint and the preview p95 of each session, errors, cross-session leaks
(each returned picture is compared with every session's own photo: it must be closest to its
own), the CPU seconds the server and the simulated clients used while the sessions dragged (they
share the machine) and the machine's load average, the server's RSS and PSS (its child processes included), files and bytes under the
temp root before / after, the orphan's slot release time. `--short` is the CI version
(tests/webui/test_load.py): 3 sessions for a few seconds.

Usage:
    python benchmarks/load_test.py --short
    python benchmarks/load_test.py --sessions 8 --seconds 120 --json runs/load.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image
from skimage import data

REPO = Path(__file__).resolve().parents[1]
#: Tints that keep the sessions' photos apart (RGB multipliers).
TINTS = [(1.0, 0.55, 0.55), (0.55, 1.0, 0.55), (0.55, 0.55, 1.0), (1.0, 1.0, 0.5), (0.5, 1.0, 1.0),
         (1.0, 0.5, 1.0), (0.7, 0.7, 0.7), (1.0, 0.8, 0.6), (0.6, 0.8, 1.0), (0.8, 1.0, 0.7)]  # fmt: skip
ORPHAN_SCRIPT = """
import sys, time
from gradio_client import Client, handle_file
from gradio_client.utils import Status
client = Client(sys.argv[1], verbose=False, download_files=False)
job = client.submit(handle_file(sys.argv[2]), handle_file(sys.argv[3]), "relative", "all", 0.0, "preview",
                    api_name="/reenact")
while job.status().code not in (Status.PROCESSING, Status.PROGRESS):
    time.sleep(0.02)
print("started", flush=True)
time.sleep(600)
"""


#: The reenact and audio tabs' fields after their files, in the order `/reenact` and `/animate` take
#: them, with the tabs' defaults.
REENACT_FIELDS = dict(mode="relative", parts="expression_pose", smoothing=1.0, engine="auto")
ANIMATE_FIELDS = dict(seed=0, temperature=0.7, lips=1.0, expression=1.0, head=1.0, still=False,
                      blinks_per_minute=15.0, variants=1, engine="auto")  # fmt: skip


def _endpoint_inputs(files: tuple[str | Path, ...], defaults: dict, fields: dict) -> tuple[Any, ...]:
    """The files (uploaded), then `defaults` in their order with `fields` in place of those it names."""
    unknown = sorted(fields.keys() - defaults.keys())
    if unknown:
        raise TypeError(f"not a field of the endpoint: {unknown} (it takes {list(defaults)})")
    return (*(handle_file(str(f)) for f in files), *{**defaults, **fields}.values())


def reenact_inputs(photo: str | Path, video: str | Path, **fields: Any) -> tuple[Any, ...]:
    """The positional inputs of `/reenact`: the photo, the driving video, then `REENACT_FIELDS`
    (any of them changed by name in `fields`)."""
    return _endpoint_inputs((photo, video), REENACT_FIELDS, fields)


def animate_inputs(photo: str | Path, audio: str | Path, **fields: Any) -> tuple[Any, ...]:
    """The positional inputs of `/animate`: the photo, the recording, then `ANIMATE_FIELDS` (any of
    them changed by name in `fields`)."""
    return _endpoint_inputs((photo, audio), ANIMATE_FIELDS, fields)


#: One TLS context for all clients. gradio_client passes `ssl_verify` to every httpx call it makes
#: (about three per request: the join, the message stream, the file download); with the default
#: `True` each call builds a fresh context and loads the CA bundle, about 35 ms of CPU, which made
#: the simulated browsers cost more CPU than the server. A browser keeps its connections and
#: context. The server is plain HTTP on loopback, so the context is never used for TLS.
_TLS = ssl.create_default_context()


def _client(url: str, **kwargs: Any) -> Client:
    """A gradio_client `Client` that builds no TLS context per request (see `_TLS`)."""
    return Client(url, verbose=False, ssl_verify=_TLS, **kwargs)


class _BrowserPace:
    """Stands for the `time` module inside `gradio_client.utils`, with `sleep` capped at `POLL_S`.

    gradio_client hands the server's messages from its stream reader to the waiting call through a
    queue it polls every 50 ms, so each reply reached the test 25 ms late on average and up to
    50 ms late; a browser handles a server-sent event as it arrives. With the cap the measured
    time is the server's and the connection's, not the poll's.
    """

    POLL_S = 0.005

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.POLL_S))


@contextmanager
def browser_paced_client_messages() -> Iterator[None]:
    """Within the block, gradio_client (in this process) reacts to the server's messages as a browser does."""
    import gradio_client.utils

    gradio_client.utils.time = _BrowserPace()  # type: ignore[assignment]
    try:
        yield
    finally:
        gradio_client.utils.time = time


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stats(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ms = sorted(1000.0 * s for s in samples)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))], 1),
        "max_ms": round(ms[-1], 1),
    }


def _tree(root: Path) -> tuple[int, int]:
    """(files, bytes) below `root`."""
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
            except OSError:
                continue
    return files, size


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (empty when the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _family(pid: int) -> list[int]:
    """`pid` and its child processes (the server's preview worker and ffmpeg runs count as the server)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(pid):
            fields = _stat(int(entry.name))
            if fields and fields[1] == str(pid):
                children.append(int(entry.name))
    return [pid, *children]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` and its children (running or ended) have used so far."""
    fields = [_stat(p) for p in _family(pid)]
    if not fields[0]:
        return float("nan")
    ended = int(fields[0][13]) + int(fields[0][14])
    return (ended + sum(int(f[11]) + int(f[12]) for f in fields if f)) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int, file: str, field: str) -> float:
    """MB of `field` in /proc/<p>/`file`, summed over the process `pid` and its children."""
    total = 0
    for p in _family(pid):
        try:
            for line in Path(f"/proc/{p}/{file}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            if p == pid:
                return float("nan")
    return round(total / 1024, 1)


def _pss_mb(pid: int) -> float:
    """Proportional memory of the process `pid` and its children: shared pages (the libraries the
    server and its worker both map) split between them, so the sum is what they cost together."""
    return _memory_mb(pid, "smaps_rollup", "Pss:")


def _rss_mb(pid: int) -> float:
    """Resident memory of the process `pid` and its children (shared pages counted in each)."""
    return _memory_mb(pid, "status", "VmRSS:")


class Server:
    """`python app.py` in its own process, on a free loopback port, with its own temp root."""

    def __init__(self, temp_root: Path, work: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ)
        env.update(
            GRADIO_SERVER_NAME="127.0.0.1",
            GRADIO_SERVER_PORT=str(self.port),
            GRADIO_ANALYTICS_ENABLED="False",
            GRADIO_HEARTBEAT_INTERVAL="2",
            PIRENDER_TEMP_DIR=str(temp_root),
            PIRENDER_CACHE_DIR=str(work / "cache"),
            PIRENDER_WEIGHTS_DIR=str(work / "no-weights"),
            PIRENDER_MAX_VIDEO_SECONDS="20",
            PIRENDER_UI_DOWNLOADS="0",
            PIRENDER_OFFLINE="1",
            OMP_NUM_THREADS="1",
        )
        env.pop("PIRENDER_AUDIO_MODEL", None)
        self.log = open(work / f"server-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py")],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the server did not start in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> float:
        """Send `sig`; seconds until the process exited."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return time.monotonic() - t0


@dataclass
class Session:
    """One simulated user: its photo, its own timings and errors."""

    index: int
    photo: Path
    colour: np.ndarray
    client: Any = None
    timings: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def call(self, api_name: str, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            out = self.client.predict(*args, api_name=api_name, **kwargs)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            self.errors.append(f"{api_name}: {type(exc).__name__}: {str(exc)[:160]}")
            return None
        self.timings.setdefault(api_name, []).append(time.perf_counter() - t0)
        return out


def _photos(folder: Path, n: int) -> list[tuple[Path, np.ndarray]]:
    """The example portrait cropped around the face (as the app's example), one tint per session."""
    base = data.astronaut()[20:340, 100:420].astype(np.float32)
    out = []
    for i in range(n):
        tinted = np.clip(base * np.array(TINTS[i % len(TINTS)], np.float32), 0, 255).astype(np.uint8)
        path = folder / f"photo-{i}.jpg"
        Image.fromarray(tinted).save(path, quality=92)
        out.append((path, tinted.reshape(-1, 3).mean(0)))
    return out


def _write_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    signal_ = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((signal_ * 32767).astype("<i2").tobytes())
    return path


def _loop_clip(src: str, dst: Path, seconds: float) -> Path:
    """A longer driving clip: the made clip played forwards and backwards until `seconds`."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(src)
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    fps = float(meta.get("fps") or 25)
    loop = []
    while len(loop) < seconds * fps:
        loop += frames + frames[::-1]
    writer = imageio_ffmpeg.write_frames(
        str(dst), (w, h), fps=fps, macro_block_size=2, ffmpeg_log_level="error"
    )
    writer.send(None)
    for frame in loop[: int(seconds * fps)]:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return dst


def _drag(s: Session, stop_at: float, rate: float, save_every: float) -> None:
    """Slider drags at `rate` events/s as the page sends them, a PNG save every `save_every` s."""
    period, k, next_save = 1.0 / rate, 0, time.monotonic() + save_every
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        yaw = 25.0 * np.sin(k / 7.0)
        out = s.call("/preview", yaw=float(yaw), smile=float(0.5 + 0.4 * np.sin(k / 5.0)))
        if isinstance(out, str):
            s.images.append(out)
        k += 1
        if time.monotonic() >= next_save:  # a person saves now and then; a late save is not made up for
            s.call("/save_png", yaw=float(yaw))
            next_save = time.monotonic() + save_every
        time.sleep(max(0.0, period - (time.monotonic() - t0)))
    s.call("/refine", yaw=10.0)


def _leaks(sessions: list[Session]) -> tuple[int, int]:
    """(pictures checked, pictures closer to another session's photo than to their own)."""
    colours = np.stack([s.colour for s in sessions])
    checked = leaks = 0
    for s in sessions:
        for path in s.images[-40:]:
            try:
                mean = np.asarray(Image.open(path).convert("RGB"), np.float32).reshape(-1, 3).mean(0)
            except OSError:
                continue
            checked += 1
            leaks += int(np.argmin(np.abs(colours - mean).sum(1)) != s.index)
    return checked, leaks


def _orphan(server: Server, photo: Path, long_clip: Path, short_clip: Path, probe: Session) -> dict[str, Any]:
    """Kill a client mid-reenactment; how long until another session's job starts, and what remains."""
    from gradio_client.utils import Status

    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, server.url, str(photo), str(long_clip)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "started" not in line:
        proc.kill()
        return {"error": "the orphan's job did not start"}
    time.sleep(1.0)  # well inside the job (video analysis)
    job = probe.client.submit(
        *reenact_inputs(photo, short_clip, parts="all", smoothing=0.0, engine="preview"), api_name="/reenact"
    )
    time.sleep(0.3)
    t_kill = time.monotonic()
    proc.kill()
    proc.wait()
    started = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and started is None:
        if job.status().code in (Status.PROCESSING, Status.PROGRESS) or job.done():
            started = time.monotonic() - t_kill
        time.sleep(0.02)
    try:
        job.result(timeout=120)
        ok = True
    except Exception as exc:  # noqa: BLE001 - reported
        probe.errors.append(f"probe reenact: {exc}")
        ok = False
    return {"slot_released_s": None if started is None else round(started, 2), "probe_job_ok": ok}


def run(sessions: int, seconds: float, rate: float, short: bool, work: Path) -> dict[str, Any]:
    with browser_paced_client_messages():
        return _run(sessions, seconds, rate, short, work)


def _run(sessions: int, seconds: float, rate: float, short: bool, work: Path) -> dict[str, Any]:
    temp_root = work / "temp-root"
    temp_root.mkdir(parents=True, exist_ok=True)
    server = Server(temp_root, work)
    report: dict[str, Any] = {"sessions": sessions, "seconds": seconds, "rate_per_session": rate}
    try:
        server.wait_ready()
        report["rss_mb_start"] = _rss_mb(server.proc.pid)
        report["pss_mb_start"] = _pss_mb(server.proc.pid)
        report["temp_before"] = dict(zip(("files", "bytes"), _tree(temp_root), strict=True))
        photos = _photos(work, sessions)
        users = [Session(i, p, c) for i, (p, c) in enumerate(photos)]
        for s in users:
            s.client = _client(server.url, download_files=str(work / f"client-{s.index}"))
            s.call("/analyse", handle_file(str(s.photo)))
        made = users[0].call("/make_clip", seconds=1.0, yaw=20.0, open_mouth=0.6)
        short_clip = work / "driving.mp4"
        short_clip.write_bytes(Path(made).read_bytes())
        long_clip = _loop_clip(str(short_clip), work / "driving-long.mp4", 4.0 if short else 12.0)
        speech = _write_wav(work / "speech.wav", 1.5 if short else 4.0)
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=_drag, args=(s, stop_at, rate, 3.0)) for s in users]
        jobs = [
            threading.Thread(
                target=users[0].call,
                args=("/reenact", *reenact_inputs(photos[0][0], short_clip, engine="preview")),
            ),
            threading.Thread(
                target=users[-1].call,
                args=("/animate", *animate_inputs(photos[-1][0], speech, engine="preview")),
            ),
        ]
        cpu0, server0, wall0, load0 = os.times(), _cpu_s(server.proc.pid), time.monotonic(), os.getloadavg()
        for t in [*threads, *jobs]:
            t.start()
        for t in [*threads, *jobs]:
            t.join(timeout=seconds + 300)
        cpu1, wall = os.times(), time.monotonic() - wall0
        report["cpu_during_load"] = {
            "wall_s": round(wall, 1),
            "server_cpu_s": round(_cpu_s(server.proc.pid) - server0, 1),
            "clients_cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 1),
            "machine_load_average_1min_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
        }
        report["rss_mb_after_load"] = _rss_mb(server.proc.pid)
        report["pss_mb_after_load"] = _pss_mb(server.proc.pid)
        report["orphan"] = _orphan(server, photos[1][0], long_clip, short_clip, users[1])
        report["endpoints"] = {
            name: _stats([t for s in users for t in s.timings.get(name, [])])
            for name in sorted({n for s in users for n in s.timings})
        }
        report["preview_p95_ms_per_session"] = [
            _stats(s.timings.get("/preview", [])).get("p95_ms") for s in users
        ]
        checked, leaks = _leaks(users)
        report["leaks"] = {"pictures_checked": checked, "from_another_session": leaks}
        report["errors"] = [e for s in users for e in s.errors]
        report["temp_during"] = dict(zip(("files", "bytes"), _tree(temp_root), strict=True))
        for s in users:
            s.client.close()
        time.sleep(10.0)
        run_dirs = [p for p in temp_root.iterdir() if p.name.startswith("run-")]
        sessions_left = sum(_tree(p / "sessions")[0] for p in run_dirs)
        report["session_files_10s_after_close"] = sessions_left
        report["temp_after_close"] = dict(zip(("files", "bytes"), _tree(temp_root), strict=True))
        report["rss_mb_after_close"] = _rss_mb(server.proc.pid)
        report["pss_mb_after_close"] = _pss_mb(server.proc.pid)
    finally:
        report["shutdown_s"] = round(server.stop(signal.SIGTERM), 2)
    report["files_after_shutdown"] = _tree(temp_root)[0]
    # a killed server leaves its folder; the next start-up removes it
    killed = Server(temp_root, work)
    killed.wait_ready()
    children = _family(killed.proc.pid)[1:]  # its preview worker, still starting
    killed.stop(signal.SIGKILL)
    left = _tree(temp_root)[0]
    deadline = time.monotonic() + 30
    while any(_stat(c) and _stat(c)[0] != "Z" for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    restarted = Server(temp_root, work)
    restarted.wait_ready()
    time.sleep(0.5)
    report["restart"] = {
        "files_left_by_killed_server": left,
        "processes_left_by_killed_server": sum(1 for c in children if _stat(c) and _stat(c)[0] != "Z"),
        "run_folders_after_restart": len([p for p in temp_root.iterdir() if p.name.startswith("run-")]),
    }
    restarted.stop(signal.SIGINT)
    report["files_after_second_shutdown"] = _tree(temp_root)[0]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI version: 3 sessions, 4 s")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120.0, help="dragging time, 10-180 s")
    parser.add_argument("--rate", type=float, default=10.0, help="preview events per second and session")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    sessions, seconds = (
        (3, 4.0) if args.short else (min(max(args.sessions, 1), 10), min(max(args.seconds, 10), 180))
    )
    with tempfile.TemporaryDirectory(prefix="pirender-load-") as tmp:
        report = run(sessions, seconds, args.rate, args.short, Path(tmp))
    text = json.dumps(report, indent=2)
    print(text)  # noqa: T201 - the benchmark's output
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


if __name__ == "__main__":
    main()
