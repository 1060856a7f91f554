"""Masks in either convention become one internal mask: "L", 255 repaint, 0 keep."""

from __future__ import annotations

import pytest
from PIL import Image

from huajia.errors import InvalidMask, UnsupportedImage
from huajia.images.masks import (
    REPAINT,
    check_mask_fits,
    load_mask,
    mask_from_transparency,
    native_mask,
    openai_mask,
)
from huajia.images.sources import SourceLimits, load_upload
from tests.images.pictures import encoded, halves, square_on

LIMITS = SourceLimits()
SIZE = (40, 20)
BOX = (4, 2, 14, 12)
SOURCE = load_upload(encoded(halves(*SIZE), "PNG"), LIMITS)


def expected() -> Image.Image:
    return square_on(SIZE, BOX, REPAINT, 0, "L")


def test_both_conventions_give_the_same_internal_mask() -> None:
    native = encoded(square_on(SIZE, BOX, (255, 255, 255), (0, 0, 0), "RGB"), "PNG")
    openai = encoded(square_on(SIZE, BOX, (0, 0, 0, 0), (90, 30, 200, 255), "RGBA"), "PNG")
    from_native = load_mask(native, "native", SOURCE, LIMITS)
    from_openai = load_mask(openai, "openai", SOURCE, LIMITS)
    assert from_native.mode == from_openai.mode == "L"
    assert from_native.tobytes() == from_openai.tobytes() == expected().tobytes()


def test_an_image_with_transparency_and_no_mask_is_its_own_mask() -> None:
    image = square_on(SIZE, BOX, (0, 0, 0, 0), (90, 30, 200, 255), "RGBA")
    source = load_upload(encoded(image, "PNG"), LIMITS, keep_alpha=True)
    assert mask_from_transparency(source).tobytes() == expected().tobytes()


def test_an_image_without_transparency_cannot_be_its_own_mask() -> None:
    with pytest.raises(InvalidMask, match="no transparency"):
        mask_from_transparency(SOURCE)


def test_the_native_threshold_is_mid_grey() -> None:
    levels = Image.new("L", (4, 1))
    levels.putdata([0, 127, 128, 255])
    assert list(native_mask(levels).tobytes()) == [0, 0, 255, 255]


def test_a_native_mask_drawn_on_a_transparent_canvas_counts_what_shows() -> None:
    strokes = square_on(SIZE, BOX, (255, 255, 255, 255), (255, 255, 255, 0), "RGBA")
    assert native_mask(strokes).tobytes() == expected().tobytes()


def test_only_fully_transparent_pixels_are_repainted_in_openai_masks() -> None:
    alphas = Image.new("LA", (3, 1))
    alphas.putdata([(0, 0), (0, 1), (255, 255)])
    assert list(openai_mask(alphas).tobytes()) == [255, 0, 0]


def test_an_openai_mask_without_alpha_is_refused() -> None:
    opaque = encoded(square_on(SIZE, BOX, (0, 0, 0), (255, 255, 255), "RGB"), "PNG")
    with pytest.raises(InvalidMask, match="no alpha channel") as caught:
        load_mask(opaque, "openai", SOURCE, LIMITS)
    assert (caught.value.status, caught.value.code) == (422, "invalid_mask")


def test_a_mask_of_another_size_is_refused_naming_both_sizes() -> None:
    small = encoded(Image.new("L", (32, 32), 255), "PNG")
    with pytest.raises(InvalidMask, match="the mask is 32×32 but the image is 40×20"):
        load_mask(small, "native", SOURCE, LIMITS)
    check_mask_fits(expected(), SOURCE)


@pytest.mark.parametrize(
    ("image", "convention"),
    [
        (Image.new("RGB", SIZE, (100, 100, 100)), "native"),
        (Image.new("RGBA", SIZE, (0, 0, 0, 1)), "openai"),
    ],
    ids=["native-all-dark", "openai-nothing-transparent"],
)
def test_a_mask_that_marks_nothing_is_refused(image: Image.Image, convention: str) -> None:
    with pytest.raises(InvalidMask, match="the mask marks nothing to repaint"):
        load_mask(encoded(image, "PNG"), convention, SOURCE, LIMITS)  # type: ignore[arg-type]


def test_a_mask_file_is_checked_like_any_upload() -> None:
    with pytest.raises(UnsupportedImage, match="not a PNG, JPEG or WebP"):
        load_mask(b"GIF89a...", "native", SOURCE, LIMITS)
