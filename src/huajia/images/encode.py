"""Image bytes with their generation parameters and an AI-generated label embedded.

The parameters travel as one JSON object so any Huajia image can be reproduced from the file
alone: in PNG as an iTXt chunk `huajia` (plus one readable chunk per field), in WebP and JPEG
in EXIF UserComment and ImageDescription. Every format also carries an XMP packet with the
IPTC digital source type "trained algorithmic media" (and, given one, the TC260 label of
GB 45438: see images.labels), and PNG an `AI-Generated: true` chunk.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from huajia.errors import InvalidRequest
from huajia.images.provenance import (
    AI_SOURCE_TYPE,
    SOFTWARE,
    SOURCE_TYPES,
    declares_ai_source,
    describe,
    xmp_packet,
)

ImageFormat = Literal["png", "webp", "jpeg"]

PARAMETERS_KEY = "huajia"
AI_GENERATED_KEY = "AI-Generated"
WEBP_QUALITY = 90
JPEG_QUALITY = 92
THUMBNAIL_QUALITY = 80
# libwebp's effort 2 of 6: at 256² about a tenth of the default effort's time (1.3 against
# 11.6 ms, on the worker's finishing thread) for a file of the same size.
THUMBNAIL_EFFORT = 2
# zlib's level for PNG files (all lossless). Pillow's default, 6, spends about twice level 4's
# time for a file about 1 % smaller (a 1024² photo: 260 ms for 1.59 MB against 120 ms for
# 1.61 MB; level 1: 68 ms for 1.77 MB). The setting `png_compress_level` chooses another.
PNG_LEVEL = 4

_CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
    "jpeg": ("image/jpeg", "jpg"),
}
_XMP_PNG_KEY = "XML:com.adobe.xmp"
_RESERVED_PNG_KEYS = {PARAMETERS_KEY, AI_GENERATED_KEY, "Description", "Software", _XMP_PNG_KEY}
_EXIF_IFD = 0x8769
_TAG_IMAGE_DESCRIPTION = 0x010E
_TAG_SOFTWARE = 0x0131
_TAG_USER_COMMENT = 0x9286
# EXIF UserComment starts with an 8-byte character-code header; JSON written with
# ensure_ascii is plain ASCII, so Chinese prompts survive every EXIF reader unchanged.
_ASCII_HEADER = b"ASCII\x00\x00\x00"
# A JPEG APP1 segment holds at most 65,533 bytes including its "Exif\0\0" marker.
_JPEG_EXIF_LIMIT = 65_000


@dataclass(frozen=True)
class EncodedImage:
    """An encoded image file ready to store or send."""

    data: bytes = field(repr=False)
    content_type: str
    extension: str
    width: int
    height: int


def encode_image(
    image: Image.Image,
    fmt: ImageFormat,
    parameters: dict[str, object],
    aigc: str | None = None,
    png_level: int = PNG_LEVEL,
) -> EncodedImage:
    """Encode `image` as `fmt` with `parameters` and the AI-generated label embedded;
    `aigc` is the TC260 label's JSON (see images.labels), written into the same XMP;
    `png_level` is zlib's level for a PNG (lossless at every level)."""
    if fmt not in _CONTENT_TYPES:
        raise InvalidRequest(f"unknown image format {fmt!r}: use png, webp or jpeg")
    buffer = io.BytesIO()
    if fmt == "png":
        _save_png(image, buffer, parameters, aigc, png_level)
    else:
        _save_with_exif(image, buffer, fmt, parameters, aigc)
    content_type, extension = _CONTENT_TYPES[fmt]
    return EncodedImage(buffer.getvalue(), content_type, extension, image.width, image.height)


def read_parameters(data: bytes) -> dict[str, object]:
    """The generation parameters embedded in a PNG, WebP or JPEG made by Huajia."""
    with _open(data) as image:
        text = _png_text(image).get(PARAMETERS_KEY) if image.format == "PNG" else None
        text = text or _exif_json(image)
    if not isinstance(text, str):
        raise InvalidRequest("this image carries no Huajia generation parameters")
    try:
        parameters = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"the embedded parameters are not valid JSON: {error}") from error
    if not isinstance(parameters, dict):
        raise InvalidRequest("the embedded parameters are not a JSON object")
    return parameters


def is_ai_generated(data: bytes) -> bool:
    """Whether the file declares itself AI-generated (XMP source type or PNG marker)."""
    with _open(data) as image:
        if _png_text(image).get(AI_GENERATED_KEY, "").strip().lower() == "true":
            return True
    xmp = read_xmp(data)
    return xmp is not None and declares_ai_source(xmp)


