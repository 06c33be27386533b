"""Teeth read against the lips (`PreviewSettings.own_teeth`): agreement with labels, figures, a sheet.

    python benchmarks/own_teeth_sheet.py --agreement [--images DIR]
    python benchmarks/own_teeth_sheet.py [-o docs/own_teeth_round2_sheet.jpg] [--base main] [--images DIR]

`--agreement` reads every photo labelled in docs/OWN_TEETH.md with the mouth analysis as it is
(`analyse_mouth`, `relative_teeth` off) and with teeth read against the lips (on): per photo the
label and both readings (teeth, lower teeth), the measures of rule (a), whether the analysis of
every photo whose reading does not change is the same (rule d), and the analysis' time per photo
(rule e). Otherwise every photo of `PHOTOS` (those whose reading changes, and four whose reading
does not) is rendered at open_mouth 0.5, 1 and the preset aaa by the base commit (in a subprocess,
`benchmarks.mouth_sheet.render_base`) and by this tree with `own_teeth` on; the baby's teeth kept
in its opened gap (rule b) are counted, the unchanged photos compared pixel for pixel (rule d), and
the sheet written: per photo and edit the mouth at 100 % (200 % nearest on small photos), input |
main | own teeth (`benchmarks.lower_row_sheet.mouth_rows`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The code that renders: this tree, or a base commit's export when run as the "before" subprocess.
CODE = Path(os.environ.get("MOUTH_SHEET_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from benchmarks.lower_row_sheet import EDITS, gap_profiles, mouth_rows  # noqa: E402
from benchmarks.mouth_sheet import read_render, render, render_base, write_sheet  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402

#: The photo the change is for: a soft, warm photo of a baby showing two lower teeth.
BABY = "TencentARC__GFPGAN__Justin_Timberlake_crop.png"
#: The colour of the baby's teeth in the input (rule b), and how far a teeth pixel may lie from it.
BABY_TEETH, TEETH_DISTANCE = np.array([211.0, 161.0, 138.0]), 45.0
#: Photos whose reading changes with `own_teeth` (`--agreement`): the baby, dim teeth, and two front
#: teeth under the upper lip of a wide-open mouth.
CHANGED = (BABY, "deepinsight__insightface__7242.jpg", "YadiraF__DECA__image02673.png")
#: Photos whose reading does not change: must render pixel for pixel as the base.
UNCHANGED = (
    "serengil__deepface__img1.jpg",  # both rows of teeth
    "serengil__deepface__img22.jpg",  # upper teeth only
    "davisking__dlib__John_Shimkus_000373_03228153.jpg",  # a dark opening without teeth
    "YadiraF__DECA__exp_3.jpg",  # a grimace: light skin at the lower lip, no teeth
)
PHOTOS = CHANGED + UNCHANGED


def labels() -> dict[str, str]:
    """File name -> label (U, L, UL, N, ?) of docs/OWN_TEETH.md."""
    text = (REPO / "docs" / "OWN_TEETH.md").read_text().split("## Labels", 1)[1]
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2 and p[1] in ("U", "L", "UL", "N", "?")}


def reading(interior) -> tuple[bool, bool]:  # noqa: ANN001
    """(reads teeth, reads lower teeth) of a `MouthInterior`."""
    teeth = interior.teeth is not None
    return teeth, teeth and not interior.upper_teeth_only


def _same(a, b) -> bool:  # noqa: ANN001
    fields = (f.name for f in dataclasses.fields(a))
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in fields)


def agreement(images: Path) -> None:
    """Print rule (a), (d) and (e)'s figures over the labelled photos."""
    from pipeline.mouth import analyse_mouth

    registry = EngineRegistry(fast=False)
    rows, times, changed, differs = [], {False: [], True: []}, [], []
    for name, label in labels().items():
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        prepared = state.engine_state(engine)
        lips = (prepared.points[part, :2] for part in engine.renderer.projector.layout.mouth)
        upper, lower = lips
        found = {}
        for on in (False, True):
            start = time.perf_counter()
            found[on] = analyse_mouth(prepared.source, upper, lower, relative_teeth=on)
            times[on].append(time.perf_counter() - start)
        before, after = reading(found[False]), reading(found[True])
        rows.append((name, label, before, after))
        if before != after:
            changed.append(name)
        elif not _same(found[False], found[True]):
            differs.append(name)
        print(f"{label:3s} main {before} own {after} {name}")  # noqa: T201
    for title, over, index in (
        ("teeth recall", ("U", "L", "UL"), 0),
        ("lower recall", ("L", "UL"), 1),
        ("false teeth", ("N",), 0),
        ("false lower teeth", ("U",), 1),
    ):
        picked = [r for r in rows if r[1] in over]
        was, now = (sum(r[k][index] for r in picked) for k in (2, 3))
        print(f"{title:18s} over {len(picked):3d} photos: main {was}, own teeth {now}")  # noqa: T201
    print("reading changes:", changed)  # noqa: T201
    print("same reading, other analysis:", differs or "none")  # noqa: T201
    for on in (False, True):
        ms = 1000.0 * np.array(times[on])
        print(f"analyse_mouth relative_teeth={on}: median {np.median(ms):.2f} ms, max {ms.max():.2f} ms")  # noqa: T201


