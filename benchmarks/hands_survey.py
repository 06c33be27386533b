"""Which photos show a hand at the face, and what finding it costs.

    python benchmarks/hands_survey.py [--data ../shared/data/images]

Prepares every photo of --data (largest face) and prints, per photo, how many hands touching the
face `pipeline.hands.covering_hands` found and how long the search took (it runs once per photo,
when the photo is prepared), then one JSON record: the photos with a hand, and the search time's
median and maximum over all photos. (The sheet of the hold that was tried, input | before | held,
was made by `benchmarks/hands_sheet.py` at commit aaed00d; docs/HANDS.md.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.errors import PIRenderError  # noqa: E402
from pipeline import EngineRegistry, prepare_photo  # noqa: E402
from pipeline.hands import covering_hands  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "images")
    args = parser.parse_args()
    registry = EngineRegistry()
    found, seconds = {}, []
    for path in sorted(args.data.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        try:
            state = prepare_photo(path, registry=registry)
        except PIRenderError as error:
            print(f"{path.name}: not prepared ({type(error).__name__})", flush=True)  # noqa: T201
            continue
        t0 = time.perf_counter()
        hands = covering_hands(state.analysis)
        seconds.append(time.perf_counter() - t0)
        if hands:
            found[path.name] = len(hands)
        print(f"{path.name}: {len(hands)} hand(s) at the face, {seconds[-1]:.3f} s", flush=True)  # noqa: T201
    record = {
        "photos": len(seconds),
        "with_a_hand_at_the_face": found,
        "search_s_median": round(float(np.median(seconds)), 3),
        "search_s_max": round(float(np.max(seconds)), 3),
    }
    print(json.dumps(record, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
