"""Pixel work around an edit: fitting sources, masks, feathering, canvases and compositing.

Pure PIL and numpy, no torch. The invariant every edit keeps: where a composite's alpha is 0
the result is the base image's pixel, bit for bit, so the VAE round trip never touches it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

Size = tuple[int, int]
Box = tuple[int, int, int, int]

# Masks are painted by hand or saved as JPEG: treat mid-grey and above as "repaint".
_BINARY = [255 if value >= 128 else 0 for value in range(256)]


def fit_image(image: Image.Image, size: Size) -> Image.Image:
    """RGB, scaled (LANCZOS) to cover `size` and centre-cropped; as is when already that size."""
    rgb = image.convert("RGB")
    if rgb.size == size:
        return rgb
    return ImageOps.fit(rgb, size, Image.Resampling.LANCZOS)


def fit_mask(mask: Image.Image, size: Size) -> Image.Image:
    """A mask cropped like `fit_image` crops its source, then made strictly black and white."""
    grey = mask.convert("L")
    if grey.size != size:
        grey = ImageOps.fit(grey, size, Image.Resampling.NEAREST)
    return grey.point(_BINARY)


def feathered(mask: Image.Image, radius: int) -> Image.Image:
    """The mask blurred by a Gaussian of `radius` px (σ): the composite's alpha.

    It reaches about 3×radius px beyond the mask; further out it is exactly 0.
    """
    return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask


def latent_cells(alpha: Image.Image, cell: int) -> Image.Image:
    """White on every `cell`×`cell` block that alpha touches at all, black elsewhere.

    The inpaint pipeline samples its mask once per latent (one per `cell` px block, nearest
    pixel); aligned blocks make it repaint everything the composite will take from its output.
    """
    pixels = np.asarray(alpha.convert("L"))
    rows, cols = pixels.shape[0] // cell, pixels.shape[1] // cell
    blocks = pixels[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).max(axis=(1, 3))
    touched = np.where(blocks > 0, 255, 0).astype(np.uint8)
    return Image.fromarray(touched.repeat(cell, axis=0).repeat(cell, axis=1))


def outpaint_canvas(source: Image.Image, size: Size, left: int, top: int) -> Image.Image:
    """`source` at (left, top) on a `size` canvas whose new area repeats the nearest edge pixel."""
    width, height = size
    pixels = np.asarray(source.convert("RGB"))
    pad = ((top, height - top - source.height), (left, width - left - source.width), (0, 0))
    return Image.fromarray(np.pad(pixels, pad, mode="edge"))


def outpaint_alpha(size: Size, box: Box, feather: int) -> Image.Image:
    """0 on the source's box, rising to 255 over `feather` px into the new area only."""
    width, height = size
    left, top, right, bottom = box
    columns, rows = np.arange(width), np.arange(height)
    dx = np.maximum(np.maximum(left - columns, columns - (right - 1)), 0)
    dy = np.maximum(np.maximum(top - rows, rows - (bottom - 1)), 0)
    distance = np.hypot(dy[:, None], dx[None, :])
    ramp = np.clip(distance / max(feather, 1), 0.0, 1.0)
    return Image.fromarray(np.rint(ramp * 255).astype(np.uint8))


def composite(output: Image.Image, base: Image.Image, alpha: Image.Image) -> Image.Image:
    """`output` over `base` through `alpha`: base exactly where alpha is 0, output where 255."""
    return Image.composite(output.convert("RGB"), base, alpha)
