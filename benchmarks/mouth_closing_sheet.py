"""Contact sheet of a mouth the target closes: input | closed before (a base commit) | closed after | half after.

    python benchmarks/mouth_closing_sheet.py [-o docs/mouth_closing_sheet.jpg] [--base main]

Per photo of `benchmarks/bench_mouth_closing.py` (open mouths with teeth, then closed lips), the
mouth at 100 % (photo pixels, never scaled down; 200 % nearest where the crop is under 200 px
wide): the input, the target whose mesh inner-lip gap is 0 rendered by the base commit's code
(exported with `git archive`, run in a subprocess) and by this tree, and this tree's target at
half the photo's gap. Each label gives the opening MediaPipe re-detects (inner-lip gap / mouth
width). Look at the sheet at full size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_mouth_closing.py"


def run_bench(tree: Path, folder: Path) -> dict:
    """Render and re-detect with the code in `tree`, crops and record into `folder`."""
    env = {**os.environ, "BENCH_TREE": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    subprocess.run(
        [sys.executable, str(BENCH), "--save", str(folder)], env=env, check=True, capture_output=True
    )
    return json.loads((folder / "curve.json").read_text())


def _tile(image: np.ndarray, text: str) -> np.ndarray:
    if image.shape[1] < 200:
        image = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    band = np.full((22, max(image.shape[1], 150), 3), 255, np.uint8)
    cv2.putText(band, text, (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    body = np.full((image.shape[0], band.shape[1], 3), 255, np.uint8)
    body[:, : image.shape[1]] = image
    return np.vstack([band, body])


def _row(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 6), (0, 0)), constant_values=255) for t in tiles]
    return np.hstack(padded)


def sheet(before: Path, after: Path, record_before: dict, record_after: dict) -> np.ndarray:
    rows = []
    for photo in dict.fromkeys(r["photo"] for r in record_after["rows"]):
        mine = [r for r in record_after["rows"] if r["photo"] == photo]
        theirs = {r["crop"]: r for r in record_before["rows"] if r["photo"] == photo}
        shut = min(mine, key=lambda r: abs(r["target_gap"]))
        half = min(mine, key=lambda r: abs(r["target_gap"] - 0.5 * r["own_gap"]))
        crop = cv2.imread(str(after / f"{photo}_input.png"))[:, :, ::-1]
        tiles = [_tile(crop, f"{photo}: reads {shut['photo_reads']:.3f}")]
        old = theirs.get(shut["crop"])
        if old is not None:
            tiles.append(
                _tile(cv2.imread(str(before / old["crop"]))[:, :, ::-1], f"gap 0 before: {old['reads']:.3f}")
            )
        tiles.append(
            _tile(cv2.imread(str(after / shut["crop"]))[:, :, ::-1], f"gap 0 after: {shut['reads']:.3f}")
        )
        if shut["open"] and half is not shut:
            tiles.append(
                _tile(cv2.imread(str(after / half["crop"]))[:, :, ::-1], f"half after: {half['reads']:.3f}")
            )
        rows.append(_row(tiles))
    width = max(r.shape[1] for r in rows)
    return np.vstack(
        [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "mouth_closing_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendering 'before'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.base], cwd=REPO, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        record_before, record_after = run_bench(base, before), run_bench(REPO, after)
        image = sheet(before, after, record_before, record_after)
    cv2.imwrite(str(args.out), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    sys.stdout.write(json.dumps({"sheet": str(args.out), "size": list(image.shape[:2])}) + "\n")


if __name__ == "__main__":
    main()
