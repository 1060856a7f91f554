"""A stored image delivered in another format or at a CMS slot's size, still labelled.

The stored file's embedded parameters travel into the new file and the labeler writes the AI
labels (IPTC source type, the sealed TC260 label, C2PA when configured) again, so a converted
download says what it is exactly as the original does. A visible mark is already in the pixels.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError

from huajia.errors import UnsupportedImage
from huajia.images.encode import EncodedImage, ImageFormat, read_parameters
from huajia.images.labeler import Labeler


class Slot(NamedTuple):
    """A target size: the picture is cropped (centred) to its aspect ratio, then scaled down."""

    width: int
    height: int


def convert_image(data: bytes, fmt: ImageFormat, image_id: str, labeler: Labeler,
                  slot: Slot | None = None) -> EncodedImage:  # fmt: skip
    """The stored file `data` (record `image_id`) as `fmt`, fitted to `slot` when given."""
    parameters = read_parameters(data)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise UnsupportedImage(f"the stored image cannot be read: {error}") from error
    if slot is not None:
        picture = fit_to_slot(picture, slot)
    return labeler.label(picture, fmt, parameters, image_id).file


def fit_to_slot(picture: Image.Image, slot: Slot) -> Image.Image:
    """Crop to the slot's aspect ratio (centred) and scale down to its size; never up."""
    ratio = slot.width / slot.height
    if picture.width / picture.height > ratio:
        size = (round(picture.height * ratio), picture.height)
    else:
        size = (picture.width, round(picture.width / ratio))
    if size[0] > slot.width:
        size = (slot.width, slot.height)
    return ImageOps.fit(picture, size, Image.Resampling.LANCZOS)
