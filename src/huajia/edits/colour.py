"""Colour adjustments: brightness, contrast, saturation (PIL's enhancers) and warmth."""

from __future__ import annotations

from PIL import Image, ImageEnhance

from huajia.edits.operation import Adjust

# At full warmth red gains a fifth and blue loses a fifth: a clear shift, far from a tint.
_WARMTH_GAIN = 0.2


def adjust(image: Image.Image, op: Adjust) -> Image.Image:
    """The image with `op`'s adjustments applied in a fixed order; alpha is left alone."""
    if op.is_neutral:
        return image.copy()
    colour = image.convert("RGB")
    if op.brightness != 1:
        colour = ImageEnhance.Brightness(colour).enhance(op.brightness)
    if op.contrast != 1:
        colour = ImageEnhance.Contrast(colour).enhance(op.contrast)
    if op.saturation != 1:
        colour = ImageEnhance.Color(colour).enhance(op.saturation)
    if op.warmth != 0:
        colour = colour.point(warmth_table(op.warmth))
    if image.mode == "RGBA":
        colour.putalpha(image.getchannel("A"))
    return colour


def warmth_table(warmth: float) -> list[int]:
    """A lookup table for RGB `point()`: red scaled up and blue down for warmth > 0."""
    red_gain, blue_gain = 1 + _WARMTH_GAIN * warmth, 1 - _WARMTH_GAIN * warmth
    identity = range(256)
    return [
        *(min(255, round(value * red_gain)) for value in identity),
        *identity,
        *(min(255, round(value * blue_gain)) for value in identity),
    ]
