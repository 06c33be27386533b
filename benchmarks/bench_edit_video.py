"""Speed of editing a whole video with the default (geometric) engine: `pipeline.edit_video`.

    python benchmarks/bench_edit_video.py [--video CLIP.mp4] [--seconds 8] [--out results.json]

Goal: >= 15 frames/s end to end at 512 px on our 2-core CPU (face tracking and fitting, the
edit of every frame, pasting and H.264 encoding with the sound). The default clip is a real
512 x 512 talking-head video with sound from ../shared/data/videos. Prints one JSON record: the
whole call's frames/s, and the two phases (tracking: the backend's `analyze_video`; editing:
render + placing into the frame + encode), timed from the call's progress reports.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import write_record  # noqa: E402
from core.quiet import quiet_console  # noqa: E402
from pipeline import EngineRegistry, VideoEditOptions, edit_video, read_video_metadata  # noqa: E402

DEFAULT_CLIP = REPO.parent / "shared" / "data" / "videos" / "OpenTalker__SadTalker__RD_Radio34_000.mp4"
VALUES = {"smile": 0.6, "yaw": 8.0, "raise_brows": 0.4}


def run(video: Path, seconds: float) -> dict[str, object]:
    registry = EngineRegistry(fast=False)
    registry.backend("default")  # loaded once per process, not part of a request
    marks: dict[str, float] = {}

    def progress(fraction: float, message: str) -> None:
        if message.startswith("editing frame") and "editing" not in marks:
            marks["editing"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "edited.mp4"
        start = time.perf_counter()
        edit_video(
            video, VALUES, VideoEditOptions(max_seconds=seconds), out, registry=registry, progress=progress
        )
        end = time.perf_counter()
        info = read_video_metadata(out)
    frames = round(info.duration * info.fps)
    tracking = marks.get("editing", start) - start
    return {
        "video": video.name,
        "size": f"{info.width}x{info.height}",
        "frames": frames,
        "sound": info.has_audio,
        "values": VALUES,
        "threads": os.cpu_count(),
        "total_s": round(end - start, 2),
        "fps": round(frames / (end - start), 1),
        "tracking_fps": round(frames / max(tracking, 1e-9), 1),
        "editing_fps": round(frames / max(end - start - tracking, 1e-9), 1),
        "goal_fps": 15,
    }


def main() -> None:
    quiet_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--video", type=Path, default=DEFAULT_CLIP, help="the clip (default: a 512 px talking head)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="edit at most this much of it")
    parser.add_argument("--out", type=Path, help="also write the JSON record here")
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"no clip at {args.video}: pass --video CLIP.mp4 (a 512 px video with a face)")
    record = run(args.video, args.seconds)
    write_record(record, args.out, indent=1)


if __name__ == "__main__":
    main()
