"""Checks and plans for edit jobs: what the pipeline starts from and how its output goes back.

No torch here, so a job can be checked before it is queued. Sizes: every output side must be
a multiple of the model's size multiple (16). Image-to-image and inpaint scale the source (and
mask) to cover the request size and crop the centre; outpaint never resizes the source;
upscale resizes it to `upscaled_size`, which rounds each side to the nearest multiple of 8
before doubling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from huajia.engine.edit_types import (
    EditJob,
    ImageToImageJob,
    InpaintJob,
    OutpaintJob,
    UpscaleJob,
)
from huajia.engine.masks import (
    Size,
    composite,
    feathered,
    fit_image,
    fit_mask,
    latent_cells,
    outpaint_alpha,
    outpaint_canvas,
)
from huajia.engine.models import ModelLimits
from huajia.engine.types import ResolvedRequest
from huajia.errors import InvalidRequest

MAX_FEATHER = 256


@dataclass(frozen=True)
class EditPlan:
    """One job's pipeline inputs at the request size, and how its output is put back."""

    init: Image.Image
    strength: float
    repaint: Image.Image | None = None
    """Block mask for the inpaint pipeline (white = repaint); None runs image-to-image."""
    alpha: Image.Image | None = None
    """Feathered mask for compositing the output over `init`; None keeps the output as is."""

    def finish(self, output: Image.Image) -> Image.Image:
        """The pipeline's output, composited over `init` where the plan has an alpha."""
        if self.alpha is None:
            return output.convert("RGB")
        return composite(output, self.init, self.alpha)


def plan_edit(job: EditJob, limits: ModelLimits, cell: int) -> EditPlan:
    """Check one job and decide its pipeline inputs; InvalidRequest says what cannot work."""
    _check_size(job.request, limits)
    _check_strength(job.strength, job.request.steps)
    if isinstance(job, InpaintJob):
        return _plan_inpaint(job, cell)
    if isinstance(job, OutpaintJob):
        return _plan_outpaint(job, cell)
    if isinstance(job, UpscaleJob):
        return _plan_upscale(job, limits.size_multiple)
    return _plan_image_to_image(job)


def denoising_steps(steps: int, strength: float) -> int:
    """How many of `steps` run at `strength`: diffusers skips the first int(steps×(1−s))."""
    skipped = int(max(steps - min(steps * strength, steps), 0))
    return steps - skipped


def upscaled_size(size: Size, multiple: int) -> Size:
    """Twice `size`, each side first rounded (half up) to a multiple of `multiple`/2.

    The result is a multiple of `multiple` and within `multiple`/2 px of exactly 2× per side.
    """
    half = max(1, multiple // 2)
    width, height = (max(half, (side + half // 2) // half * half) for side in size)
    return 2 * width, 2 * height


def _plan_image_to_image(job: ImageToImageJob) -> EditPlan:
    return EditPlan(fit_image(job.source, _size(job.request)), job.strength)


def _plan_inpaint(job: InpaintJob, cell: int) -> EditPlan:
    if job.mask.size != job.source.size:
        raise InvalidRequest(
            f"the mask is {_dims(job.mask.size)} but the source is {_dims(job.source.size)}: "
            "draw the mask at the source's size"
        )
    _check_feather(job.feather)
    size = _size(job.request)
    mask = fit_mask(job.mask, size)
    if mask.getbbox() is None:
        raise InvalidRequest("the mask is empty: paint white where the image should change")
    alpha = feathered(mask, job.feather)
    return EditPlan(fit_image(job.source, size), job.strength, latent_cells(alpha, cell), alpha)


def _plan_outpaint(job: OutpaintJob, cell: int) -> EditPlan:
    _check_feather(job.feather)
    size, source = _size(job.request), job.source.size
    _check_canvas(size, source, job.left, job.top)
    box = (job.left, job.top, job.left + source[0], job.top + source[1])
    alpha = outpaint_alpha(size, box, job.feather)
    canvas = outpaint_canvas(job.source, size, job.left, job.top)
    return EditPlan(canvas, job.strength, latent_cells(alpha, cell), alpha)


def _plan_upscale(job: UpscaleJob, multiple: int) -> EditPlan:
    expected = upscaled_size(job.source.size, multiple)
    if _size(job.request) != expected:
        raise InvalidRequest(
            f"upscaling a {_dims(job.source.size)} source ×2 gives {_dims(expected)}, "
            f"but the request asks for {_dims(_size(job.request))}"
        )
    init = job.source.convert("RGB").resize(expected, Image.Resampling.LANCZOS)
    return EditPlan(init, job.strength)


def _check_size(request: ResolvedRequest, limits: ModelLimits) -> None:
    for name, value in (("width", request.width), ("height", request.height)):
        if not limits.min_size <= value <= limits.max_size or value % limits.size_multiple:
            raise InvalidRequest(
                f"{name} must be a multiple of {limits.size_multiple} between "
                f"{limits.min_size} and {limits.max_size} px (got {value})"
            )


def _check_strength(strength: float, steps: int) -> None:
    if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise InvalidRequest(f"strength must be between 0 and 1 (got {strength})")
    if denoising_steps(steps, strength) < 1:
        raise InvalidRequest(
            f"strength {strength} leaves none of the {steps} steps to run: "
            "raise the strength or the steps"
        )


def _check_feather(feather: int) -> None:
    if not 0 <= feather <= MAX_FEATHER:
        raise InvalidRequest(f"feather must be between 0 and {MAX_FEATHER} px (got {feather})")


def _check_canvas(canvas: Size, source: Size, left: int, top: int) -> None:
    if canvas[0] < source[0] or canvas[1] < source[1] or canvas == source:
        raise InvalidRequest(
            f"the canvas {_dims(canvas)} must be larger than the source {_dims(source)} "
            "to outpaint it"
        )
    room = (canvas[0] - source[0], canvas[1] - source[1])
    if not (0 <= left <= room[0] and 0 <= top <= room[1]):
        raise InvalidRequest(
            f"the {_dims(source)} source at ({left}, {top}) does not fit the {_dims(canvas)} "
            f"canvas: left must be 0–{room[0]} and top 0–{room[1]}"
        )


def _size(request: ResolvedRequest) -> Size:
    return request.width, request.height


def _dims(size: Size) -> str:
    return f"{size[0]}×{size[1]}"
