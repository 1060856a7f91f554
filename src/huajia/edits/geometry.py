"""Edits that move pixels: crop, crop to a slot, resize, rotate, flip."""

from __future__ import annotations

import math

from PIL import Image

from huajia.edits.focus import find_focus
from huajia.edits.operation import (
    MAX_SIDE,
    Crop,
    CropToSlot,
    Flip,
    FocusPoint,
    Resize,
    Rotate,
    rgba,
)
from huajia.errors import InvalidRequest

Box = tuple[float, float, float, float]

_QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,  # PIL turns counter-clockwise; ours turn clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def crop(image: Image.Image, op: Crop) -> Image.Image:
    """The box of `op`, which must lie inside the image."""
    right, bottom = op.left + op.width, op.top + op.height
    if right > image.width or bottom > image.height:
        raise InvalidRequest(
            f"crop box ({op.left}, {op.top}, {op.width}×{op.height}) falls outside "
            f"the {image.width}×{image.height} image"
        )
    return image.crop((op.left, op.top, right, bottom))


def crop_to_slot(image: Image.Image, op: CropToSlot) -> Image.Image:
    """Exactly op.width×op.height: the largest box of that aspect around the focus, resized."""
    focus = op.focus or find_focus(image)
    box = slot_box(image.size, (op.width, op.height), focus)
    return image.resize((op.width, op.height), Image.Resampling.LANCZOS, box=box)


def slot_box(size: tuple[int, int], slot: tuple[int, int], focus: FocusPoint) -> Box:
    """The largest box of the slot's aspect inside `size`, centred on the focus where it fits."""
    width, height = size
    aspect = slot[0] / slot[1]
    # Sub-pixel boxes keep the aspect exact; resize() samples them without rounding.
    box_width, box_height = min(width, height * aspect), min(height, width / aspect)
    left = _clamp(focus.x * width - box_width / 2, 0.0, width - box_width)
    top = _clamp(focus.y * height - box_height / 2, 0.0, height - box_height)
    return left, top, left + box_width, top + box_height


def resize(image: Image.Image, op: Resize) -> Image.Image:
    """Scale to the requested size; a missing side follows the image's aspect."""
    width = op.width or max(1, round(image.width * _require(op.height) / image.height))
    height = op.height or max(1, round(image.height * _require(op.width) / image.width))
    if width > MAX_SIDE or height > MAX_SIDE:
        raise InvalidRequest(
            f"resizing the {image.width}×{image.height} image to {width}×{height} "
            f"goes beyond {MAX_SIDE} px"
        )
    return image.resize((width, height), Image.Resampling.LANCZOS)


def rotate(image: Image.Image, op: Rotate) -> Image.Image:
    """Quarter turns move pixels exactly; any other angle resamples and fills the corners."""
    angle = op.angle % 360
    if angle == 0:
        return image.copy()
    if angle in _QUARTER_TURNS:
        return image.transpose(_QUARTER_TURNS[int(angle)])
    if op.expand:
        width, height = rotated_size(image.size, angle)
        if width > MAX_SIDE or height > MAX_SIDE:
            raise InvalidRequest(
                f"rotating the {image.width}×{image.height} image by {op.angle:g}° grows it to "
                f"{width}×{height}, beyond {MAX_SIDE} px: resize it first, or rotate with "
                "expand false"
            )
    return image.rotate(
        -angle,
        resample=Image.Resampling.BICUBIC,
        expand=op.expand,
        fillcolor=_fill(image, op.fill),
    )


def rotated_size(size: tuple[int, int], angle: float) -> tuple[int, int]:
    """The canvas a clockwise turn by `angle` with expand gives: PIL's own sum, done first so
    that a size beyond the limit is refused before any pixel is resampled."""
    width, height = size
    radians = -math.radians(-angle % 360.0)  # as PIL turns: counter-clockwise by -angle
    cos, sin = round(math.cos(radians), 15), round(math.sin(radians), 15)
    centre_x, centre_y = width / 2, height / 2
    offset_x = cos * -centre_x + sin * -centre_y + centre_x
    offset_y = -sin * -centre_x + cos * -centre_y + centre_y
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [cos * x + sin * y + offset_x for x, y in corners]
    ys = [-sin * x + cos * y + offset_y for x, y in corners]
    return (
        math.ceil(max(xs)) - math.floor(min(xs)),
        math.ceil(max(ys)) - math.floor(min(ys)),
    )


def flip(image: Image.Image, op: Flip) -> Image.Image:
    if op.direction == "horizontal":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def _fill(image: Image.Image, colour: str | None) -> tuple[int, ...]:
    if colour is None:
        return (0, 0, 0, 0) if image.mode == "RGBA" else (0, 0, 0)
    red, green, blue, alpha = rgba(colour)
    return (red, green, blue, alpha) if image.mode == "RGBA" else (red, green, blue)


def _require(side: int | None) -> int:
    # Resize's validator guarantees one side; this narrows the type for the other.
    if side is None:
        raise InvalidRequest("give width, height or both")
    return side


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
