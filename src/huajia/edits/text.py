"""Text overlays: wrap, place and paint Chinese or Latin text, with an optional shadow and stroke.

Text is drawn as coverage masks (greyscale) and painted with its colour through them, so
anti-aliased edges blend with the image instead of picking up a dark fringe, and a colour's
alpha (#rrggbbaa) applies evenly to the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from huajia.edits.font import FontLibrary
from huajia.edits.operation import Alignment, TextOverlay, rgba

_DEFAULT_SIZE = 0.06
_LINE_GAP = 0.2  # extra space between lines, in ems
_CJK = "\u2e80-\u2fdf\u3000-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
# Punctuation that may not start a line (kinsoku): it stays with the character before it.
_CLOSING = "、。，．：；？！）」』】〕〉》〗〙〛’”…"
_UNITS = re.compile(rf"\s+|[^\s{_CJK}]+[{_CLOSING}]*|[{_CJK}][{_CLOSING}]*")


@dataclass(frozen=True)
class TextBlock:
    """Wrapped text and where its drawing origin lies on the image."""

    text: str
    origin: tuple[float, float]
    align: Alignment
    spacing: int
    stroke: int


def overlay_text(image: Image.Image, op: TextOverlay, fonts: FontLibrary) -> Image.Image:
    """The image with `op`'s text painted over it (same size and mode)."""
    size = font_size(image, op)
    font = fonts.font_for(op.text, size, bold=op.bold)
    block = layout(image.size, op, font, size)
    canvas = image.convert("RGBA")
    outline = _mask(canvas.size, block, font, block.stroke)
    if op.shadow is not None:
        shift = (round(op.shadow.dx * size), round(op.shadow.dy * size))
        shadow = _mask(canvas.size, block, font, block.stroke, shift)
        if op.shadow.blur > 0:
            shadow = shadow.filter(ImageFilter.GaussianBlur(op.shadow.blur * size))
        canvas = _paint(canvas, shadow, op.shadow.colour)
    if op.stroke is not None:
        canvas = _paint(canvas, outline, op.stroke.colour)
        outline = _mask(canvas.size, block, font, 0)
    canvas = _paint(canvas, outline, op.colour)
    return canvas if image.mode == "RGBA" else canvas.convert("RGB")


def font_size(image: Image.Image, op: TextOverlay) -> int:
    """Pixels per em: `size_px`, or `size` (default 6%) of the image height."""
    if op.size_px is not None:
        return op.size_px
    return max(1, round((op.size or _DEFAULT_SIZE) * image.height))


def layout(
    image_size: tuple[int, int], op: TextOverlay, font: ImageFont.FreeTypeFont, size: int
) -> TextBlock:
    """Wrap the text to the image and place the block at its anchor or at (x, y)."""
    width, height = image_size
    margin = op.margin * min(width, height)
    stroke = max(1, round(op.stroke.width * size)) if op.stroke is not None else 0
    text = wrap_text(op.text, font, max(size, width - 2 * margin - 2 * stroke))
    across, down = _anchor_fractions(op.anchor)
    align = op.align or _ALIGN_FOR[across]
    spacing = round(_LINE_GAP * size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox(
        (0, 0), text, font=font, spacing=spacing, align=align, stroke_width=stroke
    )
    block_width, block_height = right - left, bottom - top
    if op.x is None or op.y is None:
        x = margin + across * (width - 2 * margin - block_width)
        y = margin + down * (height - 2 * margin - block_height)
    else:
        x = _fit(op.x * width - across * block_width, width - block_width)
        y = _fit(op.y * height - down * block_height, height - block_height)
    return TextBlock(text, (x - left, y - top), align, spacing, stroke)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """Break lines wider than `max_width`: between words, or between any two CJK characters."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_line(paragraph, font, max_width))
    return "\n".join(lines)


def _wrap_line(paragraph: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for unit in _UNITS.findall(paragraph):
        if font.getlength((line + unit).rstrip()) <= max_width:
            line += unit
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = unit.lstrip()
        # A single word wider than the line (a URL, a long number) breaks anywhere.
        while len(line) > 1 and font.getlength(line) > max_width:
            cut = _longest_prefix(line, font, max_width)
            lines.append(line[:cut])
            line = line[cut:]
    lines.append(line.rstrip())
    return lines


def _longest_prefix(word: str, font: ImageFont.FreeTypeFont, max_width: float) -> int:
    cut = 1
    while cut < len(word) and font.getlength(word[: cut + 1]) <= max_width:
        cut += 1
    return cut


def _mask(
    size: tuple[int, int],
    block: TextBlock,
    font: ImageFont.FreeTypeFont,
    stroke: int,
    shift: tuple[int, int] = (0, 0),
) -> Image.Image:
    """Coverage of the text (with `stroke` px of outline) as an L image the size of the image."""
    mask = Image.new("L", size, 0)
    origin = (block.origin[0] + shift[0], block.origin[1] + shift[1])
    ImageDraw.Draw(mask).multiline_text(
        origin, block.text, fill=255, font=font, spacing=block.spacing, align=block.align,
        stroke_width=stroke, stroke_fill=255,
    )  # fmt: skip
    return mask


def _paint(canvas: Image.Image, mask: Image.Image, colour: str) -> Image.Image:
    """`canvas` with `colour` composited through `mask`, touching only the masked box."""
    box = mask.getbbox()
    if box is None:
        return canvas
    red, green, blue, alpha = rgba(colour)
    coverage = mask.crop(box)
    if alpha < 255:
        coverage = coverage.point([value * alpha // 255 for value in range(256)])
    layer = Image.new("RGBA", coverage.size, (red, green, blue, 0))
    layer.putalpha(coverage)
    canvas.paste(Image.alpha_composite(canvas.crop(box), layer), box)
    return canvas


_ALIGN_FOR: dict[float, Alignment] = {0.0: "left", 0.5: "center", 1.0: "right"}


def _anchor_fractions(anchor: str) -> tuple[float, float]:
    """Where along the width and height an anchor sits: "bottom-right" → (1, 1)."""
    parts = anchor.split("-")
    across = 0.0 if "left" in parts else 1.0 if "right" in parts else 0.5
    down = 0.0 if "top" in parts else 1.0 if "bottom" in parts else 0.5
    return across, down


def _fit(start: float, room: float) -> float:
    """Keep a block inside the image when it fits (room ≥ 0 is the free space)."""
    return min(max(start, 0.0), room) if room >= 0 else room / 2
