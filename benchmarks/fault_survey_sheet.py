"""Fault survey of today's default output: the ranked table, example crops, every fault's crop.

    python benchmarks/fault_survey_sheet.py                     # docs/fault_survey_sheet.jpg + table
    python benchmarks/fault_survey_sheet.py --table             # print the ranked table only
    python benchmarks/fault_survey_sheet.py --crops /tmp/faults  # a crop of every recorded fault

The faults were recorded by eye (docs/FAULT_SURVEY.md, method) in docs/fault_survey_faults.tsv: one
line per photo, edit and fault kind, with a glare of 1-3. This script does not judge anything; it
ranks the kinds from that file (score = the sum over photos of each photo's worst glare for the kind,
i.e. photos x mean glare) and re-renders the chosen examples with the Python API at the photo's
resolution and default settings, so the sheet shows exactly what a user gets.

Crops are cut around MediaPipe landmarks of the photo's own fit (mouth, eyes, jaw, the whole head,
or its picture-left / picture-right half when the recorded text says which side). A crop is shown
on the sheet scaled to one height (the label gives the scale: small photos enlarged, large ones
reduced); `--crops` writes them at 100 %.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline import EditRequest, EngineRegistry, edit, prepare_photo  # noqa: E402

FAULTS = REPO / "docs" / "fault_survey_faults.tsv"
IMAGES = REPO.parent / "shared" / "data" / "images"
TILE = 240  # every crop is scaled to this height on the sheet (the label gives the scale)
MOUTH_EDITS = ("open_mouth", "round_lips", "smile")

# MediaPipe face-mesh indices (478-point topology) used to place the crops.
MOUTH = (61, 291, 0, 17)
EYES = (33, 133, 362, 263)
CHIN = 152
NOSE = 1

# The sheet's examples per kind: (photo, edit text, region), 1-3 each, chosen from the recorded faults
# with glare 3 where there is one, on photos small enough to be seen near 100 %.
EXAMPLES: dict[str, list[tuple[str, str, str]]] = {
    "jaw_turn": [
        ("ageitgey__face_recognition__obama-240p.jpg", "yaw=30", "jaw"),
        ("justadudewhohacks__face-api.js__sad.jpg", "yaw=30", "jaw"),
        ("YadiraF__DECA__image02246.jpg", "yaw=30", "jaw"),
    ],
    "mouth_slot": [
        ("YadiraF__DECA__teaser_2.png", "round_lips=1", "mouth"),
        ("serengil__deepface__img16.jpg", "round_lips=1", "mouth"),
        ("deepinsight__insightface__image_T1.jpeg", "round_lips=1", "mouth"),
    ],
    "shut_lids": [
        ("justadudewhohacks__face-api.js__sad.jpg", "close_eyes=1", "eyes"),
        ("justadudewhohacks__face-api.js__raj1.png", "close_eyes=1", "eyes"),
        ("sczhou__CodeFormer__089_Miley_Cyrus_00.png", "close_eyes=1", "eyes"),
    ],
    "near_rim": [
        ("YadiraF__DECA__IMG_0392_inputs.jpg", "yaw=30", "left"),
        ("justadudewhohacks__face-api.js__raj1.png", "yaw=30", "left"),
        ("serengil__deepface__img18.jpg", "yaw=30", "left"),
    ],
    "teeth": [
        ("serengil__deepface__img39.jpg", "open_mouth=1", "mouth"),
        ("sczhou__CodeFormer__089_Miley_Cyrus_00.png", "open_mouth=1", "mouth"),
        ("YadiraF__DECA__IMG_0392_inputs.jpg", "open_mouth=1", "mouth"),
    ],
    "background_bend": [
        ("RenYurui__PIRender__id11248-QdBQTHX55yI-021933-022196_00274.jpg", "yaw=-30", "head"),
        ("ageitgey__face_recognition__obama-240p.jpg", "yaw=30", "head"),
        ("deepinsight__insightface__mask.png", "yaw=30", "head"),
    ],
    "mouth_rim": [
        ("justadudewhohacks__face-api.js__raj1.png", "open_mouth=1", "mouth"),
        ("sczhou__CodeFormer__Solvay_conference_1927_0018.png", "open_mouth=1", "mouth"),
        ("KwaiVGI__LivePortrait__s11.jpg", "open_mouth=1", "mouth"),
    ],
    "far_side": [
        ("YadiraF__DECA__image02246.jpg", "yaw=30", "head"),
        ("YadiraF__PRNet__image02545.jpg", "yaw=30", "head"),
        ("deepinsight__insightface__left_wryneck.png", "yaw=30", "head"),
    ],
    "glasses": [
        ("sczhou__CodeFormer__0717.png", "raise_brows=1", "eyes"),
        ("sczhou__CodeFormer__Solvay_conference_1927_0018.png", "raise_brows=1", "eyes"),
        ("serengil__deepface__img24.jpg", "raise_brows=1", "eyes"),
    ],
    "hair": [
        ("YadiraF__PRNet__image01322.jpg", "yaw=-30", "head"),
        ("sicxu__Deep3DFaceRecon_pytorch__000126.jpg", "yaw=30", "head"),
        ("yzhou359__MakeItTalk__hound.jpg", "yaw=30", "head"),
    ],
    "skull_outline": [
        ("justadudewhohacks__face-api.js__disgusted.jpg", "yaw=-30", "head"),
        ("YadiraF__DECA__teaser_2.png", "yaw=-30", "head"),
    ],
    "occluder": [
        ("deepinsight__insightface__mask.png", "open_mouth=1", "mouth"),
        ("YadiraF__PRNet__image01322.jpg", "open_mouth=1", "mouth"),
        ("deepinsight__insightface__close_eyes.jpeg", "yaw=-30", "head"),
    ],
    "chin_stretch": [
        ("sczhou__CodeFormer__Solvay_conference_1927_0018.png", "pitch=-15", "jaw"),
        ("davisking__dlib__John_Salley_000179_02159509.jpg", "pitch=-15", "jaw"),
    ],
}


@dataclass(frozen=True)
class Fault:
    photo: str
    edit: str
    kind: str
    glare: int
    text: str


def read_faults(path: Path = FAULTS) -> list[Fault]:
    with path.open(newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Fault(r["photo"], r["edit"], r["kind"], int(r["glare"]), r["what and where"]) for r in rows]


def ranked(faults: list[Fault]) -> list[tuple[str, int, float, int]]:
    """(kind, photos, mean glare, score) best first; a photo counts once per kind, at its worst glare."""
    worst: dict[str, dict[str, int]] = defaultdict(dict)
    for f in faults:
        worst[f.kind][f.photo] = max(worst[f.kind].get(f.photo, 0), f.glare)
    rows = [(k, len(v), sum(v.values()) / len(v), sum(v.values())) for k, v in worst.items()]
    return sorted(rows, key=lambda r: (-r[3], -r[1], r[0]))


def parse_edit(text: str) -> dict[str, float]:
    return {name.strip(): float(value) for name, value in (part.split("=") for part in text.split(","))}


def region(points: np.ndarray, name: str, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A crop box (x0, y0, x1, y1) in photo pixels around the named part of the fitted face."""
    xy = points[:, :2]
    (fx0, fy0), (fx1, fy1) = xy.min(0), xy.max(0)
    size = max(fx1 - fx0, fy1 - fy0)
    if name == "mouth":
        cx, cy = xy[list(MOUTH)].mean(0)
        box = (cx - 0.38 * size, cy - 0.25 * size, cx + 0.38 * size, cy + 0.3 * size)
    elif name == "eyes":
        cx, cy = xy[list(EYES)].mean(0)
        box = (cx - 0.55 * size, cy - 0.3 * size, cx + 0.55 * size, cy + 0.2 * size)
    elif name == "jaw":
        chin_y = xy[CHIN, 1]
        box = (fx0 - 0.2 * size, chin_y - 0.4 * size, fx1 + 0.2 * size, chin_y + 0.35 * size)
    else:  # head, left, right
        box = (fx0 - 0.35 * size, fy0 - 0.45 * size, fx1 + 0.35 * size, fy1 + 0.3 * size)
        nose_x = xy[NOSE, 0]
        if name == "left":
            box = (box[0], box[1], nose_x + 0.1 * size, box[3])
        elif name == "right":
            box = (nose_x - 0.1 * size, box[1], box[2], box[3])
    h, w = shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    return x0, y0, min(w, int(box[2])), min(h, int(box[3]))


