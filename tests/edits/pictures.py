"""Synthetic pictures for the edit tests: gradients, a red disc, and ways to count what survives."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

Pixels = npt.NDArray[np.int64]
RED = (230, 20, 20)


def gradient(width: int, height: int) -> Image.Image:
    """A muted blue-green backdrop graded in both directions, like a studio sweep."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(40, 90, width, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(70, 130, height, dtype=np.uint8)[:, None]
    pixels[..., 2] = 150
    return Image.fromarray(pixels)


def with_disc(
    image: Image.Image, centre: tuple[int, int], radius: int, colour: tuple[int, int, int] = RED
) -> Image.Image:
    drawn = image.copy()
    x, y = centre
    ImageDraw.Draw(drawn).ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return drawn


def noisy(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def array(image: Image.Image) -> Pixels:
    return np.asarray(image, dtype=np.int64)


def red_pixels(image: Image.Image) -> int:
    """How many pixels are clearly the disc's red (not the blue-green backdrop)."""
    pixels = array(image.convert("RGB"))
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 180) & (green < 80) & (blue < 80)).sum())


def changed(before: Image.Image, after: Image.Image, threshold: int = 24) -> npt.NDArray[np.bool_]:
    """Where `after` differs visibly from `before` (same size)."""
    difference = np.abs(array(before) - array(after)).max(axis=-1)
    return np.asarray(difference > threshold)
