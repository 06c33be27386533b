"""Image input and output for the pipeline's first and last steps (photo in, edited file out).

Every later stage works on one kind of image only: a (H, W, 3) uint8 RGB numpy array, upright
(EXIF orientation applied), in sRGB where the file says how to get there. `load_image` turns
whatever a user hands us (a path, the bytes of an upload, a PIL image, an array) into that form,
or raises `ImageReadError` saying what was wrong and what to do. `save_png` writes the result
with provenance text chunks (which software made it, that it is synthesized) and
`read_png_text` reads them back.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from core.errors import ImageReadError, InputError, PIRenderError

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "MIN_IMAGE_SIDE",
    "ImageSource",
    "load_image",
    "save_png",
    "read_png_text",
]

logger = logging.getLogger(__name__)

#: Largest image accepted by default, in megapixels (a 50 MP photo decodes to 150 MB of RGB).
DEFAULT_MAX_MEGAPIXELS = 50.0
#: Smallest side accepted, in pixels: below this there is no face worth editing.
MIN_IMAGE_SIDE = 64

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Image.Image, np.ndarray]

_WHITE = (255, 255, 255)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def load_image(
    source: ImageSource,
    *,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    min_side: int = MIN_IMAGE_SIDE,
    to_srgb: bool = True,
) -> np.ndarray:
    """Read an image from a path, encoded bytes, a PIL image or an array.

    Returns (H, W, 3) uint8 RGB, upright. Greyscale is replicated to three channels, images with
    transparency are composited on white, palette and CMYK images are converted, 16-bit data is
    scaled to 8 bit (v / 257) and float arrays must lie in [0, 1]. Arrays are taken as RGB(A),
    never BGR. With `to_srgb`, an embedded ICC profile is used to convert to sRGB.

    Raises ImageReadError for missing, broken or unknown files, empty images, images smaller
    than `min_side` pixels on a side and images larger than `max_megapixels`.
    """
    if max_megapixels <= 0:
        raise InputError(f"max_megapixels must be positive, got {max_megapixels}")
    if isinstance(source, np.ndarray):
        _check_dimensions(source.shape[:2] if source.ndim >= 2 else (0, 0), max_megapixels, min_side, "array")
        return _array_to_rgb8(source)
    if isinstance(source, Image.Image):
        return _pil_to_rgb8(source, max_megapixels, min_side, to_srgb, "image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError("The image data is empty (0 bytes): upload the file again.")
        return _open_and_convert(
            io.BytesIO(bytes(source)), "uploaded data", max_megapixels, min_side, to_srgb
        )
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageReadError(f"Image file not found: '{path.name}'. Check the path.")
        if path.stat().st_size == 0:
            raise ImageReadError(
                f"The image file '{path.name}' is empty (0 bytes): use a complete image file."
            )
        with open(path, "rb") as fh:  # messages name the file, never the folder (it may be a server's)
            return _open_and_convert(fh, f"'{path.name}'", max_megapixels, min_side, to_srgb)
    raise InputError(
        f"Cannot read an image from a {type(source).__name__}: pass a file path, the file's bytes, "
        "a PIL image or a (H, W, 3) uint8 RGB array."
    )


def _open_and_convert(
    stream: io.IOBase, what: str, max_megapixels: float, min_side: int, to_srgb: bool
) -> np.ndarray:
    """Open lazily (header only), check the size before decoding, then decode and convert.

    Pillow warns (DecompressionBombWarning) above `Image.MAX_IMAGE_PIXELS` and refuses
    (DecompressionBombError) above twice that, both before our own limit can be checked; the
    warning is silenced here (our limit is checked next, before any pixel is decoded) and the
    error becomes our ImageReadError. No message quotes Pillow's text or a file's folder.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as im:
                _check_dimensions((im.height, im.width), max_megapixels, min_side, what)
                im.load()
                return _pil_to_rgb8(im, max_megapixels, min_side, to_srgb, what)
    except Image.DecompressionBombError as exc:
        logger.info("refused %s: %s", what, exc)
        raise ImageReadError(
            f"The image in {what} has too many pixels to open safely. "
            f"Use a photo of at most {max_megapixels:g} megapixels (resize it first)."
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{what} is not an image format we can read. Use a JPEG, PNG, WebP, BMP or TIFF file "
            "(HEIC/RAW photos: export them as JPEG first)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, PIRenderError):
            raise
        logger.info("cannot decode %s: %s", what, exc)
        raise ImageReadError(
            f"The image in {what} is damaged or truncated and cannot be decoded. "
            "Export or download the file again."
        ) from None


def _check_dimensions(hw: tuple[int, ...], max_megapixels: float, min_side: int, what: str) -> None:
    h, w = int(hw[0]), int(hw[1])
    if h <= 0 or w <= 0:
        raise ImageReadError(f"The image in {what} has no pixels (size {w}x{h}). Use a real photo.")
    if min(h, w) < min_side:
        raise ImageReadError(
            f"The image in {what} is {w}x{h} pixels; at least {min_side} pixels on each side are needed "
            "for face editing. Use a larger photo."
        )
    megapixels = h * w / 1e6
    if megapixels > max_megapixels:
        raise ImageReadError(
            f"The image in {what} is {w}x{h} pixels ({megapixels:.1f} megapixels), more than the limit of "
            f"{max_megapixels:g} megapixels. Resize it (a face needs far less) or raise the limit."
        )


def _pil_to_rgb8(
    im: Image.Image, max_megapixels: float, min_side: int, to_srgb: bool, what: str
) -> np.ndarray:
    _check_dimensions((im.height, im.width), max_megapixels, min_side, what)
    try:
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A broken EXIF block should not make a readable photo unusable.
        logger.warning("Ignoring unreadable EXIF orientation in %s: %s", what, exc)
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(im).astype(np.float64)
        return _grey_to_rgb(np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8))
    if mode == "F":
        return _array_to_rgb8(np.asarray(im, dtype=np.float32))
    icc = im.info.get("icc_profile") if to_srgb else None
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in _ALPHA_MODES:
        im = im.convert("RGBA")
    elif mode not in {"1", "L", "RGB", "CMYK"}:
        im = im.convert("RGB")  # YCbCr, LAB, HSV and the rest
    if im.mode == "RGBA":
        base = Image.new("RGBA", im.size, (*_WHITE, 255))
        im = Image.alpha_composite(base, im).convert("RGB")
    if icc and im.mode in {"RGB", "CMYK", "L"}:
        im = _to_srgb(im, icc, what)
    if im.mode in {"1", "L"}:
        return _grey_to_rgb(np.asarray(im.convert("L"), dtype=np.uint8))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _to_srgb(im: Image.Image, icc: bytes, what: str) -> Image.Image:
    """Convert with the embedded ICC profile (wide-gamut phone photos look washed out otherwise)."""
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out_mode = "L" if im.mode == "L" else "RGB"
        return ImageCms.profileToProfile(im, src, dst, outputMode=out_mode)
    except (ImportError, OSError, ValueError, TypeError) as exc:
        logger.warning("Ignoring the ICC profile of %s (%s); colours are used as stored.", what, exc)
        return im


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _array_to_rgb8(arr: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) arrays of uint8, uint16, bool, small ints or floats in [0, 1] -> uint8 RGB."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"An image array must have shape (H, W), (H, W, 3) or (H, W, 4); got {arr.shape}."
        )
    arr8 = _to_uint8(arr)
    if arr8.ndim == 2:
        return _grey_to_rgb(arr8)
    if arr8.shape[2] == 4:
        alpha = arr8[:, :, 3:4].astype(np.float32) / 255.0
        rgb = arr8[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    return np.ascontiguousarray(arr8)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.rint(arr.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageReadError("The image array contains NaN or infinite values.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -0.01 or hi > 1.01:
            raise ImageReadError(
                f"A float image array must hold values in [0, 1]; got the range [{lo:.3g}, {hi:.3g}]. "
                "Divide 0-255 data by 255 (or pass it as uint8)."
            )
        return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ImageReadError(
                f"An integer image array of dtype {arr.dtype} must hold values in [0, 255]; got "
                f"[{lo}, {hi}]. Pass uint8 (0-255) or uint16 (0-65535) data."
            )
        return arr.astype(np.uint8)
    raise ImageReadError(f"Unsupported image array dtype {arr.dtype}: use uint8 RGB.")


def save_png(
    image: np.ndarray, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write a (H, W, 3) or (H, W) uint8 image as PNG with text chunks (e.g. provenance).

    `metadata` maps PNG keywords (1-79 Latin-1 characters, e.g. "Software", "Synthesized") to
    text; non-Latin-1 values are stored as UTF-8 iTXt chunks. The file is written to a temporary
    name and moved into place, so a reader never sees a half-written file. Returns the path.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError(
            f"save_png expects a uint8 numpy image, got {type(image).__name__}"
            f"{'' if not isinstance(image, np.ndarray) else ' of dtype ' + str(image.dtype)}."
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))) or image.size == 0:
        raise InputError(f"save_png expects shape (H, W), (H, W, 3) or (H, W, 4); got {image.shape}.")
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        _check_png_keyword(key)
        if not isinstance(value, str):
            raise InputError(f"PNG text value for {key!r} must be a str, got {type(value).__name__}.")
        info.add_text(key, value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(np.ascontiguousarray(image)).save(
                fh, format="PNG", pnginfo=info, compress_level=6
            )
        os.chmod(tmp_name, 0o644)  # mkstemp makes the file private; the saved picture is not
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _check_png_keyword(key: object) -> None:
    ok = isinstance(key, str) and 1 <= len(key) <= 79 and key == key.strip() and "  " not in key
    if ok:
        try:
            key.encode("latin-1")
        except UnicodeEncodeError:
            ok = False
    if not ok:
        raise InputError(
            f"Invalid PNG text keyword {key!r}: use 1-79 Latin-1 characters without leading, trailing "
            "or double spaces (e.g. 'Software')."
        )


def read_png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return all text chunks (tEXt, zTXt, iTXt) of a PNG file as a dict."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"PNG file not found: {path}.")
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise ImageReadError(f"{path} is a {im.format} file, not a PNG; it has no PNG text chunks.")
            im.load()  # text chunks after the image data are read only when decoding
            return {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path} is not an image file we can read.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PIRenderError):
            raise
        raise ImageReadError(f"The PNG file {path} is damaged ({exc}). Write it again.") from exc
