"""Contact sheet of motions that read from beyond the photo's edge: input | before | now.

    python benchmarks/frame_edge_sheet.py [-o docs/frame_edge_sheet.jpg] [--images DIR]

Photos whose head or neck touches the frame, at the edits that pull content in from past the edge.
"Before" repeats the edge's last row for reads past it (the remap's replicated border), "now" keeps
reads inside the frame (`reconstruction.frame_edge`). Each tile is the band of the photo along the
edge the motion reads past (a quarter of the photo's size deep; the middle half along a side edge), at 100 % (scaled down
to fit).
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mouth_sheet import WIDTH, run_sheet  # noqa: E402
from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

#: Photo, the edits, and the edge the motion reads past.
CASES = {
    "cmusatyalab__openface__lennon-1.jpg": (("pitch=-15", "pitch=-10,yaw=15"), "bottom"),
    "deepinsight__insightface__Teresa_Williams_0001_1k.jpg": (("pitch=-15", "roll=15"), "bottom"),
    "KwaiVGI__LivePortrait__d38.jpg": (("pitch=15", "move_y=-8"), "top"),
    "tanshuai0219__EDTalk__uncrop_face.jpg": (("yaw=30", "move_x=8"), "left"),
}


def _absolute_reads_replicated(shift, origin, frame, reach):  # noqa: ANN001, ANN202 - the old path
    map_x, map_y = shift[..., 0], shift[..., 1]
    map_x += np.arange(origin[0], origin[0] + shift.shape[1], dtype=np.float32)
    map_y += np.arange(origin[1], origin[1] + shift.shape[0], dtype=np.float32)[:, None]
    return map_x, map_y


def _band(image: np.ndarray, edge: str) -> np.ndarray:
    h, w = image.shape[:2]
    depth = max(h, w) // 4
    return {
        "bottom": image[h - depth :],
        "top": image[:depth],
        "left": image[h // 4 : 3 * h // 4, :depth],
        "right": image[h // 4 : 3 * h // 4, w - depth :],
    }[edge]


def _label(image: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((24, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def rows_for(path: Path, registry: EngineRegistry) -> list[np.ndarray]:
    edits, edge = CASES[path.name]
    state = prepare_photo(path, registry=registry)
    rows = []
    for text in edits:
        values = {k: float(v) for k, v in (part.split("=") for part in text.split(","))}
        request = EditRequest(values=values, engine="preview")
        now = edit(state, request, registry=registry).full_image
        with mock.patch("reconstruction.crop.absolute_reads_in_frame", _absolute_reads_replicated):
            before = edit(state, request, registry=registry).full_image
        tiles = [_band(image, edge) for image in (state.image, before, now)]
        scale = min(1.0, (WIDTH - 24) / (3 * tiles[0].shape[1]))
        if scale < 1.0:
            tiles = [cv2.resize(t, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for t in tiles]
        titles = (f"{path.name} {text} ({100 * scale:.0f} %): input", "before", "now")
        gap = np.full((tiles[0].shape[0] + 24, 12, 3), 255, np.uint8)
        parts = [_label(t, title) for t, title in zip(tiles, titles, strict=True)]
        row = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
        rows.append(np.pad(row, ((0, 12), (0, WIDTH - row.shape[1]), (0, 0)), constant_values=255))
    return rows


if __name__ == "__main__":
    run_sheet(__doc__.splitlines()[0], "frame_edge_sheet.jpg", tuple(CASES), rows_for, quality=85)
