"""`pirender coeffs`: a photo or a video -> 3DMM coefficients and the renderer crop (pipeline stage 1).

Output formats (both accepted for both inputs):

- ``.json``: for a photo `PhotoAnalysis.to_dict` (FaceCoefficients.to_dict under "coefficients",
  the crop transform, faces found); for a video `VideoAnalysis.to_dict` (motion arrays as lists).
- ``.npz``: `MotionSequence.save_npz` (a photo is a one-frame sequence), readable by
  `pirender render`, plus ``crop_transform`` (JSON text), ``missing_frames`` and ``num_faces``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from core.coefficients import MotionSequence
from core.errors import InputError
from reconstruction.video import is_video_path

HELP = "extract 3DMM coefficients and the renderer crop from a photo or a video (.json or .npz)"
log = logging.getLogger(__name__)

_FORMATS = (".json", ".npz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a photo (JPEG, PNG, ...) or a video (MP4, MOV, WebM, ...)")
    parser.add_argument("-o", "--output", required=True, help="output file: .json or .npz")
    parser.add_argument(
        "--backend",
        choices=("default", "deep3d"),
        default="default",
        help="default: the bundled landmark face model (offline); deep3d: Deep3DFaceRecon + BFM "
        "(the coefficients of the public PIRender weights; needs epoch_20.pth and BFM_model_front.mat)",
    )
    parser.add_argument("--face-index", type=int, default=0, help="which face, largest first (default 0)")
    parser.add_argument("--max-seconds", type=float, default=None, help="video: use only the first N seconds")
    parser.add_argument(
        "--max-duration", type=float, default=None, help="video: longest clip accepted, seconds"
    )
    parser.add_argument("--fps", type=float, default=None, help="video: resample to this frame rate")
    parser.add_argument("--no-smoothing", action="store_true", help="video: keep the raw per-frame fit")
    parser.add_argument(
        "--save-crop", default=None, help="also write the 256x256 crop (video: first frame) as PNG"
    )
    parser.add_argument("--recon-path", default=None, help="deep3d: path of epoch_20.pth")
    parser.add_argument("--bfm-path", default=None, help="deep3d: path of BFM_model_front.mat")


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.max_duration is not None:
        options["max_video_seconds"] = args.max_duration
    if args.no_smoothing:
        options["smoothing"] = None
    if args.backend == "deep3d":
        options["recon_path"] = args.recon_path
        options["bfm_path"] = args.bfm_path
    elif args.recon_path or args.bfm_path:
        raise InputError("--recon-path / --bfm-path are options of --backend deep3d")
    return options


def _write_atomic(path: Path, write: Any, suffix: str) -> None:
    """Write through a temporary file (ending in `suffix`) in the same folder, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_npz(path: Path, motion: MotionSequence, extras: dict[str, Any]) -> None:
    """`MotionSequence.save_npz` plus extra arrays (JSON text for records)."""

    def write(tmp: Path) -> None:
        motion.save_npz(str(tmp))
        with np.load(tmp, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        for key, value in extras.items():
            arrays[key] = np.array(json.dumps(value)) if isinstance(value, dict) else np.asarray(value)
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    _write_atomic(path, write, ".npz")


def _save_json(path: Path, record: dict[str, Any]) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"), ".json")


def head_pose_degrees(angles: Any) -> dict[str, Any]:
    """Raw angles (..., 3) in radians (pitch, yaw, roll) -> {"yaw", "pitch", "roll"} in degrees
    (floats for one pose, lists for a sequence)."""
    degrees = np.degrees(np.asarray(angles, dtype=np.float64))
    pitch, yaw, roll = (degrees[..., i] for i in range(3))
    return {name: value.tolist() for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll))}


