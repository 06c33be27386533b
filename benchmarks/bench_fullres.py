"""Full-resolution output, old way against new way in one run (interleaved, so machine noise hits both).

    python benchmarks/bench_fullres.py [--repeats 30] [--photo PATH] [--out results.json]

Old way: the geometric renderer's 256 px crop pasted back by adding the upsampled change of the
crop to the photo (the former default "residual" paste, reproduced here for the comparison).
New way: the renderer's flow applied to the photo's own pixels (`reconstruction.crop.warp_photo`
through `pipeline.place_frame`), with the painted mouth/lids laid over it.

Measured per way: ms per display-size preview (the web page's ~768 px canvas), ms per edit of a
12-megapixel photo (render + placing it back), frames per second of a 512 px video (render +
placing each frame into the frame-sized photo). Goals: preview <= 25 ms, 12 MP edit <= 300 ms,
video >= 25 frames/s (2 CPU cores). Default photo: the astronaut bundled with scikit-image,
enlarged to 12 MP; `--photo` takes a real one. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import interleaved_ms, summary_ms, write_record  # noqa: E402
from core.coefficients import FaceCoefficients  # noqa: E402
from pipeline import (  # noqa: E402
    EditRequest,
    EngineRegistry,
    GeometricEngine,
    SourceState,
    load_image,
    photo_canvas,
    prepare_photo,
)
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402
from training.evaluation.self_reenactment import former_residual_paste  # noqa: E402


def _drag(v: float) -> dict[str, float]:
    return {
        "yaw": 25 * np.sin(2 * np.pi * v),
        "pitch": 10 * np.sin(4 * np.pi * v),
        "smile": float(np.sin(2 * np.pi * v)),
        "open_mouth": float(0.5 + 0.5 * np.sin(6 * np.pi * v)),
        "close_eyes": float(max(0.0, np.sin(8 * np.pi * v))),
    }


class DragScene(NamedTuple):
    """A photo prepared for the default renderer and the targets of a drag over it."""

    photo: np.ndarray
    state: SourceState
    engine: GeometricEngine
    prepared: object
    targets: list[FaceCoefficients]


def drag_scene(photo_path: Path | None, repeats: int) -> DragScene:
    """A real photo (or the astronaut at 12 MP), prepared, with `repeats` targets along `_drag`."""
    from skimage import data

    registry = EngineRegistry(fast=False)
    if photo_path is not None:
        photo = load_image(photo_path)
    else:
        photo = np.zeros((3000, 4000, 3), np.uint8)
        photo[:, 500:3500] = cv2.resize(data.astronaut(), (3000, 3000), interpolation=cv2.INTER_CUBIC)
    state = prepare_photo(photo, registry=registry)
    engine = registry.geometric(state.backend)
    targets = [
        target_coefficients(state, EditRequest(_drag(v)), registry=registry)
        for v in np.linspace(0.0, 1.0, repeats)
    ]
    return DragScene(photo, state, engine, state.engine_state(engine), targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--photo", type=Path, default=None, help="a real photo (default: astronaut at 12 MP)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    photo, state, engine, es, targets = drag_scene(args.photo, args.repeats)
    full = Canvas(state.image, state.crop_transform)
    display = photo_canvas(state, 768, quick=True)  # a drag preview: without the final-only finishing
    video = photo_canvas(state, 512, even=True, quick=True)  # video frames, as the product makes them

    def render(i: int):  # noqa: ANN202
        return engine.render_frame(es, targets[i])

    for i in range(3):
        place_frame(full, render(i))  # warm-up
    record: dict[str, object] = {
        "photo": list(photo.shape[:2]),
        "megapixels": round(photo.shape[0] * photo.shape[1] / 1e6, 1),
        "repeats": args.repeats,
    }
    for label, canvas in (
        ("preview_768px", display),
        ("edit_full_resolution", full),
        ("video_512px_frame", video),
    ):
        times = interleaved_ms(
            {
                "old": lambda i, c=canvas: former_residual_paste(c, render(i).crop),
                "new": lambda i, c=canvas: place_frame(c, render(i)),
            },
            args.repeats,
        )
        record[label] = {name: summary_ms(t, minimum=False) for name, t in times.items()}
        record[label]["ratio_new_over_old"] = round(
            statistics.median(times["new"]) / statistics.median(times["old"]), 3
        )
    frame_ms = record["video_512px_frame"]  # type: ignore[index]
    record["video_512px_fps"] = {k: round(1000.0 / frame_ms[k]["median_ms"], 1) for k in ("old", "new")}
    record["goals"] = {"preview_ms": 25, "edit_12mp_ms": 300, "video_fps": 25}
    write_record(record, args.out)


if __name__ == "__main__":
    main()