def region_for(fault: Fault) -> str:
    """The crop a recorded fault is seen in: by the edit and the kind, narrowed by the side named."""
    if fault.kind in ("shut_lids", "glasses", "brow_patch"):
        return "eyes"
    if fault.kind in ("jaw_turn", "chin_stretch"):
        return "jaw"
    if fault.kind in ("mouth_slot", "teeth", "mouth_rim", "beard") or (
        fault.kind == "occluder" and fault.edit.split("=")[0] in MOUTH_EDITS
    ):
        return "mouth"
    if "picture left" in fault.text:
        return "left"
    if "picture right" in fault.text:
        return "right"
    return "head"


class Renderer:
    """Prepares each photo once and renders edits at the photo's resolution, default settings."""

    def __init__(self) -> None:
        self.registry = EngineRegistry(fast=False)
        self._states: dict[str, object] = {}

    def state(self, photo: str):  # noqa: ANN201
        if photo not in self._states:
            self._states[photo] = prepare_photo(IMAGES / photo, registry=self.registry)
        return self._states[photo]

    def pair(self, photo: str, edit_text: str, part: str) -> tuple[np.ndarray, np.ndarray]:
        """Input and result, cropped to `part`, RGB."""
        state = self.state(photo)
        result = edit(
            state, EditRequest(values=parse_edit(edit_text), engine="preview"), registry=self.registry
        )
        points = state.crop_transform.inverse_points(np.asarray(state.analysis.crop_landmarks))
        x0, y0, x1, y1 = region(points, part, state.image.shape[:2])
        return state.image[y0:y1, x0:x1], result.full_image[y0:y1, x0:x1]