def read_xmp(data: bytes) -> str | None:
    """The file's XMP packet as text, if it has one."""
    with _open(data) as image:
        xmp = image.info.get("xmp") or _png_text(image).get(_XMP_PNG_KEY)
    if isinstance(xmp, bytes):
        return xmp.decode("utf-8", "replace")
    return xmp if isinstance(xmp, str) else None


def make_thumbnail(image: Image.Image, max_side: int = 256, origin: str = "generated",
                   aigc: str | None = None) -> EncodedImage:  # fmt: skip
    """A WebP preview whose longer side is at most `max_side`, aspect ratio kept."""
    if max_side < 1:
        raise InvalidRequest(f"thumbnail size must be at least 1 pixel, not {max_side}")
    preview = image.copy()
    preview.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # A preview of AI media is AI media too: it keeps the label, not the parameters.
    xmp = xmp_packet("Preview.", origin, aigc)
    preview.save(buffer, "WEBP", quality=THUMBNAIL_QUALITY, method=THUMBNAIL_EFFORT, xmp=xmp)
    return EncodedImage(buffer.getvalue(), "image/webp", "webp", preview.width, preview.height)


def _save_png(image: Image.Image, buffer: io.BytesIO, parameters: dict[str, object],
              aigc: str | None, level: int) -> None:  # fmt: skip
    chunks = PngImagePlugin.PngInfo()
    chunks.add_itxt(PARAMETERS_KEY, _to_json(parameters, ascii_only=False))
    for key, value in parameters.items():
        if key not in _RESERVED_PNG_KEYS and value is not None:
            # add_text falls back to UTF-8 iTXt when the value is not Latin-1 (Chinese).
            chunks.add_text(key, value if isinstance(value, str) else _to_json(value, False))
    chunks.add_text("Description", describe(parameters))
    chunks.add_text("Software", SOFTWARE)
    origin = str(parameters.get("origin", "generated"))
    if SOURCE_TYPES.get(origin, AI_SOURCE_TYPE):
        chunks.add_text(AI_GENERATED_KEY, "true")
    chunks.add_itxt(_XMP_PNG_KEY, xmp_packet(describe(parameters), origin, aigc).decode())
    image.save(buffer, "PNG", pnginfo=chunks, compress_level=level)


def _save_with_exif(image: Image.Image, buffer: io.BytesIO, fmt: ImageFormat,
                    parameters: dict[str, object], aigc: str | None) -> None:  # fmt: skip
    text = _to_json(parameters, ascii_only=True)
    exif = _exif_bytes(text, with_description=True)
    if fmt == "jpeg" and len(exif) > _JPEG_EXIF_LIMIT:
        exif = _exif_bytes(text, with_description=False)  # UserComment alone is enough
    if fmt == "jpeg" and len(exif) > _JPEG_EXIF_LIMIT:
        raise InvalidRequest("the parameters are too long to embed in a JPEG; use png or webp")
    xmp = xmp_packet(describe(parameters), str(parameters.get("origin", "generated")), aigc)
    if fmt == "jpeg":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(buffer, "JPEG", quality=JPEG_QUALITY, exif=exif, xmp=xmp)
    else:
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, exif=exif, xmp=xmp)


def _exif_bytes(parameters_json: str, *, with_description: bool) -> bytes:
    exif = Image.Exif()
    exif[_TAG_SOFTWARE] = SOFTWARE
    if with_description:
        exif[_TAG_IMAGE_DESCRIPTION] = parameters_json
    exif.get_ifd(_EXIF_IFD)[_TAG_USER_COMMENT] = _ASCII_HEADER + parameters_json.encode("ascii")
    return exif.tobytes()


def _exif_json(image: Image.Image) -> str | None:
    exif = image.getexif()
    comment = exif.get_ifd(_EXIF_IFD).get(_TAG_USER_COMMENT)
    if isinstance(comment, bytes) and comment.startswith(_ASCII_HEADER):
        return comment[len(_ASCII_HEADER) :].decode("ascii", "replace").rstrip("\x00")
    description = exif.get(_TAG_IMAGE_DESCRIPTION)
    if isinstance(description, str) and description.lstrip().startswith("{"):
        return description
    return None


def _png_text(image: Image.Image) -> dict[str, str]:
    # `.text` also reads chunks written after the pixel data, which `.info` misses.
    if not isinstance(image, PngImagePlugin.PngImageFile):
        return {}
    try:
        return {key: str(value) for key, value in image.text.items()}
    except (OSError, SyntaxError) as error:  # Pillow's two ways of saying "damaged file"
        raise InvalidRequest(f"damaged PNG image: {error}") from error


def _to_json(value: object, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise InvalidRequest("not a PNG, WebP or JPEG image") from error
