"""Contact sheet of the round lips ("ooo"): input | before (a base commit) | after (this tree).

    python benchmarks/round_lips_sheet.py [-o docs/round_lips_sheet.jpg] [--base main] [--images DIR]
    python benchmarks/round_lips_sheet.py --lines [--base main]

round_lips 0.5 and 1 and the preset ooo on eight photos of ../shared/data/images (closed, parted
and smiling lips, a full beard, a 256-px photo): the head scaled to 300 px high, then the mouth at
100 % (200 % nearest on photos under 700 px). "Before" is the base commit's code, run in a
subprocess on its `git archive` export. Look at the sheet at full size.

`--lines` measures instead the dark lines beside the mouth's corners at the photo's resolution
(`line_score`, docs/CONTROLS.md "Round lips, round 2"): per photo, the input's own score over the
same segments as the base's round_lips 1, then base and this tree at round_lips 1 and ooo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import before_after_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from reconstruction.controls import PRESETS  # noqa: E402

PHOTOS = (
    "OpenTalker__SadTalker__people_0.png",  # closed lips
    "KwaiVGI__LivePortrait__s2.jpg",  # parted lips, black and white
    "cmusatyalab__openface__carell.jpg",  # a closed smile, stubble
    "serengil__deepface__img1.jpg",  # a wide smile showing teeth
    "sicxu__Deep3DFaceRecon_pytorch__015316.jpg",  # closed lips, low light
    "dchen236__FairFace__race_Black.jpg",
    "serengil__deepface__img16.jpg",  # full beard
    "yzhou359__MakeItTalk__chris2.jpg",  # 256 px, grey beard
)
EDITS = {
    "round_lips 0.5": {"round_lips": 0.5},
    "round_lips 1": {"round_lips": 1.0},
    "ooo": dict(PRESETS["ooo"]),
}
#: The edits whose lines are measured.
MEASURED = ("round_lips 1", "ooo")
_LUMA = np.array([0.299, 0.587, 0.114])


def line_score(image: np.ndarray, bands: list[tuple[np.ndarray, np.ndarray]], reach: float) -> float:
    """Darkness of thin lines in `bands` ((start, end) photo points each) of the (H, W, 3) uint8
    `image`: at 12 points from 10 % to 100 % of the way, the luma across the band at offsets
    |o| <= `reach` px, its median minus its minimum (clipped at 0), averaged over points and bands."""
    luma = image.astype(np.float64) @ _LUMA
    h, w = luma.shape
    offsets = np.arange(-np.ceil(reach), np.ceil(reach) + 1)
    scores = []
    for start, end in bands:
        along = end - start
        length = float(np.hypot(*along))
        if length < 1.0:
            continue
        normal = np.array([-along[1], along[0]]) / length
        for f in np.linspace(0.1, 1.0, 12):
            p = start + f * along
            xs = np.clip(np.rint(p[0] + offsets * normal[0]).astype(int), 0, w - 1)
            ys = np.clip(np.rint(p[1] + offsets * normal[1]).astype(int), 0, h - 1)
            profile = luma[ys, xs]
            scores.append(max(float(np.median(profile) - profile.min()), 0.0))
    return float(np.mean(scores)) if scores else 0.0


def _bands(lip: np.ndarray, length: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """From each corner of the (K, 2) lip curve, `length` px outward along the curve's axis."""
    axis = (lip[-1] - lip[0]) / max(float(np.hypot(*(lip[-1] - lip[0]))), 1e-6)
    return [(lip[0], lip[0] - length * axis), (lip[-1], lip[-1] + length * axis)]


def measure_lines(images: Path) -> dict[str, dict[str, float]]:
    """Per photo: the line score of each measured edit beside the target's corners, and of the input
    beside its own corners over bands as long as round_lips 1's."""
    registry = EngineRegistry(fast=False)
    scores: dict[str, dict[str, float]] = {}
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        renderer, engine_state = engine.renderer, state.engine_state(engine)
        upper = renderer.projector.layout.mouth[0]
        to_photo = state.crop_transform.inverse_points
        source = to_photo(engine_state.points[upper, :2])
        reach = 0.08 * float(np.hypot(*(source[-1] - source[0])))
        scores[name] = {}
        for label in MEASURED:
            result = edit(state, EditRequest(values=EDITS[label], engine="preview"), registry=registry)
            target = to_photo(renderer._target_points(engine_state, result.coeffs)[upper, :2])
            length = 1.5 * float(np.mean([np.hypot(*(target[k] - source[k])) for k in (0, -1)]))
            scores[name][label] = line_score(result.full_image, _bands(target, length), reach)
            if label == "round_lips 1":
                scores[name]["input"] = line_score(state.image, _bands(source, length), reach)
    return scores


def lines(base: str, images: Path) -> None:
    """Print the line scores of `base` (measured on its export in a subprocess) and of this tree."""
    with tempfile.TemporaryDirectory() as code:
        archive = subprocess.run(["git", "archive", base], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        env = {**os.environ, "MOUTH_SHEET_CODE": code}
        command = [sys.executable, str(Path(__file__).resolve()), "--lines-json", "--images", str(images)]
        before = json.loads(
            subprocess.run(command, cwd=code, env=env, check=True, capture_output=True).stdout
        )
    after = measure_lines(images)
    print(
        f"{'photo':44s} {'input':>6s} "
        + " ".join(f"{k + ' ' + v:>15s}" for k in MEASURED for v in ("base", "new"))
    )  # noqa: T201
    for name in PHOTOS:
        row = " ".join(f"{before[name][k]:15.1f} {after[name][k]:15.1f}" for k in MEASURED)
        print(f"{name:44s} {before[name]['input']:6.1f} {row}")  # noqa: T201
    mean = lambda s: float(np.mean([s[n][k] for n in PHOTOS for k in MEASURED]))  # noqa: E731
    print(
        f"mean over photos and {', '.join(MEASURED)}: base {mean(before):.2f}, new {mean(after):.2f}, "  # noqa: T201
        f"change {100 * (mean(after) / mean(before) - 1):+.0f} %"
    )


if __name__ == "__main__":
    if "--lines-json" in sys.argv:
        images = Path(sys.argv[sys.argv.index("--images") + 1])
        print(json.dumps(measure_lines(images)))  # noqa: T201
    elif "--lines" in sys.argv:
        base = sys.argv[sys.argv.index("--base") + 1] if "--base" in sys.argv else "main"
        lines(base, REPO.parent / "shared" / "data" / "images")
    else:
        before_after_sheet(
            __doc__.splitlines()[0], __file__, PHOTOS, "round_lips_sheet.jpg", quality=82, edits=EDITS
        )
