"""Tests of image reading and PNG writing (reconstruction/images.py)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageReadError, InputError
from reconstruction.images import load_image, read_png_text, save_png
from tests.conftest import check_missing_and_empty_files


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_path_bytes_pil_and_array_agree(astronaut, tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    for source in (path, str(path), path.read_bytes(), Image.fromarray(astronaut), astronaut):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3)
        np.testing.assert_array_equal(out, astronaut)


def test_exif_orientation_is_applied(astronaut):
    # Orientation 6: the camera stored the picture rotated; viewers rotate it 90 degrees clockwise.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(Image.fromarray(astronaut[:, :400]), "PNG", exif=exif)
    out = load_image(data)
    assert out.shape == (400, 512, 3)
    np.testing.assert_array_equal(out, np.rot90(astronaut[:, :400], k=-1))


def test_greyscale_palette_and_cmyk(astronaut):
    grey = load_image(_encode(Image.fromarray(astronaut).convert("L"), "PNG"))
    assert grey.shape == (512, 512, 3)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])

    pal = load_image(_encode(Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))
    assert pal.shape == (512, 512, 3)
    assert np.abs(pal.astype(float) - astronaut).mean() < 12

    cmyk = load_image(_encode(Image.fromarray(astronaut).convert("CMYK"), "TIFF"))
    assert np.abs(cmyk.astype(float) - astronaut).mean() < 3


def test_rgba_composited_on_white(astronaut):
    rgba = np.dstack([astronaut, np.full((512, 512), 255, np.uint8)])
    rgba[:100, :100, 3] = 0  # fully transparent corner
    rgba[200:, 200:, 3] = 128  # half transparent
    for source in (rgba, _encode(Image.fromarray(rgba), "PNG")):
        out = load_image(source)
        assert (out[:100, :100] == 255).all()
        np.testing.assert_array_equal(out[100:200, 100:200], astronaut[100:200, 100:200])
        expected = astronaut[200:, 200:].astype(float) * 128 / 255 + 255 * 127 / 255
        assert np.abs(out[200:, 200:] - expected).max() <= 1


def test_sixteen_bit_is_scaled(astronaut):
    grey16 = astronaut[..., 1].astype(np.uint16) * 257
    out = load_image(_encode(Image.fromarray(grey16), "PNG"))
    np.testing.assert_array_equal(out[..., 0], astronaut[..., 1])
    out = load_image(astronaut.astype(np.uint16) * 257)
    np.testing.assert_array_equal(out, astronaut)


def test_float_arrays(astronaut):
    np.testing.assert_array_equal(load_image(astronaut.astype(np.float32) / 255.0), astronaut)
    with pytest.raises(ImageReadError, match=r"\[0, 1\]"):
        load_image(astronaut.astype(np.float32))
    bad = astronaut.astype(np.float32) / 255.0
    bad[0, 0, 0] = np.nan
    with pytest.raises(ImageReadError, match="NaN"):
        load_image(bad)


def test_refuses_broken_and_unknown_files(astronaut, tmp_path):
    with pytest.raises(ImageReadError, match="not an image format"):
        load_image(b"this is plain text, not a picture" * 10)
    jpeg = _encode(Image.fromarray(astronaut), "JPEG")
    with pytest.raises(ImageReadError, match="damaged or truncated"):
        load_image(jpeg[: len(jpeg) // 3])
    check_missing_and_empty_files(load_image, ImageReadError, tmp_path, ".png")
    with pytest.raises(InputError):
        load_image(12345)  # type: ignore[arg-type]


def test_refuses_bad_sizes(astronaut):
    with pytest.raises(ImageReadError, match="no pixels"):
        load_image(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ImageReadError, match="at least 64 pixels"):
        load_image(_encode(Image.fromarray(astronaut[:40]), "PNG"))
    with pytest.raises(ImageReadError, match="megapixels"):
        load_image(astronaut, max_megapixels=0.1)
    with pytest.raises(ImageReadError, match=r"\(H, W\)"):
        load_image(np.zeros((100, 100, 2), np.uint8))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size but holds almost no data (what a decompression bomb looks like)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_gives_our_error():
    with pytest.raises(ImageReadError, match="megapixels"):
        load_image(_png_header_only(20000, 20000))
    # Above PIL's own limit (2 x MAX_IMAGE_PIXELS) too, even when our limit is raised.
    side = int(np.sqrt(2 * Image.MAX_IMAGE_PIXELS)) + 100
    with pytest.raises(ImageReadError, match="too many pixels to open safely"):
        load_image(_png_header_only(side, side), max_megapixels=1000)


def test_size_refusals_name_the_file_not_its_folder_and_warn_nothing(tmp_path):
    """A 144 MP (Pillow warns) and a 400 MP (Pillow refuses) PNG: our message, no path, no warning."""
    import warnings

    folder = tmp_path / "private-server-folder"
    folder.mkdir()
    for side, limit in ((12000, 40.0), (20000, 40.0), (20000, 1000.0)):
        path = folder / f"bomb-{side}.png"
        path.write_bytes(_png_header_only(side, side))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a DecompressionBombWarning would fail the test
            with pytest.raises(ImageReadError) as info:
                load_image(path, max_megapixels=limit)
        message = str(info.value)
        assert f"bomb-{side}.png" in message and str(folder) not in message and "megapixels" in message
        assert "DOS" not in message and "pixels exceeds" not in message  # not Pillow's own text
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"x" * 200)
    with pytest.raises(ImageReadError) as info:
        load_image(broken)
    assert str(folder) not in str(info.value)


def test_png_text_round_trip(astronaut, tmp_path):
    meta = {"Software": "pirender", "Synthesized": "expression edit; source=astronaut", "Note": "çà ✓"}
    path = save_png(astronaut, tmp_path / "sub" / "out.png", meta)
    assert read_png_text(path) == meta
    np.testing.assert_array_equal(load_image(path), astronaut)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_save_png_rejects_bad_input(astronaut, tmp_path):
    with pytest.raises(InputError):
        save_png(astronaut.astype(np.float32), tmp_path / "x.png")
    with pytest.raises(InputError, match="keyword"):
        save_png(astronaut, tmp_path / "x.png", {" bad": "x"})
    jpg = tmp_path / "x.jpg"
    Image.fromarray(astronaut).save(jpg)
    with pytest.raises(ImageReadError, match="not a PNG"):
        read_png_text(jpg)