def teeth_pixels(image: np.ndarray, profiles: list[tuple[int, int, int]]) -> int:
    """Pixels of the baby's teeth colour between the inner lips of `profiles` ((x, top, bottom))."""
    count = 0
    for x, top, bottom in profiles:
        column = image[top : bottom + 1, x].astype(np.float64)
        count += int((np.linalg.norm(column - BABY_TEETH, axis=1) < TEETH_DISTANCE).sum())
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "own_teeth_round2_sheet.jpg")
    parser.add_argument("--base", default="main", help="the commit rendered as 'main'")
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--agreement", action="store_true", help="only rule (a), (d) and (e)'s figures")
    parser.add_argument("--keep", type=Path, default=None, help="keep the renders (before/, after/) here")
    parser.add_argument("--render-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_into is not None:
        render(args.images, args.render_into, PHOTOS, EDITS)
        return
    if args.agreement:
        agreement(args.images)
        return
    registry = EngineRegistry(fast=False)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        before, after = root / "before", root / "after"
        for folder in (before, after):
            folder.mkdir(parents=True, exist_ok=True)
        render_base(args.base, args.images, before, __file__)
        render(args.images, after, PHOTOS, EDITS, {"own_teeth": True})
        state = prepare_photo(args.images / BABY, registry=registry)
        kept = teeth_pixels(state.image, gap_profiles(state, {}, registry))
        print(f"{BABY}: teeth pixels in the input's opening {kept}")  # noqa: T201
        for k, label in enumerate(EDITS):
            profiles = gap_profiles(state, EDITS[label], registry)
            was, now = (teeth_pixels(read_render(f, BABY, k), profiles) for f in (before, after))
            print(f"  {label:15s} in the opened gap: main {was}, own teeth {now} ({now / max(kept, 1):.0%})")  # noqa: T201
        for name in UNCHANGED:
            same = all(
                np.array_equal(read_render(before, name, k), read_render(after, name, k))
                for k in range(len(EDITS))
            )
            print(f"{name:52s} identical to main: {same}")  # noqa: T201
        rows = [row for name in PHOTOS for row in mouth_rows(name, args.images, before, after, registry)]
        width = max(row.shape[1] for row in rows)
        rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    # docs/ holds sheets under 600 KB: the lowest JPEG quality that is needed.
    for quality in (85, 75, 65, 55, 45):
        write_sheet(rows, args.out, quality)
        if args.out.stat().st_size < 600_000:
            break


if __name__ == "__main__":
    main()
