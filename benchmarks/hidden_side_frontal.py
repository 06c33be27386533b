"""The hidden-side fill on near-frontal photos (docs/HIDDEN_SIDE.md, rule 2): the edit with the fill
on against the same edit with it off (which is the default renderer), PSNR over the face's box.

    OMP_NUM_THREADS=1 python benchmarks/hidden_side_frontal.py

Prints one line per photo and edit: "identical" or the PSNR in dB (the rule: >= 45 dB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pipeline.geometric as geometric  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

IMAGES = REPO.parent / "shared" / "data" / "images"
PHOTOS = (
    "serengil__deepface__img1.jpg",
    "cmusatyalab__openface__carell.jpg",
    "KwaiVGI__LivePortrait__s2.jpg",
)
EDITS = ({"yaw": 30.0}, {"yaw": -30.0}, {"open_mouth": 1.0}, {"smile": 1.0}, {"close_eyes": 1.0})


def main() -> None:
    layer = geometric.mirror_layer
    for name in PHOTOS:
        registry = EngineRegistry()
        state = prepare_photo(IMAGES / name, registry=registry)
        renderer = registry.geometric(state.backend).renderer
        renderer.settings = geometric.PreviewSettings(hidden_side=True)  # before the engine state is made
        landmarks = state.analysis.detection.face.landmarks[:, :2]
        (x0, y0), (x1, y1) = landmarks.min(0).astype(int), landmarks.max(0).astype(int)
        for values in EDITS:
            outs = []
            for on in (False, True):  # off: the same state with no mirrored layer drawn
                geometric.mirror_layer = layer if on else (lambda *_args: None)
                outs.append(edit(state, EditRequest(values), registry=registry).full_image)
            geometric.mirror_layer = layer
            a, b = (o[y0:y1, x0:x1].astype(np.float64) for o in outs)
            mse = float(((a - b) ** 2).mean())
            psnr = "identical" if mse == 0.0 else f"{10.0 * np.log10(255.0**2 / mse):.1f} dB"
            print(f"{name} {values} {psnr}")


if __name__ == "__main__":
    main()
