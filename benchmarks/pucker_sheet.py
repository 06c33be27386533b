"""Contact sheet and re-detected measures of the round lips' pucker: input | before | after.

    python benchmarks/pucker_sheet.py [-o docs/pucker_sheet.jpg] [--base main] [--keep DIR]
    python benchmarks/pucker_sheet.py --measure [--pucker]

The sheet: round_lips 0.5, round_lips 1 and round_lips 1 + yaw 20 on eight photos of
../shared/data/images (closed, parted and smiling lips, beards, a 256-px photo), head and mouth at
100 % (`benchmarks/mouth_sheet.py`); "before" is the base commit's code in a subprocess, "after"
this tree with the pucker target on (`DerivationSettings.pucker`).

`--measure` renders round_lips 1 (and raise_brows 1, an edit that leaves the lips alone, as the
clean reference) on the measured photos and re-detects the result with MediaPipe's face mesh
(`mouth_measures`): the inner-lip gap over the mouth width, the mouth width's change, and the
corners' height against the lips' middle, each against the input re-detected the same way. With
`--pucker` the pucker target is on; without, the code's default.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import CODE, before_after_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

PHOTOS = (
    "cmusatyalab__openface__carell.jpg",  # a closed smile, stubble
    "serengil__deepface__img16.jpg",  # full beard, smiling
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px, grey beard
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",  # closed lips, low light
    "serengil__deepface__img1.jpg",  # a wide smile showing teeth
    "KwaiVGI__LivePortrait__s2.jpg",  # parted lips, black and white
    "OpenTalker__SadTalker__people_0.png",  # closed lips
    "dchen236__FairFace__race_Black.jpg",
)
#: Smiling photos, whose corners must come down (docs/CONTROLS.md "Round lips, round 3").
SMILING = (
    "cmusatyalab__openface__carell.jpg",
    "serengil__deepface__img16.jpg",
    "serengil__deepface__img1.jpg",
    "YadiraF__DECA__teaser_2.png",
    "serengil__deepface__img24.jpg",
)
MEASURED = PHOTOS + SMILING[3:]
EDITS = {
    "round_lips 0.5": {"round_lips": 0.5},
    "round_lips 1": {"round_lips": 1.0},
    "round_lips 1 + yaw 20": {"round_lips": 1.0, "yaw": 20.0},
}
#: MediaPipe face-mesh points: inner lips (upper, lower), outer corners, the lips' middle, eye corners.
_INNER_PAIRS = ((82, 87), (13, 14), (312, 317))
_CORNERS = (61, 291)
_MIDDLE = (0, 17, 13, 14)
_EYES = (33, 263)


def use_pucker() -> None:
    """Turn the pucker target on for the control sets built from now on (this process only)."""
    from reconstruction import controls

    controls.DEFAULT_SETTINGS = dataclasses.replace(controls.DEFAULT_SETTINGS, pucker=True)
    controls._CACHE.clear()


def mouth_measures(landmarks: np.ndarray) -> dict[str, float]:
    """Of (478, 2+) MediaPipe landmarks, in the face's frame (the eye line horizontal, y up):
    `gap` the mean inner-lip gap over the mouth width, `width` the mouth width in eye distances,
    `lift` the corners' mean height above the lips' middle in eye distances."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    eye = p[_EYES[1]] - p[_EYES[0]]
    unit = float(np.hypot(*eye))
    c, s = eye / unit
    frame = (p - p[list(_MIDDLE)].mean(axis=0)) @ np.array([[c, s], [-s, c]]).T  # x along the eyes
    frame[:, 1] *= -1.0  # y up
    width = float(np.hypot(*(frame[_CORNERS[1]] - frame[_CORNERS[0]])))
    gap = float(np.mean([frame[u, 1] - frame[lo, 1] for u, lo in _INNER_PAIRS]))
    lift = float(np.mean(frame[list(_CORNERS), 1]))
    return {"gap": gap / width, "width": width / unit, "lift": lift / unit}


def measure(images: Path) -> None:
    """Print, per measured photo, the input's measures and the changes at round_lips 1 and at the
    clean reference raise_brows 1 (all re-detected at the photo's resolution)."""
    from reconstruction.detection import FaceDetector

    registry = EngineRegistry(fast=False)
    detector = FaceDetector()
    print(f"code: {CODE}")  # noqa: T201
    print(
        f"{'photo':44s} {'gap':>6s} {'width':>6s} {'lift':>6s} |  round_lips 1: dgap  dwidth%  dlift |  brows: dgap dwidth%  dlift"
    )  # noqa: T201, E501
    rows = []
    for name in MEASURED:
        state = prepare_photo(images / name, registry=registry)
        base = mouth_measures(detector.detect_one(state.image).face.landmarks)
        out = {}
        for label, values in (("round", {"round_lips": 1.0}), ("brows", {"raise_brows": 1.0})):
            image = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            out[label] = mouth_measures(detector.detect_one(image).face.landmarks)
        r, b = out["round"], out["brows"]
        row = (r["gap"] - base["gap"], 100 * (r["width"] / base["width"] - 1), r["lift"] - base["lift"])
        rows.append(row)
        print(  # noqa: T201
            f"{name:44s} {base['gap']:6.3f} {base['width']:6.3f} {base['lift']:+6.3f} | "
            f"{row[0]:+13.3f} {row[1]:+7.1f} {row[2]:+7.3f} | {b['gap'] - base['gap']:+11.3f} {100 * (b['width'] / base['width'] - 1):+7.1f} {b['lift'] - base['lift']:+6.3f}"
        )
    detector.close()


if __name__ == "__main__":
    if "--pucker" in sys.argv:
        sys.argv.remove("--pucker")
        use_pucker()
    if "--measure" in sys.argv:
        measure(REPO.parent / "shared" / "data" / "images")
    else:
        if "--render-into" not in sys.argv:  # "after": this tree with the pucker target on
            use_pucker()
        before_after_sheet(__doc__.splitlines()[0], __file__, PHOTOS, "pucker_sheet.jpg", edits=EDITS)
