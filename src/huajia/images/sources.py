"""Images to edit that callers supply: uploaded bytes, or a URL fetched through the outbound guard.

An upload is judged by its bytes, never its file name or content type: only whole PNG, JPEG and
WebP files are read. Its size is checked from the header before a pixel is decoded, so a small
file claiming billions of pixels costs nothing. What comes out is upright (EXIF orientation
applied), sRGB, RGB (or RGBA when asked and the file has transparency), and re-encoded as a PNG
without the file's metadata: a phone photo's EXIF carries GPS coordinates, the camera's serial
number and the time it was taken, none of which Huajia needs or should keep.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread
import httpx
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from huajia.errors import (
    ImageTooLarge,
    PayloadTooLarge,
    SourceFetchFailed,
    UnsupportedImage,
    UrlRefused,
)
from huajia.outbound import OutboundPolicy, check_target, guarded_client

if TYPE_CHECKING:
    from huajia.settings import Settings

SourceFormat = Literal["png", "jpeg", "webp"]

_READERS = ("PNG", "JPEG", "WEBP")
# MPO is how Pillow's JPEG reader names a JPEG that carries extra pictures (phones' depth maps);
# its first picture is the photo.
_FORMATS: dict[str, SourceFormat] = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp"}
_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_ACCEPT = "image/png, image/jpeg, image/webp"


@dataclass(frozen=True)
class SourceLimits:
    """How large an image to edit may be: bytes, pixels, longest side, fetch deadline."""

    max_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    max_side: int = 8192
    timeout_s: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceLimits:
        return cls(
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_source_pixels,
            max_side=settings.max_source_side,
            timeout_s=settings.source_timeout_seconds,
        )


@dataclass(frozen=True)
class SourceImage:
    """An accepted image to edit: upright pixels, and the metadata-free PNG to store."""

    image: Image.Image = field(repr=False)
    data: bytes = field(repr=False)
    original_format: SourceFormat
    width: int
    height: int
    sha256: str

    content_type = "image/png"

    @property
    def has_alpha(self) -> bool:
        return self.image.mode == "RGBA"


def load_upload(data: bytes, limits: SourceLimits, *, keep_alpha: bool = False) -> SourceImage:
    """Check and normalise an uploaded image (PNG, JPEG or WebP, judged by its bytes).

    RGB, or RGBA when `keep_alpha` and the file has an alpha channel or a transparent colour
    (an OpenAI-style mask, or an image whose transparent pixels mark what to repaint).
    """
    _check_bytes(len(data), limits)
    with _open(data) as opened:
        original_format = _FORMATS[str(opened.format)]
        _check_pixels(opened.width, opened.height, limits)
        if opened.format != "MPO" and getattr(opened, "is_animated", False):
            raise UnsupportedImage("animated images cannot be edited; send a single frame")
        upright = _upright(_decoded(opened))
    pixels = _normalised(upright, keep_alpha)
    stored = _png(pixels)
    digest = hashlib.sha256(stored).hexdigest()
    return SourceImage(pixels, stored, original_format, pixels.width, pixels.height, digest)


async def fetch_source(
    url: str,
    policy: OutboundPolicy,
    limits: SourceLimits,
    *,
    label: str = "image_url",
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """The bytes at `url`, fetched through the outbound guard within `limits` (no redirects)."""
    if not policy.only_hosts:
        raise UrlRefused(
            f"{label}: images cannot be fetched by URL here; the operator turns this on by "
            "listing the hosts they may come from in source_hosts"
        )
    await anyio.to_thread.run_sync(lambda: check_target(url, policy, label=label))
    try:
        with anyio.fail_after(limits.timeout_s):
            return await _download(url, policy, limits, label, transport)
    except TimeoutError as error:
        message = f"{label} was not fetched within {limits.timeout_s:g} seconds"
        raise SourceFetchFailed(message) from error
    except httpx.HTTPError as error:
        raise SourceFetchFailed(f"{label} could not be fetched") from error


async def load_url(
    url: str,
    policy: OutboundPolicy,
    limits: SourceLimits,
    *,
    keep_alpha: bool = False,
    label: str = "image_url",
) -> SourceImage:
    """Fetch `url` (see `fetch_source`) and check it like an upload, decoding off the loop."""
    data = await fetch_source(url, policy, limits, label=label)
    return await anyio.to_thread.run_sync(lambda: load_upload(data, limits, keep_alpha=keep_alpha))


async def _download(
    url: str,
    policy: OutboundPolicy,
    limits: SourceLimits,
    label: str,
    transport: httpx.AsyncBaseTransport | None,
) -> bytes:
    # identity: the cap then counts what arrives, and no compressed body can expand in memory.
    headers = {"Accept": _ACCEPT, "Accept-Encoding": "identity"}
    async with (
        guarded_client(policy, limits.timeout_s, transport) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        _check_response(response, limits, label)
        return await _read_capped(response, limits.max_bytes, label)


def _check_response(response: httpx.Response, limits: SourceLimits, label: str) -> None:
    if response.is_redirect:
        raise SourceFetchFailed(
            f"{label} answered with a redirect, which is not followed; give the image's own URL"
        )
    if response.status_code != 200:
        raise SourceFetchFailed(f"{label} answered HTTP {response.status_code}, not an image")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise PayloadTooLarge(f"{label} is larger than {limits.max_bytes} bytes")


async def _read_capped(response: httpx.Response, max_bytes: int, label: str) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"{label} is larger than {max_bytes} bytes")
    return bytes(body)


def _check_bytes(size: int, limits: SourceLimits) -> None:
    if size > limits.max_bytes:
        raise PayloadTooLarge(f"the image is larger than {limits.max_bytes} bytes")
    if size == 0:
        raise UnsupportedImage("the image is empty")


def _check_pixels(width: int, height: int, limits: SourceLimits) -> None:
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {width}×{height}; images to edit may have at most "
            f"{limits.max_pixels} pixels and {limits.max_side} on a side"
        )


def _open(data: bytes) -> Image.Image:
    """The image with only its header read (Pillow decodes pixels on `load`)."""
    try:
        return Image.open(io.BytesIO(data), formats=_READERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard, for sizes far past ours (a warning is an error where warnings are).
        raise ImageTooLarge("the image claims more pixels than may be decoded") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnsupportedImage("not a PNG, JPEG or WebP image") from error


def _decoded(image: Image.Image) -> Image.Image:
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge("the image claims more pixels than may be decoded") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:  # Pillow's "damaged file"
        raise UnsupportedImage("the image file is damaged or cut short") from error
    return image


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        # Unreadable EXIF says nothing trustworthy about orientation: keep the pixels as stored.
        return image.copy()


def _normalised(image: Image.Image, keep_alpha: bool) -> Image.Image:
    if image.mode in _SIXTEEN_BIT:  # 16-bit grey: scale, since a plain convert clips at 255
        image = image.convert("I").point(lambda value: value / 257).convert("L")
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if has_alpha:
        image = image.convert("RGBA")
    elif image.mode not in ("RGB", "CMYK"):  # CMYK stays for its own profile to convert
        image = image.convert("RGB")
    image = _to_srgb(image)
    result = image.convert("RGBA" if keep_alpha and has_alpha else "RGB")
    result.info.clear()  # nothing of the file's metadata travels on (see the module docstring)
    return result


def _to_srgb(image: Image.Image) -> Image.Image:
    """The pixels in sRGB when the file carries another colour profile (a P3 phone photo)."""
    icc = image.info.get("icc_profile")
    if not isinstance(icc, bytes) or not icc:
        return image
    mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, profile, _srgb(), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a profile that cannot be used (or a grey one): the pixels as they are
    return image if converted is None else converted


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def from_pixels(image: Image.Image, original_format: SourceFormat = "png") -> SourceImage:
    """Pixels made here (a mask converted, an alpha channel dropped) as a source to keep."""
    stored = _png(image)
    digest = hashlib.sha256(stored).hexdigest()
    return SourceImage(image, stored, original_format, image.width, image.height, digest)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
