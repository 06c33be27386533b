"""Contact sheet of the mouth look network on real photos: input | geometric (before) | network (after).

    python benchmarks/mouth_net_sheet.py [-o docs/mouth_net_sheet.jpg] [--weights DIR] [--constant]

The rule's four photos and edits (open_mouth 0.5 and 1, aaa, ooo; `benchmarks/mouth_sheet.py`'s
rows: the head scaled to 300 px high, then the mouth at 100 % of the photo's pixels, 200 % nearest
under 700 px), each rendered at the photo's resolution by this tree's geometric engine with the
network off and on (`PreviewSettings.mouth_net`), in one process; with `--constant`, "after" is the
painter with the training pairs' mean fitted look of the weights' `training.json` (no network).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import EDITS, photo_rows, write_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.mouth_look import MouthLook  # noqa: E402
from pipeline.mouth_look_net import bundled_look_net  # noqa: E402

PHOTOS = (
    "serengil__deepface__img1.jpg",  # a wide smile showing both rows of teeth
    "serengil__deepface__img3.jpg",  # closed lips
    "KwaiVGI__LivePortrait__s2.jpg",  # closed lips, black and white
    "ageitgey__face_recognition__biden2.jpg",  # upper teeth, a little of the lower
)


def render(
    images: Path,
    folder: Path,
    registry: EngineRegistry,
    network: bool,
    weights: Path | None,
    look: MouthLook | None = None,
) -> None:
    """Every edit of every photo as `folder`/<photo stem>__<edit index>.png (full resolution),
    with the network (`network`, from `weights`) or a fixed `look`."""
    for name in PHOTOS:
        state = prepare_photo(images / name, registry=registry)
        engine = registry.geometric(state.backend)
        renderer = engine.renderer
        renderer.settings = dataclasses.replace(renderer.settings, mouth_net=network, mouth_look=look)
        if network and weights is not None:
            renderer._look_net = bundled_look_net(renderer.face_model, weights)
        for k, values in enumerate(EDITS.values()):
            out = edit(state, EditRequest(values=values, engine="preview"), registry=registry).full_image
            cv2.imwrite(str(folder / f"{Path(name).stem}__{k}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "mouth_net_sheet.jpg")
    parser.add_argument(
        "--weights", type=Path, default=None, help="a trained network's folder (default: shipped)"
    )
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    parser.add_argument("--keep", type=Path, default=None, help="also keep the full-resolution PNGs here")
    parser.add_argument("--quality", type=int, default=82)
    parser.add_argument("--constant", action="store_true", help="the mean fitted look instead of the network")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    with tempfile.TemporaryDirectory() as without, tempfile.TemporaryDirectory() as with_net:
        folders = (Path(args.keep) / "geometric", Path(args.keep) / "network") if args.keep else None
        before, after = folders or (Path(without), Path(with_net))
        before.mkdir(parents=True, exist_ok=True)
        after.mkdir(parents=True, exist_ok=True)
        render(args.images, before, registry, False, None)
        if args.constant:
            record = json.loads((args.weights / "training.json").read_text())
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in record["mean_look"].items()}
            render(args.images, after, registry, False, None, MouthLook(**values))
        else:
            render(args.images, after, registry, True, args.weights)
        rows = [row for name in PHOTOS for row in photo_rows(name, args.images, before, after, registry)]
    write_sheet(rows, args.out, args.quality)


if __name__ == "__main__":
    main()
