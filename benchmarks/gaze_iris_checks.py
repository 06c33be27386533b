"""The rule's (c) and (e) for `rigid_iris` (docs/GAZE_IRIS.md).

    OMP_NUM_THREADS=1 python benchmarks/gaze_iris_checks.py

(c) the gaze round trip of tests/pipeline/test_eyes.py (the astronaut, gaze_x +-0.8, re-detected by
the face mesh), flag off and on; (e) edits without gaze, flag off and on, pixel for pixel.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.eyes import gaze_from_landmarks  # noqa: E402
from reconstruction.detection import FaceDetector  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",
    "serengil__deepface__img24.jpg",
    "serengil__deepface__img1.jpg",
)
EDITS = ({"yaw": 20.0}, {"smile": 1.0}, {"close_eyes": 1.0}, {"open_mouth": 0.6})


def _flagged(registry: EngineRegistry, state, on: bool) -> None:  # noqa: ANN001
    renderer = registry.geometric(state.backend).renderer
    renderer.settings = dataclasses.replace(renderer.settings, rigid_iris=on)


def round_trip(registry: EngineRegistry) -> None:
    from skimage import data

    state = prepare_photo(data.astronaut(), registry=registry)
    with FaceDetector(search_small_faces=False, max_faces_limit=1) as detector:
        before = gaze_from_landmarks(detector.detect_one(state.crop).face.landmarks)
        for on in (False, True):
            _flagged(registry, state, on)
            changes = []
            for value in (0.8, -0.8):
                crop = edit(state, EditRequest({"gaze_x": value}, engine="preview"), registry=registry).crop
                changes.append(gaze_from_landmarks(detector.detect_one(crop).face.landmarks) - before)
            mean = np.mean([abs(c[0]) for c in changes])
            print(
                f"(c) rigid_iris={on}: change at +0.8 {changes[0].round(3)}, at -0.8 {changes[1].round(3)}; mean |x| {mean:.3f}"
            )


def identical(registry: EngineRegistry) -> None:
    for name in PHOTOS:
        state = prepare_photo(IMAGES / name, registry=registry)
        for values in EDITS:
            outs = []
            for on in (False, True):
                _flagged(registry, state, on)
                outs.append(
                    np.asarray(
                        edit(state, EditRequest(values, engine="preview"), registry=registry).full_image
                    )
                )
            same = np.array_equal(*outs)
            print(f"(e) {name[:36]:36s} {values}: {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    reg = EngineRegistry(fast=False)
    round_trip(reg)
    identical(reg)
