"""Example photos offered by the Edit, Reenact and Audio tabs.

The project ships no image files: the one human portrait available under free terms on every
machine is scikit-image's `astronaut` (Eileen Collins, NASA photograph, public domain), bundled
inside the scikit-image wheel. `example_photos()` writes it once as a JPEG into a cache folder on
first use (atomic write, so concurrent first runs are safe) and returns the paths.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExamplePhoto", "EXAMPLES", "example_photos"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExamplePhoto:
    """One example: file name, caption shown in the app, and where it comes from."""

    filename: str
    caption: str
    source: str
    licence: str


EXAMPLES: tuple[ExamplePhoto, ...] = (
    ExamplePhoto(
        filename="astronaut.jpg",
        caption="Astronaut (NASA portrait of Eileen Collins)",
        source="skimage.data.astronaut() (scikit-image; original: NASA, image number STS063-S-001)",
        licence="public domain (NASA)",
    ),
)


def _render(example: ExamplePhoto, path: Path) -> None:
    from PIL import Image
    from skimage import data

    if example.filename != "astronaut.jpg":
        raise ValueError(f"no generator for example {example.filename}")
    image = Image.fromarray(data.astronaut())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="JPEG", quality=95)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def example_photos(cache_dir: str | os.PathLike[str]) -> list[Path]:
    """Paths of the example photos under `cache_dir`/examples, written on first use."""
    folder = Path(cache_dir) / "examples"
    paths = []
    for example in EXAMPLES:
        path = folder / example.filename
        if not path.is_file():
            log.info("writing example photo %s", path)
            _render(example, path)
        paths.append(path)
    return paths
