"""Image files made in code for the source and mask tests (no binary fixtures in the tree)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

_EXIF_ORIENTATION = 0x0112
_GPS_IFD = 0x8825
_GPS_LATITUDE_REF = 1


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(width: int, height: int, mode: str = "RGB", seed: int = 7) -> Image.Image:
    """Pixels that do not compress, so cutting a file in half cuts its pixel data."""
    pixels = random.Random(seed).randbytes(width * height * len(mode))
    return Image.frombytes(mode, (width, height), pixels)


def halves(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue: which way is up survives a rotation."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def phone_jpeg(image: Image.Image, orientation: int) -> bytes:
    """A JPEG as a phone writes it: an EXIF orientation and GPS coordinates."""
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    exif.get_ifd(_GPS_IFD)[_GPS_LATITUDE_REF] = "N"
    return encoded(image, "JPEG", exif=exif.tobytes(), quality=95)


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose header (IHDR, CRC fixed up) claims `width`×`height`."""
    data = bytearray(encoded(Image.new("RGB", (1, 1)), "PNG"))
    # Signature (8), then IHDR: length (4), type (4), width and height (4 each) ... CRC (4).
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


Colour = int | tuple[int, ...]


def square_on(size: tuple[int, int], box: tuple[int, int, int, int], inside: Colour,
              outside: Colour, mode: str) -> Image.Image:  # fmt: skip
    """A `mode` image filled with `outside` except `box`, filled with `inside`."""
    image = Image.new(mode, size, outside)
    image.paste(inside, box)
    return image
