"""Turn a folder of talking videos with sound into audio-to-motion training clips.

    pirender audio-prepare ../shared/data/videos runs/a2m_clips     # or: python -m audio2motion.prepare ...

Each video with an audio track becomes `<name>.npz` (its MotionSequence, fitted with the default
reconstruction backend, identity fixed per clip, lightly smoothed) plus `<name>.json` pointing at the
video for its audio and naming its identity group (from MANIFEST.tsv when present), so that the
held-out split never shares a person with training. Resumable: finished clips are skipped.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path

from tqdm import tqdm

from audio2motion.dataset import save_clip
from core.errors import PIRenderError

__all__ = ["prepare_clips", "main"]

log = logging.getLogger(__name__)


def _audio_flags(videos: Path) -> dict[str, bool]:
    """file name -> whether MANIFEST.tsv says it has sound (files not listed are tried)."""
    path = videos / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {
            row["file"]: row.get("has_audio", "yes") == "yes" for row in csv.DictReader(fh, delimiter="\t")
        }


def prepare_clips(
    videos: Path, out_dir: Path, max_seconds: float = 30.0, backend_name: str = "default"
) -> list[str]:
    """Write training clips for every video with audio; returns the names written or already present."""
    from reconstruction.backends import get_backend
    from reconstruction.video import read_identity_groups

    groups = read_identity_groups(videos)
    with_audio = _audio_flags(videos)
    backend = get_backend(backend_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    files = sorted(
        p for p in videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi")
    )
    for path in tqdm(files, desc="clips", file=sys.stderr):
        if not with_audio.get(path.name, True):
            continue
        if (out_dir / f"{path.stem}.npz").is_file():
            done.append(path.stem)
            continue
        try:
            analysis = backend.analyze_video(path, max_seconds=max_seconds)
        except PIRenderError as exc:
            log.warning("skipping %s: %s", path.name, exc)
            continue
        media = Path(os.path.relpath(path.absolute(), out_dir.absolute()))  # the json's folder is out_dir
        save_clip(out_dir, path.stem, analysis.motion, media, group=groups.get(path.name, path.stem))
        done.append(path.stem)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pirender audio-prepare", description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--backend", default="default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    names = prepare_clips(args.videos, args.out_dir, args.max_seconds, args.backend)
    log.info("%d clips in %s", len(names), args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