def _with_degrees(record: dict[str, Any], angles: Any) -> dict[str, Any]:
    """`record` with yaw / pitch / roll in degrees inserted right after its "angles" entry."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key == "angles":
            out.update(head_pose_degrees(angles))
    return out


def _degrees(angles: np.ndarray) -> str:
    pose = head_pose_degrees(angles)
    return f"yaw {pose['yaw']:+.1f}, pitch {pose['pitch']:+.1f}, roll {pose['roll']:+.1f} degrees"


def _run_photo(backend: Any, args: argparse.Namespace, out: Path) -> list[str]:
    analysis = backend.analyze_photo(Path(args.input), face_index=args.face_index)
    coeffs = analysis.coefficients
    if out.suffix.lower() == ".json":
        record = analysis.to_dict()
        record["coefficients"] = _with_degrees(record["coefficients"], coeffs.angles)
        _save_json(out, record)
    else:
        extras = {"crop_transform": analysis.crop_transform.to_dict(), "num_faces": analysis.num_faces}
        _save_npz(out, MotionSequence.still(coeffs), extras)
    if args.save_crop:
        from reconstruction.images import save_png

        save_png(analysis.crop, args.save_crop, {"Software": "pirender coeffs"})
    face = analysis.detection.face
    which = "the largest" if face.index == 0 else f"number {face.index}, largest first"
    return [
        f"faces found: {analysis.num_faces} (using face {face.index}, {which}: {face.size:.0f} px)",
        f"head pose: {_degrees(coeffs.angles)}",
        f"coefficients: {coeffs.face_model}, {coeffs.expression.shape[0]} expression numbers ({backend.name} backend)",
    ]


def _run_video(backend: Any, args: argparse.Namespace, out: Path) -> list[str]:
    with tqdm(total=100, desc="analysing", unit="%", file=sys.stderr, leave=False) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:40])
            bar.update(max(0, round(100 * fraction) - bar.n))

        analysis = backend.analyze_video(
            Path(args.input),
            fps=args.fps,
            max_seconds=args.max_seconds,
            progress=progress,
            face_index=args.face_index,
        )
    motion = analysis.motion
    if out.suffix.lower() == ".json":
        _save_json(out, _with_degrees(analysis.to_dict(), motion.angles))
    else:
        extras = {
            "crop_transform": analysis.crop_transform.to_dict(),
            "missing_frames": np.asarray(analysis.missing_frames, dtype=np.int64),
        }
        _save_npz(out, motion, extras)
    if args.save_crop:
        from reconstruction.images import save_png

        save_png(analysis.crops[0], args.save_crop, {"Software": "pirender coeffs"})
    pose = head_pose_degrees(motion.angles)
    yaw_pitch_roll = np.stack([pose["yaw"], pose["pitch"], pose["roll"]], axis=1)
    lo, hi = yaw_pitch_roll.min(axis=0), yaw_pitch_roll.max(axis=0)
    missing = analysis.missing_frames
    shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
    return [
        f"frames: {analysis.num_frames} at {analysis.fps:.2f} fps"
        + (
            f" ({len(missing)} without a face, interpolated: {shown})"
            if missing
            else " (face in every frame)"
        ),
        f"head pose range: yaw {lo[0]:+.1f}..{hi[0]:+.1f}, pitch {lo[1]:+.1f}..{hi[1]:+.1f}, "
        f"roll {lo[2]:+.1f}..{hi[2]:+.1f} degrees",
        f"coefficients: {motion.face_model}, {motion.expression.shape[1]} expression numbers per frame "
        f"({backend.name} backend)",
    ]


def run(args: argparse.Namespace) -> int:
    from reconstruction.backends import get_backend  # heavy (torch, MediaPipe): only this command needs it

    source = Path(args.input)
    if not source.is_file():
        raise InputError(f"Input file not found: {source}. Pass a photo or a video file.")
    out = Path(args.output)
    if out.suffix.lower() not in _FORMATS:
        raise InputError(f"The output must end in .json or .npz, got {out.name!r}.")
    if args.face_index < 0:
        raise InputError(f"--face-index must be >= 0, got {args.face_index}")
    with get_backend(args.backend, **_backend_options(args)) as backend:
        lines = _run_video(backend, args, out) if is_video_path(source) else _run_photo(backend, args, out)
    for line in lines + [f"wrote {out}"]:
        sys.stdout.write(line + "\n")
    return 0
