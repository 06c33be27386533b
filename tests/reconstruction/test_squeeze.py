"""reconstruction.squeeze: where a flow squeezes the photo, and that band smoothed on a small photo."""

from __future__ import annotations

import dataclasses

import numpy as np

from reconstruction.crop import CropTransform
from reconstruction.squeeze import lay_squeezed, photo_share, small_photo, squeezed_band


def _squeezing_flow(c: int = 64, rows: tuple[int, int] = (30, 36), factor: float = 4.0) -> np.ndarray:
    """(c, c, 2) backward flow: output rows `rows` read `factor` photo rows each, the rest 1:1 (shifted)."""
    y = np.arange(c, dtype=np.float32)
    a, b = rows
    read = np.where(y < a, y, np.where(y < b, a + (y - a) * factor, a + (b - a) * factor + (y - b)))
    flow = np.zeros((c, c, 2), np.float32)
    flow[..., 1] = (read - y)[:, None]
    return flow


def _transform(c: int, photo: int) -> CropTransform:
    scale = c / photo
    return CropTransform(((scale, 0.0, 0.0), (0.0, scale, 0.0)), crop_size=c, original_size=(photo, photo))


def _all(box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.ones((y1 - y0, x1 - x0), np.float32)


def _none(box: tuple[int, int, int, int]) -> np.ndarray:
    return 0.0 * _all(box)


def test_the_band_is_where_the_rows_are_squeezed() -> None:
    band = squeezed_band(_squeezing_flow(), (0, 0, 64, 64), _all)
    assert band is not None and band.origin[0] == 0 and 22 <= band.origin[1] < 31  # its own rows only
    oy = band.origin[1]
    column = band.weight[:, 32]
    assert column[31 - oy : 35 - oy].min() > 0.9  # squeezed 4x
    assert band.weight.shape[0] + oy <= 46  # 1:1 far from it
    assert (
        band.doubled[32 - oy, 32, 0] < -1.0 and abs(band.doubled[32 - oy, 32, 1]) < 1e-3
    )  # down the columns
    part = squeezed_band(_squeezing_flow(), (10, 20, 50, 50), _all)
    assert part is not None and part.origin == (10, oy) and part.weight.shape == (band.weight.shape[0], 40)


def test_no_band_without_a_squeeze_and_none_where_kept_out() -> None:
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 1] = 3.0  # a plain shift
    assert squeezed_band(flow, (0, 0, 64, 64), _all) is None
    assert squeezed_band(_squeezing_flow(), (0, 0, 64, 64), _none) is None


def test_a_thin_line_in_the_band_is_smoothed_on_a_small_photo_only() -> None:
    c = 64
    band = squeezed_band(_squeezing_flow(), (0, 0, c, c), _all)
    assert band is not None and band.share == 1.0
    image = np.full((c, c, 3), 150, np.uint8)
    image[32:34] = 90  # a thin dark line across the band
    small = lay_squeezed(image.copy(), _transform(c, c), band)
    assert small[32:34, 32].astype(int).min() > 105  # lighter: spread across the rows
    assert small[:20].tolist() == image[:20].tolist()  # nothing far from the band
    half = lay_squeezed(image.copy(), _transform(c, c), dataclasses.replace(band, share=0.5))
    assert 90 < half[32, 32, 0] < small[32, 32, 0]  # a photo half as small: half the smoothing
    none = squeezed_band(_squeezing_flow(), (0, 0, c, c), _all, photo_share(_transform(c, 4 * c)))
    assert none is not None and np.array_equal(lay_squeezed(image.copy(), _transform(c, c), none), image)


def test_a_photo_is_small_by_its_own_pixels_not_by_the_canvas() -> None:
    assert photo_share(_transform(64, 64)) == 1.0 and small_photo(1.0) == 1.0
    assert photo_share(_transform(64, 4 * 64)) == 0.0  # the crop shrinks the photo 4 times: large
    assert 0.0 < photo_share(_transform(64, 116)) < 1.0  # 0.55 crop pixels per photo pixel


def test_the_blur_follows_the_squeeze_in_a_turned_crop() -> None:
    """A crop turned 90 degrees in the photo: the band's rows are the photo's columns, and the line
    across them (a photo column) is smoothed along the photo's rows."""
    c = 64
    band = squeezed_band(_squeezing_flow(), (0, 0, c, c), _all)
    assert band is not None
    turned = CropTransform(((0.0, 1.0, 0.0), (-1.0, 0.0, c - 1.0)), crop_size=c, original_size=(c, c))
    image = np.full((c, c, 3), 150, np.uint8)
    image[:, 30:32] = 90  # photo columns 30-31: crop rows 33-32, inside the squeeze
    laid = lay_squeezed(image.copy(), turned, band)
    assert laid[32, 30:32].astype(int).min() > 105
    assert laid[:, :20].tolist() == image[:, :20].tolist()


def test_a_faint_band_is_not_laid() -> None:
    """Pixels the band weighs under 0.1 keep their value (round 3: fewer pixels smoothed, no visible change)."""
    c = 64
    band = squeezed_band(_squeezing_flow(), (0, 0, c, c), _all)
    assert band is not None
    fields = band.fields.copy()
    fields[..., 2] = np.minimum(fields[..., 2], 0.09)
    image = np.full((c, c, 3), 150, np.uint8)
    image[32:34] = 90
    faint = lay_squeezed(image.copy(), _transform(c, c), dataclasses.replace(band, fields=fields))
    assert np.array_equal(faint, image)
    assert not np.array_equal(lay_squeezed(image.copy(), _transform(c, c), band), image)
