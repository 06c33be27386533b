"""Whole-head proxy against the default face-only flow, both ways in one run: re-fit and speed.

    python benchmarks/bench_head_default.py [--faces 8] [--repeats 10] [--photo PATH] [--out results.json]

Ways: "default" is `PreviewSettings()` (the face mesh's flow carried outwards and faded), "head"
is `PreviewSettings(head=True)` (the whole-head proxy: the moved person in front, the background
behind it, `pipeline.head` / `pipeline.head_fill`).

Re-fit (the check of the earlier rounds): near-frontal frames of the shared clips
(../shared/data/videos, frame 20 of each, |yaw| <= 6 degrees), turned by yaw +-15 / +-30 and pitch
+-15 with the product's controls, rendered on the 256 px crop, then re-fitted as the product reads
a crop (`DefaultBackend.fit_crops`: re-detected landmarks, `fit_landmarks`); reported as re-fitted
change of the angle / the slider's degrees (the controls' target angle changes by exactly that),
averaged over faces (1.0: turns by the stated degrees).

Speed (interleaved, so machine noise hits both): ms per display-size preview (768 px canvas), per
edit of a 12 MP photo (render + `place_frame`), frames/s of a 512 px video; goals on 2 cores:
preview <= 25 ms, 12 MP edit <= 300 ms, video >= 25 frames/s. Default photo: the astronaut enlarged
to 12 MP. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_fullres import _drag  # noqa: E402 - the same drag as the full-resolution benchmark
from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from pipeline import EditRequest, EngineRegistry, load_image, photo_canvas, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer, PreviewSettings  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402

WAYS = {"default": PreviewSettings(), "head": PreviewSettings(head=True)}
ASKS = [("yaw", 15.0), ("yaw", -15.0), ("yaw", 30.0), ("yaw", -30.0), ("pitch", 15.0), ("pitch", -15.0)]
AXIS = {"pitch": 0, "yaw": 1}


def refit(videos: Path, faces: int) -> dict[str, object]:
    """Re-fitted change / asked change per way, ask and re-fit method (means over faces)."""
    from reconstruction.backends import DefaultBackend
    from reconstruction.controls import control_set_for
    from reconstruction.detection import FaceDetector
    from reconstruction.face_model import load_default_face_model
    from training.evaluation.turns import near_frontal_crops

    model = load_default_face_model()
    controls = control_set_for(model)
    renderers = {name: GeometricRenderer(model, settings) for name, settings in WAYS.items()}
    ratios: dict[str, list[float]] = {f"{way}/{axis}{value:+.0f}": [] for way in WAYS for axis, value in ASKS}
    backend = DefaultBackend()
    used = 0
    try:
        with FaceDetector() as detector:
            for crop, coeffs in near_frontal_crops(videos, detector, model):
                (source,) = backend.fit_crops([crop])
                if source is None:
                    continue
                for way, renderer in renderers.items():
                    state = renderer.prepare(crop, coeffs)
                    for axis, value in ASKS:
                        k = AXIS[axis]
                        (fit,) = backend.fit_crops(
                            [renderer.render(state, controls.apply(coeffs, {axis: value}))]
                        )
                        if fit is None:
                            continue
                        change = fit.angles_degrees[k] - source.angles_degrees[k]
                        ratios[f"{way}/{axis}{value:+.0f}"].append(change / value)
                used += 1
                if used >= faces:
                    break
    finally:
        backend.close()
    table = {key: round(float(np.mean(v)), 3) if v else None for key, v in ratios.items()}
    summary = {}
    for way in WAYS:
        for axis in ("yaw", "pitch"):
            values = [table[f"{way}/{a}{v:+.0f}"] for a, v in ASKS if a == axis]
            values = [v for v in values if v is not None]
            summary[f"{way}/{axis}"] = round(float(np.mean(values)), 3) if values else None
    return {"faces": used, "per_ask": table, "mean_ratio": summary}


def speed(photo_path: Path | None, repeats: int) -> dict[str, object]:
    from skimage import data

    registry = EngineRegistry(fast=False)
    if photo_path is not None:
        photo = load_image(photo_path)
    else:
        photo = np.zeros((3000, 4000, 3), np.uint8)
        photo[:, 500:3500] = cv2.resize(data.astronaut(), (3000, 3000), interpolation=cv2.INTER_CUBIC)
    state = prepare_photo(photo, registry=registry)
    model = registry.geometric(state.backend).renderer.projector.model
    renderers = {name: GeometricRenderer(model, settings) for name, settings in WAYS.items()}
    states = {
        name: r.prepare(state.crop, state.coefficients, transform=state.crop_transform)
        for name, r in renderers.items()
    }
    targets = [
        target_coefficients(state, EditRequest(_drag(v)), registry=registry)
        for v in np.linspace(0, 1, repeats)
    ]
    canvases = {
        "preview_768px": photo_canvas(state, 768),
        "edit_full_resolution": Canvas(state.image, state.crop_transform),
        "video_512px_frame": photo_canvas(state, 512, even=True),
    }
    for name, renderer in renderers.items():
        for i in range(3):
            place_frame(canvases["edit_full_resolution"], renderer.render_frame(states[name], targets[i]))
    record: dict[str, object] = {"photo": list(photo.shape[:2]), "repeats": repeats}
    for label, canvas in canvases.items():
        times = interleaved_ms(
            {
                name: lambda i, c=canvas, n=name: place_frame(
                    c, renderers[n].render_frame(states[n], targets[i])
                )
                for name in WAYS
            },
            repeats,
        )
        record[label] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
        record[label]["ratio_head_over_default"] = round(
            statistics.median(times["head"]) / statistics.median(times["default"]), 3
        )
    frame_ms = record["video_512px_frame"]
    record["video_512px_fps"] = {k: round(1000.0 / frame_ms[k]["median_ms"], 1) for k in WAYS}  # type: ignore[index]
    record["goals"] = {"preview_ms": 25, "edit_12mp_ms": 300, "video_fps": 25}
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=8, help="near-frontal clip frames for the re-fit")
    parser.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--photo", type=Path, default=None, help="a real photo (default: astronaut at 12 MP)")
    parser.add_argument("--skip-refit", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    record: dict[str, object] = {"speed": speed(args.photo, args.repeats)}
    if not args.skip_refit and args.videos.is_dir():
        record["refit"] = refit(args.videos, args.faces)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
