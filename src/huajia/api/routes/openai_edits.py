"""POST /v1/images/edits: OpenAI's image edit (multipart), through the same queue.

OpenAI's mask convention holds: the mask's fully transparent pixels mark what to repaint;
without a mask, the image's own transparent pixels do; an image with neither is redrawn
whole as a variation. `client.images.edit(...)` of the official SDK works unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from huajia.api.schemas import OutputFormat, Text
from huajia.auth.keys import Principal
from huajia.errors import InvalidRequest
from huajia.generation.service import Submitted
from huajia.images.masks import (
    check_mask_fits,
    check_mask_marks_something,
    mask_from_transparency,
    openai_mask,
)
from huajia.images.sources import SourceImage, from_pixels, load_upload
from huajia.jobs.requests import GenerationCommand
from huajia.logs import current_request_id
from huajia.policy import EffectivePolicy

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
    prompt: Annotated[Text, Form(min_length=1, max_length=4000)],
    mask: Annotated[UploadFile | None, File(description="PNG; transparent = repaint")] = None,
    n: Annotated[int, Form(ge=1, le=9)] = 1,
    size: Annotated[Text | None, Form(max_length=20)] = None,
    model: Annotated[Text | None, Form(max_length=200)] = None,
    response_format: Annotated[Literal["url", "b64_json"], Form()] = "url",
    output_format: Annotated[OutputFormat, Form()] = "png",
) -> ImagesResponse:
    """Edit an image and wait: the answer carries the finished images."""
    # Prompt rules, rate, quota and queue before any upload is decoded or stored.
    admitted = await run_in_threadpool(services.generation.admit, who, prompt, n)
    limits = services.editing.limits
    source = await run_in_threadpool(load_upload, await image.read(), limits, keep_alpha=True)
    _check_size(size, source)
    mask_bytes = await mask.read() if mask is not None else None
    repaint = await run_in_threadpool(_repaint_mask, source, mask_bytes, services)
    edit = Edit(prompt, n, output_format, None if model in OPENAI_MODEL_NAMES else model)
    submitted = await run_in_threadpool(
        _submit, services, who, admitted, source, repaint, edit, current_request_id()
    )
    task = await wait_for_task(services, who, submitted.task, request)
    return await images_answer(services, request, task, response_format, output_format)


@dataclass(frozen=True)
class Edit:
    prompt: str
    n: int
    output_format: OutputFormat
    model: str | None


def _submit(services: Services, who: Principal, admitted: EffectivePolicy, source: SourceImage,
            repaint: Image.Image | None, edit: Edit,
            request_id: str | None) -> Submitted:  # fmt: skip
    """Keep the image (and its mask, in Huajia's own convention) and queue the edit; a
    refused submit (the quota or queue filled meanwhile) takes the kept uploads with it."""
    kept: list[str] = []
    try:
        command = _command(services, who, source, repaint, edit, kept)
        return services.generation.submit(who, command, None, request_id, admitted=admitted)
    except BaseException:
        services.purger.discard(kept)
        raise


def _command(services: Services, who: Principal, source: SourceImage,
             repaint: Image.Image | None, edit: Edit,
             kept: list[str]) -> GenerationCommand:  # fmt: skip
    """Store the uploads (their tasks' ids noted in `kept`) and say what to do."""
    # The request is counted once, when admitted; its two uploads are part of it.
    image = services.editing.upload(who, _opaque(source), "openai-image", metered=False)
    kept.append(image.task_id)
    common = {"prompt": edit.prompt, "num_images": edit.n, "output_format": edit.output_format,
              "source_image_id": image.id, "model": edit.model}  # fmt: skip
    if repaint is None:
        return GenerationCommand(
            **common, operation="image_to_image", strength=WHOLE_IMAGE_STRENGTH
        )
    mask_record = services.editing.upload(who, _as_source(repaint), "openai-mask", metered=False)
    kept.append(mask_record.task_id)
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
