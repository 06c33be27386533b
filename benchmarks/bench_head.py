"""Speed of the whole-head proxy against the face-only flow, in one run.

    python benchmarks/bench_head.py [--frames 100] [--size 256] [--out results.json]

Per frame: the flow of a 256 px crop along a sweep of yaw / pitch / roll slider positions, old
(`PreviewSettings(head=False)`: face mesh + faded extension) and new (`head=True`: the head proxy,
its two layers: the moved person and the background behind it), plus the crop render of each; per
photo: the proxy fit (person segmentation included). Goals on 2 cores: <= 15 ms extra per flow,
fit <= 300 ms. Uses the astronaut portrait bundled with scikit-image. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.timing import timed_ms  # noqa: E402


def _median(times: list[float]) -> float:
    return round(statistics.median(times), 2)


def main() -> None:
    from skimage import data

    from pipeline.geometric import GeometricRenderer, PreviewSettings
    from reconstruction.backends import DefaultBackend
    from reconstruction.controls import control_set_for
    from reconstruction.segmentation import PersonSegmenter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="slider positions per renderer")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON record here")
    args = parser.parse_args()

    backend = DefaultBackend()
    try:
        crop = backend.analyze_photo(data.astronaut()).crop
        (coeffs,) = backend.fit_crops([crop])  # fitted on the crop's own landmarks, as the renderer sees it
    finally:
        backend.close()
    model = backend.model
    controls = control_set_for(model)
    old = GeometricRenderer(model, PreviewSettings(head=False))
    new = GeometricRenderer(model, PreviewSettings(head=True))
    old_state = old.prepare(crop, coeffs)
    new.prepare(crop, coeffs)  # builds the segmenter once (a per-process cost)
    with PersonSegmenter() as segmenter:
        segment_ms = timed_ms(lambda: segmenter.person_mask(crop), 10)
    fit_ms = timed_ms(lambda: new.prepare(crop, coeffs), 10)
    new_state = new.prepare(crop, coeffs)
    sweep = np.linspace(-1.0, 1.0, args.frames)
    targets = [
        controls.apply(coeffs, {"yaw": 30.0 * v, "pitch": 15.0 * np.sin(3 * v), "roll": 10.0 * np.cos(5 * v)})
        for v in sweep
    ]

    def run(fn) -> list[float]:
        return [t for target in targets for t in timed_ms(lambda target=target: fn(target), 1)]

    for target in targets[:5]:  # warm-up
        old.render_flow(old_state, target)
        new.render_frame(new_state, target)
    flow_old = run(lambda t: old.render_flow(old_state, t))
    flow_new = run(lambda t: new.render_frame(new_state, t))
    render_old = run(lambda t: old.render(old_state, t))
    render_new = run(lambda t: new.render(new_state, t))
    record = {
        "crop": list(crop.shape[:2]),
        "frames": args.frames,
        "flow_ms": {"old": _median(flow_old), "new": _median(flow_new)},
        "flow_extra_ms": round(_median(flow_new) - _median(flow_old), 2),
        "flow_ratio": round(_median(flow_new) / _median(flow_old), 2),
        "render_crop_ms": {"old": _median(render_old), "new": _median(render_new)},
        "fit_ms_per_photo": {
            "prepare_with_head": _median(fit_ms),
            "of_which_segmentation": _median(segment_ms),
        },
        "triangles": int(len(new_state.head.triangles)),
    }
    print(json.dumps(record))
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
