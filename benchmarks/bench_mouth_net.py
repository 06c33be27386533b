"""Speed of the mouth look network: the geometric renderer with and without it, in one run.

    OMP_NUM_THREADS=2 python benchmarks/bench_mouth_net.py [--frames 40] [--weights DIR]

A real photo (`serengil__deepface__img3.jpg`, closed lips) opened by a sweep of open_mouth values
(every frame paints a gap): median ms per 256 px `render_frame` without and with the network
(alternating per frame, so both see the same machine), and the frames per second of a 512 px
video frame (render + placing it into the 512 px frame) with the network on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, prepare_photo  # noqa: E402
from pipeline.mouth_look_net import bundled_look_net  # noqa: E402
from pipeline.photo import Canvas, place_frame, target_coefficients  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument(
        "--photo", type=Path, default=REPO.parent / "shared/data/images/serengil__deepface__img3.jpg"
    )
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    image = cv2.cvtColor(cv2.imread(str(args.photo)), cv2.COLOR_BGR2RGB)
    scale = 512 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)  # a 512 px video frame
    state = prepare_photo(image, registry=registry)
    engine = registry.geometric(state.backend)
    renderer = engine.renderer
    if args.weights is not None:
        renderer._look_net = bundled_look_net(renderer.face_model, args.weights)
    plain, net = renderer.settings, dataclasses.replace(renderer.settings, mouth_net=True)
    preview = state.engine_state(engine)
    values = np.linspace(0.3, 1.0, args.frames)
    targets = [target_coefficients(state, EditRequest(values={"open_mouth": float(v)})) for v in values]
    canvas = Canvas(state.image, state.crop_transform)
    renderer.settings = net
    renderer.render_frame(preview, targets[0])  # load the network, warm up
    times: dict[str, list[float]] = {"without": [], "with": [], "video": []}
    for target in targets:
        for name, settings in (("without", plain), ("with", net)):
            renderer.settings = settings
            start = time.perf_counter()
            renderer.render_frame(preview, target)
            times[name].append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        place_frame(canvas, renderer.render_frame(preview, target))
        times["video"].append(1000 * (time.perf_counter() - start))
    renderer.settings = plain
    w, wi, v = (float(np.median(times[k])) for k in ("without", "with", "video"))
    print(f"torch threads {torch.get_num_threads()}, {args.frames} frames, 256 px crop of a 512 px frame")  # noqa: T201
    print(f"render_frame without the network {w:.2f} ms, with {wi:.2f} ms: {wi - w:.2f} ms added (median)")  # noqa: T201
    print(f"512 px video frame with the network (render + place): {v:.2f} ms, {1000 / v:.1f} fps")  # noqa: T201


if __name__ == "__main__":
    main()