def tile(image: np.ndarray, label: str) -> np.ndarray:
    """Scaled to TILE high, the label and the scale on a strip above, BGR."""
    scale = TILE / image.shape[0]
    filter_ = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), TILE), interpolation=filter_)
    text = f"{label} {round(scale * 100)}%"
    out = cv2.copyMakeBorder(
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR), 20, 4, 2, 2, cv2.BORDER_CONSTANT, value=(30, 30, 30)
    )
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 255, 255), 1, cv2.LINE_AA)
    return out


def hstack(tiles: list[np.ndarray], height: int) -> np.ndarray:
    padded = [
        cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        for t in tiles
    ]
    return np.hstack(padded)


def short(photo: str) -> str:
    return Path(photo).stem.split("__")[-1][:18]


def build_sheet(out: Path, order: list[str], renderer: Renderer) -> None:
    rows = []
    for rank, kind in enumerate(order, 1):
        title = np.full((TILE + 24, 150, 3), 30, np.uint8)
        cv2.putText(
            title, f"{rank}. {kind}", (6, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
        )
        tiles = [title]
        for photo, edit_text, part in EXAMPLES[kind]:
            before, after = renderer.pair(photo, edit_text, part)
            tiles += [tile(before, f"{short(photo)} input"), tile(after, edit_text)]
        rows.append(hstack(tiles, max(t.shape[0] for t in tiles)))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack(
        [
            cv2.copyMakeBorder(r, 0, 6, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(0, 0, 0))
            for r in rows
        ]
    )
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{out}: {sheet.shape[1]}x{sheet.shape[0]}, {out.stat().st_size / 1e6:.2f} MB")


def write_crops(folder: Path, faults: list[Fault], renderer: Renderer) -> None:
    """Input | result crop of every recorded fault, at 100 %, one PNG each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(faults):
        before, after = renderer.pair(f.photo, f.edit, region_for(f))
        pair = np.hstack([before, after])
        name = f"{i:03d}_{f.kind}_{short(f.photo)}_{f.edit.replace('=', '').replace(',', '_')}.png"
        cv2.imwrite(str(folder / name), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "fault_survey_sheet.jpg")
    parser.add_argument("--table", action="store_true", help="print the ranked table only")
    parser.add_argument("--crops", type=Path, help="write a crop of every recorded fault into this folder")
    args = parser.parse_args()
    faults = read_faults()
    table = ranked(faults)
    print("| rank | kind | photos | mean glare | score |\n| --- | --- | --- | --- | --- |")
    for rank, (kind, photos, glare, score) in enumerate(table, 1):
        print(f"| {rank} | {kind} | {photos} | {glare:.2f} | {score} |")
    if args.table:
        return
    renderer = Renderer()
    if args.crops:
        write_crops(args.crops, faults, renderer)
        return
    build_sheet(args.out, [kind for kind, *_ in table if kind in EXAMPLES], renderer)


if __name__ == "__main__":
    main()
