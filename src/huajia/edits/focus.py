"""Where the subject of an image is: a content-aware default focus for crops.

Two cheap saliency cues on a copy 64 px across, both numpy only: how far each pixel is
from a background fitted to the borders (catches a product on a studio backdrop or a gradient),
and the spectral residual (Hou & Zhang, 2007: what the image's smooth spectrum does not predict,
which catches subjects against texture). The focus is the weighted centroid of the region with
the most saliency, so two separate objects do not pull the focus into the empty gap between them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from huajia.edits.operation import FocusPoint

Grid = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_SIDE = 64
_BORDER = 0.05
_CENTRE_PRIOR = 0.25
_REGION_THRESHOLD = 0.5
_FLAT = 2.0 / 255.0

CENTRE = FocusPoint(x=0.5, y=0.5)


def find_focus(image: Image.Image) -> FocusPoint:
    """The centre of the image's most salient region (its centre when nothing stands out)."""
    pixels = _thumbnail(image)
    if float(pixels.std(axis=(0, 1)).max()) < _FLAT:
        return CENTRE
    saliency = saliency_map(pixels)
    region = _strongest_region(saliency)
    weights = np.where(region, saliency, 0.0)
    total = float(weights.sum())
    if total <= 0.0:
        return CENTRE
    rows, cols = np.indices(weights.shape)
    y = (float((rows * weights).sum()) / total + 0.5) / weights.shape[0]
    x = (float((cols * weights).sum()) / total + 0.5) / weights.shape[1]
    return FocusPoint(x=min(max(x, 0.0), 1.0), y=min(max(y, 0.0), 1.0))


def saliency_map(pixels: Grid) -> Grid:
    """Saliency in [0, 1] for an H×W×3 array of RGB values in [0, 1]."""
    background = _normalised(_background_distance(pixels))
    residual = _normalised(_spectral_residual(pixels @ np.array([0.299, 0.587, 0.114])))
    combined = 0.6 * background + 0.4 * residual
    return _normalised(_blur(combined * _centre_prior(combined.shape), 2))


def _thumbnail(image: Image.Image) -> Grid:
    scale = _SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # The reducing gap averages whole blocks of pixels first, so fine detail cannot alias
    # into false saliency, and it is several times faster than filtering the full image.
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0).convert("RGB")
    return np.asarray(small, dtype=np.float64) / 255.0


def _background_distance(pixels: Grid) -> Grid:
    """Colour distance from a plane fitted to the border pixels (a flat or graded backdrop)."""
    height, width, _ = pixels.shape
    rows, cols = np.indices((height, width))
    design = np.stack([np.ones_like(rows), rows / height, cols / width], axis=-1).astype(float)
    border = _border_mask(height, width)
    fitted = _fit_plane(design[border], pixels[border])
    # Refit without the border pixels that are far off: a subject touching an edge.
    residuals = np.linalg.norm(pixels[border] - design[border] @ fitted, axis=1)
    inliers = residuals <= max(float(np.percentile(residuals, 80)), 1e-6)
    fitted = _fit_plane(design[border][inliers], pixels[border][inliers])
    distance: Grid = np.linalg.norm(pixels - design @ fitted, axis=-1)
    return distance


def _fit_plane(design: Grid, colours: Grid) -> Grid:
    solution, *_ = np.linalg.lstsq(design, colours, rcond=None)
    return np.asarray(solution, dtype=np.float64)


def _border_mask(height: int, width: int) -> Mask:
    band = max(1, round(_BORDER * min(height, width)))
    mask = np.zeros((height, width), dtype=bool)
    mask[:band, :] = mask[-band:, :] = True
    mask[:, :band] = mask[:, -band:] = True
    return mask


def _spectral_residual(grey: Grid) -> Grid:
    spectrum = np.fft.fft2(grey)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - _blur(log_amplitude, 1)
    saliency: Grid = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    return _blur(saliency, 3)


def _centre_prior(shape: tuple[int, ...]) -> Grid:
    """A mild preference for the middle: photographers seldom put the subject on the border."""
    rows, cols = np.indices(shape[:2])
    dy = (rows + 0.5) / shape[0] - 0.5
    dx = (cols + 0.5) / shape[1] - 0.5
    prior: Grid = 1.0 - _CENTRE_PRIOR * (dx**2 + dy**2) / 0.5
    return prior


def _strongest_region(saliency: Grid) -> Mask:
    """The connected above-threshold region holding the most saliency."""
    labels = _components(saliency >= _REGION_THRESHOLD * float(saliency.max()))
    masses = np.bincount(labels.ravel(), weights=saliency.ravel())
    masses[0] = 0.0  # label 0 is everything below the threshold
    mask: Mask = labels == int(np.argmax(masses))
    return mask


def _components(mask: Mask) -> npt.NDArray[np.int64]:
    """4-connected components of `mask`, each labelled by a positive number (0 outside).

    Every pixel starts with its own label and takes its smallest neighbour's until nothing
    changes: all components settle at once, in as many rounds as the longest one is across.
    """
    outside = mask.size + 1
    labels = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), outside)
    while True:
        smallest = labels.copy()
        np.minimum(smallest[1:, :], labels[:-1, :], out=smallest[1:, :])
        np.minimum(smallest[:-1, :], labels[1:, :], out=smallest[:-1, :])
        np.minimum(smallest[:, 1:], labels[:, :-1], out=smallest[:, 1:])
        np.minimum(smallest[:, :-1], labels[:, 1:], out=smallest[:, :-1])
        smallest[~mask] = outside
        if np.array_equal(smallest, labels):
            break
        labels = smallest
    result: npt.NDArray[np.int64] = np.where(mask, labels, 0).astype(np.int64)
    return result


def _blur(values: Grid, radius: int) -> Grid:
    """Three box blurs (close to a Gaussian of sigma ≈ radius), edges repeated."""
    for axis in (0, 1):
        for _ in range(3):
            values = _box(values, radius, axis)
    return values


def _box(values: Grid, radius: int, axis: int) -> Grid:
    pad = [(0, 0)] * values.ndim
    pad[axis] = (radius + 1, radius)
    sums = np.cumsum(np.pad(values, pad, mode="edge"), axis=axis)
    upper = np.take(sums, np.arange(2 * radius + 1, sums.shape[axis]), axis=axis)
    lower = np.take(sums, np.arange(0, sums.shape[axis] - 2 * radius - 1), axis=axis)
    averaged: Grid = (upper - lower) / (2 * radius + 1)
    return averaged


def _normalised(values: Grid) -> Grid:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values)
    scaled: Grid = (values - low) / (high - low)
    return scaled
