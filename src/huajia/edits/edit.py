"""Applying edits: one operation, or a sequence of them, to a PIL image."""

from __future__ import annotations

from typing import assert_never

from PIL import Image

from huajia.edits.colour import adjust
from huajia.edits.focus import find_focus
from huajia.edits.font import FontLibrary
from huajia.edits.geometry import crop, crop_to_slot, flip, resize, rotate
from huajia.edits.operation import (
    MAX_EDITS,
    Adjust,
    Crop,
    CropToSlot,
    EditOperation,
    Flip,
    Resize,
    Rotate,
    TextOverlay,
)
from huajia.edits.text import overlay_text
from huajia.errors import InvalidRequest

_ALPHA_MODES = {"RGBA", "LA", "La", "RGBa", "PA"}


def apply_edit(
    image: Image.Image, op: EditOperation, *, fonts: FontLibrary | None = None
) -> Image.Image:
    """A new image: `op` applied to `image` (RGB, or RGBA when the image has transparency).

    `fonts` serves text overlays; without it the usual system fonts are looked up.
    """
    source = normalise_mode(image)
    match op:
        case Crop():
            return crop(source, op)
        case CropToSlot():
            return crop_to_slot(source, op)
        case Resize():
            return resize(source, op)
        case Rotate():
            return rotate(source, op)
        case Flip():
            return flip(source, op)
        case Adjust():
            return adjust(source, op)
        case TextOverlay():
            return overlay_text(source, op, fonts or FontLibrary.discover())
        case _:
            assert_never(op)


def apply_edits(
    image: Image.Image, ops: list[EditOperation], *, fonts: FontLibrary | None = None
) -> Image.Image:
    """A new image: every operation of `ops` applied in order."""
    if len(ops) > MAX_EDITS:
        raise InvalidRequest(f"at most {MAX_EDITS} edits at once, not {len(ops)}")
    fonts = fonts or FontLibrary.discover()
    result = normalise_mode(image)
    for op in ops:
        result = apply_edit(result, op, fonts=fonts)
    return result if result is not image else result.copy()


def resolve_edit(image: Image.Image, op: EditOperation) -> EditOperation:
    """`op` with its content-aware defaults pinned (the focus a crop found), for lineage.

    Recording the resolved operation lets the edit be replayed exactly even if the focus
    finder changes later.
    """
    if isinstance(op, CropToSlot) and op.focus is None:
        return op.model_copy(update={"focus": find_focus(normalise_mode(image))})
    return op


def normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, or RGBA for images with transparency; the image itself when it already is."""
    if image.mode in ("RGB", "RGBA"):
        return image
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
