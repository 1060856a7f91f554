"""POST /v1/images/edits: OpenAI's image edit (multipart), through the same queue.

OpenAI's mask convention holds: the mask's fully transparent pixels mark what to repaint;
without a mask, the image's own transparent pixels do; an image with neither is redrawn
whole as a variation. `client.images.edit(...)` of the official SDK works unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from huajia.api.deps import PrincipalDep, Services, ServicesDep
from huajia.api.errors import OPENAI_ERROR_RESPONSES, openai_error_responses
from huajia.api.routes.openai import (
    OPENAI_MODEL_NAMES,
    ImagesResponse,
    images_answer,
    parse_size,
    wait_for_task,
)
from huajia.api.schemas import OutputFormat
from huajia.auth.keys import Principal
from huajia.errors import InvalidRequest
from huajia.images.masks import (
    check_mask_fits,
    check_mask_marks_something,
    mask_from_transparency,
    openai_mask,
)
from huajia.images.sources import SourceImage, from_pixels, load_upload
from huajia.jobs.requests import GenerationCommand
from huajia.logs import current_request_id

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERROR_RESPONSES)

WHOLE_IMAGE_STRENGTH = 0.75


@router.post(
    "/images/edits", operation_id="openaiEditImage", response_model=ImagesResponse,
    responses=openai_error_responses(503, 507),
)  # fmt: skip
async def edit_image(
    request: Request,
    who: PrincipalDep,
    services: ServicesDep,
    image: Annotated[UploadFile, File(description="PNG, JPEG or WebP")],
    prompt: Annotated[str, Form(min_length=1, max_length=4000)],
    mask: Annotated[UploadFile | None, File(description="PNG; transparent = repaint")] = None,
    n: Annotated[int, Form(ge=1, le=9)] = 1,
    size: Annotated[str | None, Form(max_length=20)] = None,
    model: Annotated[str | None, Form(max_length=200)] = None,
    response_format: Annotated[Literal["url", "b64_json"], Form()] = "url",
    output_format: Annotated[OutputFormat, Form()] = "png",
) -> ImagesResponse:
    """Edit an image and wait: the answer carries the finished images."""
    limits = services.editing.limits
    await run_in_threadpool(services.generation.policies.check_texts, who, prompt)
    source = await run_in_threadpool(load_upload, await image.read(), limits, keep_alpha=True)
    _check_size(size, source)
    mask_bytes = await mask.read() if mask is not None else None
    command = await run_in_threadpool(
        _command, services, who, source, mask_bytes, prompt, n, output_format
    )
    if model is not None and model not in OPENAI_MODEL_NAMES:
        command = command.model_copy(update={"model": model})
    submitted = await run_in_threadpool(
        services.generation.submit, who, command, None, current_request_id()
    )
    task = await wait_for_task(services, who, submitted.task, request)
    return await images_answer(services, request, task, response_format, output_format)


def _command(services: Services, who: Principal, source: SourceImage, mask_bytes: bytes | None,
             prompt: str, n: int, output_format: OutputFormat) -> GenerationCommand:  # fmt: skip
    """Keep the image (and its mask, in Huajia's own convention) and say what to do."""
    repaint = _repaint_mask(source, mask_bytes, services)
    # The request is counted once, when it is submitted; its two uploads are part of it.
    kept = services.editing.upload(who, _opaque(source), "openai-image", metered=False)
    common = {"prompt": prompt, "num_images": n, "output_format": output_format,
              "source_image_id": kept.id}  # fmt: skip
    if repaint is None:
        return GenerationCommand(
            **common, operation="image_to_image", strength=WHOLE_IMAGE_STRENGTH
        )
    mask_record = services.editing.upload(who, _as_source(repaint), "openai-mask", metered=False)
    return GenerationCommand(**common, operation="inpaint", mask_image_id=mask_record.id)


def _repaint_mask(source: SourceImage, mask_bytes: bytes | None,
                  services: Services) -> Image.Image | None:  # fmt: skip
    if mask_bytes is not None:
        loaded = load_upload(mask_bytes, services.editing.limits, keep_alpha=True)
        repaint = openai_mask(loaded.image)
    elif source.has_alpha:
        repaint = mask_from_transparency(source)
    else:
        return None
    check_mask_fits(repaint, source)
    check_mask_marks_something(repaint)
    return repaint


def _check_size(size: str | None, source: SourceImage) -> None:
    """Edits keep the image's size; a `size` naming another is refused, not silently ignored."""
    wanted = parse_size(size)
    if wanted is not None and wanted != (source.width, source.height):
        raise InvalidRequest(
            f"size {size} differs from the image's {source.width}x{source.height}; "
            "edits keep the image's size (leave size out, or say auto)",
            param="size",
        )


def _opaque(source: SourceImage) -> SourceImage:
    if not source.has_alpha:
        return source
    return _as_source(source.image.convert("RGB"))


def _as_source(image: Image.Image) -> SourceImage:
    return from_pixels(image)
