"""Masks: which pixels of an image to edit are repainted, in one internal form.

Internally a mask is a Pillow "L" image the size of its source: 255 repaint, 0 keep. Callers
speak one of two conventions:

    native   any image; a pixel at least mid-grey (128) is repainted, a darker one kept.
             Transparency counts as black: strokes drawn on a transparent canvas are what shows.
    openai   OpenAI's images.edit: a PNG with an alpha channel whose fully transparent pixels
             (alpha 0) are repainted and every other pixel kept. With no mask at all, the
             image's own fully transparent pixels are the mask (`mask_from_transparency`).
"""

from __future__ import annotations

from typing import Literal, Protocol

from PIL import Image

from huajia.errors import InvalidMask
from huajia.images.sources import SourceImage, SourceLimits, load_upload

MaskConvention = Literal["native", "openai"]

REPAINT = 255
KEEP = 0
_THRESHOLD = 128
_NATIVE_LEVELS = [REPAINT if level >= _THRESHOLD else KEEP for level in range(256)]
_OPENAI_LEVELS = [REPAINT if alpha == 0 else KEEP for alpha in range(256)]
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class HasSize(Protocol):
    """Anything with a width and a height in pixels (a Pillow image, a `SourceImage`)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...


def load_mask(
    data: bytes, convention: MaskConvention, source: HasSize, limits: SourceLimits
) -> Image.Image:
    """The internal mask from an uploaded mask file, checked to fit `source` and mark something."""
    uploaded = load_upload(data, limits, keep_alpha=True)
    mask = native_mask(uploaded.image) if convention == "native" else openai_mask(uploaded.image)
    check_mask_fits(mask, source)
    check_mask_marks_something(mask)
    return mask


def mask_from_transparency(source: SourceImage) -> Image.Image:
    """The mask an OpenAI caller means by sending an image with transparency and no mask."""
    if not _has_alpha(source.image):
        raise InvalidMask(
            "the image has no transparency to repaint: send a mask, or an image whose fully "
            "transparent pixels mark what to repaint"
        )
    mask = _alpha_mask(source.image)
    check_mask_marks_something(mask)
    return mask


def native_mask(image: Image.Image) -> Image.Image:
    """Huajia's convention: pixels at least mid-grey (seen over black) are repainted."""
    if _has_alpha(image):
        over_black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(over_black, image.convert("RGBA"))
    return image.convert("L").point(_NATIVE_LEVELS)


def openai_mask(image: Image.Image) -> Image.Image:
    """OpenAI's convention: fully transparent pixels are repainted; needs an alpha channel."""
    if not _has_alpha(image):
        raise InvalidMask(
            "an OpenAI-style mask must be a PNG with an alpha channel whose fully transparent "
            "pixels mark what to repaint; this mask has no alpha channel"
        )
    return _alpha_mask(image)


def check_mask_fits(mask: HasSize, source: HasSize) -> None:
    """InvalidMask unless the mask and its source are the same size."""
    if (mask.width, mask.height) != (source.width, source.height):
        raise InvalidMask(
            f"the mask is {mask.width}×{mask.height} but the image is "
            f"{source.width}×{source.height}; they must be the same size"
        )


def check_mask_marks_something(mask: Image.Image) -> None:
    """InvalidMask when an internal mask repaints no pixel at all."""
    if mask.getbbox() is None:
        raise InvalidMask("the mask marks nothing to repaint")


def _alpha_mask(image: Image.Image) -> Image.Image:
    return image.convert("RGBA").getchannel("A").point(_OPENAI_LEVELS)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info
