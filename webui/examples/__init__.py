"""Example photos offered by the Edit, Reenact and Audio tabs.

One photo ships with the package: `astronaut-face.jpg` (288 x 288 px, 25 KB), the head and
shoulders of scikit-image's `astronaut` (Eileen Collins, NASA photograph STS063-S-001, public
domain), cropped from `skimage.data.astronaut()[0:288, 80:368]` so the face fills the frame and
every slider's effect is visible at once (in the full 512 px picture the face is 107 px wide).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExamplePhoto", "EXAMPLES", "example_photos"]

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ExamplePhoto:
    """One example: file name, caption shown in the app, and where it comes from."""

    filename: str
    caption: str
    source: str
    licence: str


EXAMPLES: tuple[ExamplePhoto, ...] = (
    ExamplePhoto(
        filename="astronaut-face.jpg",
        caption="Astronaut (NASA portrait of Eileen Collins)",
        source="skimage.data.astronaut()[0:288, 80:368] (scikit-image; original: NASA, STS063-S-001)",
        licence="public domain (NASA)",
    ),
)


def example_photos(cache_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Paths of the bundled example photos (`cache_dir` is accepted for older callers and unused)."""
    return [FOLDER / e.filename for e in EXAMPLES if (FOLDER / e.filename).is_file()]
