"""The visible AI mark: a short text in one corner, on a translucent plate.

GB 45438-2025 asks that an explicit mark be legible: its text at least 5 % of the picture's
shorter side tall. The plate (dark, 60 % opaque, white text) keeps it readable on light and
dark pictures alike.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from huajia.edits.font import FontLibrary

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
DEFAULT_TEXTS = {"zh": "AI生成", "en": "AI generated"}
MIN_TEXT_SHARE = 0.05  # text height / shorter side, the standard's floor
_TEXT_SHARE = 0.06  # a little above the floor: glyph boxes vary between fonts
_PLATE = (0, 0, 0, 153)
_INK = (255, 255, 255, 255)


class VisibleMark(BaseModel):
    """The mark decided for one request (carried in the stored request)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(DEFAULT_TEXTS["zh"], min_length=1, max_length=40)
    corner: Corner = "bottom-right"


def apply_mark(image: Image.Image, mark: VisibleMark, fonts: FontLibrary) -> Image.Image:
    """A copy of `image` with the mark drawn in its corner (same size and mode)."""
    shorter = min(image.width, image.height)
    size = max(8, round(shorter * _TEXT_SHARE))
    font = fonts.font_for(mark.text, size)
    left, top, right, bottom = font.getbbox(mark.text)
    # Grow the font until the drawn glyphs (not the em box) reach the floor.
    while bottom - top < shorter * MIN_TEXT_SHARE and size < shorter:
        size += 1
        font = fonts.font_for(mark.text, size)
        left, top, right, bottom = font.getbbox(mark.text)
    pad, margin = max(2, size // 4), max(2, size // 3)
    plate_w, plate_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = margin if mark.corner.endswith("left") else image.width - margin - plate_w
    y = margin if mark.corner.startswith("top") else image.height - margin - plate_h
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle((x, y, x + plate_w, y + plate_h), radius=pad, fill=_PLATE)
    draw.text((x + pad - left, y + pad - top), mark.text, font=font, fill=_INK)
    marked = Image.alpha_composite(image.convert("RGBA"), overlay)
    return marked if image.mode == "RGBA" else marked.convert(image.mode)
