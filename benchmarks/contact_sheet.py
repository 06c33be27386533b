"""Contact sheet of edits on real photos: input | former output | current output, at full resolution.

    python benchmarks/contact_sheet.py PHOTO [PHOTO ...] -o docs/sheet.jpg [--edits yaw=30 open_mouth=1 ...]

Each row is one edit of one photo, cropped around the head from the full-resolution result and
scaled to a common height. "Former" is the geometric renderer's 256 px crop pasted back by adding
its change to the photo (the former default); "current" is `pipeline.edit` as the app, the CLI and
the API run it now. With `--head`, the middle column is the default geometric renderer and the
last one the whole-head proxy (`PreviewSettings(head=True)`), both placed at full resolution.
Look at the sheet at full size before trusting any metric.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402
from pipeline.geometric import GeometricRenderer, PreviewSettings  # noqa: E402
from pipeline.photo import Canvas, place_frame  # noqa: E402
from training.evaluation.self_reenactment import former_residual_paste  # noqa: E402

DEFAULT_EDITS = (
    "yaw=-30",
    "yaw=-15",
    "yaw=15",
    "yaw=30",
    "pitch=-15",
    "pitch=15",
    "roll=15",
    "move_x=5",
    "open_mouth=1",
    "smile=1",
    "close_eyes=1",
)


def _parse(edit_text: str) -> dict[str, float]:
    values = {}
    for part in edit_text.split(","):
        name, value = part.split("=")
        values[name.strip()] = float(value)
    return values


def _head_box(state, image_shape: tuple[int, int]) -> tuple[int, int, int, int]:  # noqa: ANN001
    x0, y0, x1, y1 = state.crop_transform.box
    h, w = image_shape
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2, cv2.LINE_AA)
    return out


def _head_proxy_frames(state, registry: EngineRegistry):  # noqa: ANN001, ANN202
    """A function rendering a target with the whole-head proxy on the photo's crop."""
    model = registry.geometric(state.backend).renderer.projector.model
    renderer = GeometricRenderer(model, PreviewSettings(head=True))
    proxy_state = renderer.prepare(state.crop, state.coefficients, transform=state.crop_transform)
    return lambda target: renderer.render_frame(proxy_state, target)


def sheet_rows(
    photo: Path, edits: list[str], registry: EngineRegistry, height: int, *, head: bool = False
) -> list[np.ndarray]:
    state = prepare_photo(photo, registry=registry)
    proxy = _head_proxy_frames(state, registry) if head else None
    x0, y0, x1, y1 = _head_box(state, state.image.shape[:2])
    scale = height / (y1 - y0)

    def tile(image: np.ndarray) -> np.ndarray:
        part = image[y0:y1, x0:x1]
        return cv2.resize(part, (round(part.shape[1] * scale), height), interpolation=cv2.INTER_AREA)

    rows = []
    for text in edits:
        request = EditRequest(values=_parse(text), engine="preview")
        current = edit(state, request, registry=registry)
        canvas = Canvas(state.image, state.crop_transform)
        if proxy is None:
            middle, last, names = (
                former_residual_paste(canvas, current.crop),
                current.full_image,
                "former | current",
            )
        else:
            middle, last, names = (
                current.full_image,
                place_frame(canvas, proxy(current.coeffs)),
                "default | head",
            )
        row = np.concatenate([tile(state.image), tile(middle), tile(last)], axis=1)
        rows.append(_label(row, f"{photo.name[:40]}  {text}   input | {names}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help=".jpg or .png")
    parser.add_argument("--edits", nargs="+", default=list(DEFAULT_EDITS), help="NAME=VALUE[,NAME=VALUE]")
    parser.add_argument("--height", type=int, default=360, help="pixels per row")
    parser.add_argument("--head", action="store_true", help="columns input | default | head proxy")
    args = parser.parse_args()
    registry = EngineRegistry(fast=False)
    rows = []
    for photo in args.photos:
        rows.extend(sheet_rows(photo, args.edits, registry, args.height, head=args.head))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    sheet = cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    sys.stdout.write(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]})\n")


if __name__ == "__main__":
    main()
