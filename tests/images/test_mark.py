"""The visible AI mark: big enough, in the asked corner, readable on any picture."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from huajia.edits import FontLibrary
from huajia.images.mark import MIN_TEXT_SHARE, Corner, VisibleMark, apply_mark

FONTS = FontLibrary.discover()


def ink_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int]:
    box = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()
    assert box is not None, "the mark changed nothing"
    return box


def text_height(marked: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Rows in the mark's box holding near-white text pixels (the plate is dark)."""
    region = marked.convert("L").crop(box)
    rows = [y for y in range(region.height)
            if any(region.getpixel((x, y)) > 200 for x in range(region.width))]  # type: ignore[operator]  # fmt: skip
    return rows[-1] - rows[0] + 1


@pytest.mark.parametrize("text", ["AI生成", "AI generated"])
@pytest.mark.parametrize("size", [(640, 360), (300, 900)])
def test_text_is_at_least_five_percent_of_the_shorter_side(text: str, size: tuple[int, int]
                                                           ) -> None:  # fmt: skip
    black = Image.new("RGB", size, "black")
    marked = apply_mark(black, VisibleMark(text=text), FONTS)
    assert marked.size == black.size and marked.mode == black.mode
    assert text_height(marked, (0, 0, *size)) >= MIN_TEXT_SHARE * min(size)


@pytest.mark.parametrize(
    ("corner", "where"),
    [("top-left", (0, 0)), ("top-right", (1, 0)), ("bottom-left", (0, 1)),
     ("bottom-right", (1, 1))],
)  # fmt: skip
def test_the_mark_sits_in_its_corner(corner: Corner, where: tuple[int, int]) -> None:
    white = Image.new("RGB", (400, 300), "white")
    left, top, right, bottom = ink_box(white, apply_mark(white, VisibleMark(corner=corner), FONTS))
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    assert (centre_x > 200) == bool(where[0]) and (centre_y > 150) == bool(where[1])


@pytest.mark.parametrize("background", ["white", "black", (128, 128, 128)])
def test_legible_on_light_and_dark_pictures(background: str | tuple[int, int, int]) -> None:
    picture = Image.new("RGB", (400, 300), background)
    marked = apply_mark(picture, VisibleMark(), FONTS)
    region = marked.convert("L").crop(ink_box(picture, marked))
    darkest, brightest = region.getextrema()  # type: ignore[misc]
    assert brightest - darkest >= 120, "text and plate must differ clearly"


def test_transparency_is_kept() -> None:
    clear = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    marked = apply_mark(clear, VisibleMark(), FONTS)
    assert marked.mode == "RGBA"
    assert marked.getpixel((100, 100)) == (0, 0, 0, 0)
