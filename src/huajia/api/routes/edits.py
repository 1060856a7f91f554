"""Images to edit and plain edits: uploads, images by URL, and crop / colour / text.

These answer at once (no GPU, no queue). Editing with the model (variations, inpaint,
outpaint, upscale) goes through POST /api/v1/generate with an `operation`, like any task.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import image_out
from huajia.api.schemas import EditsIn, ImageOut, UploadFromUrl, no_control_characters
from huajia.images.sources import load_upload, load_url
from huajia.outbound import OutboundPolicy

router = APIRouter(prefix="/api/v1", tags=["images"], responses=ERROR_RESPONSES)

MAX_FILENAME = 200


@router.post("/uploads", operation_id="uploadImage", status_code=201, response_model=ImageOut)
async def upload_image(
    file: Annotated[UploadFile, File(description="A PNG, JPEG or WebP image to edit.")],
    who: PrincipalDep,
    services: ServicesDep,
) -> ImageOut:
    """Keep an image to edit (a product photo, a mask); it is the caller's, like a result."""
    await run_in_threadpool(services.editing.admit, who)  # the rate, before any decoding
    data = await file.read()
    limits = services.editing.limits
    source = await run_in_threadpool(load_upload, data, limits)
    name = _filename(file.filename)
    record = await run_in_threadpool(services.editing.upload, who, source, name, False)
    return image_out(record)


@router.post(
    "/uploads/from-url", operation_id="uploadImageFromUrl", status_code=201,
    response_model=ImageOut,
)  # fmt: skip
async def upload_image_from_url(
    body: UploadFromUrl, who: PrincipalDep, services: ServicesDep
) -> ImageOut:
    """Fetch an image to edit from a host the operator allows (source_hosts)."""
    await run_in_threadpool(services.editing.admit, who)  # the rate, before any fetching
    policy = OutboundPolicy.for_sources(services.settings)
    source = await load_url(str(body.url), policy, services.editing.limits, label="url")
    record = await run_in_threadpool(services.editing.upload, who, source, None, False)
    return image_out(record)


@router.post(
    "/images/{image_id}/edits", operation_id="editImage", status_code=201,
    response_model=ImageOut,
)  # fmt: skip
async def edit_image(
    image_id: str, body: EditsIn, who: PrincipalDep, services: ServicesDep
) -> ImageOut:
    """Crop (to a box or a CMS slot), resize, rotate, flip, adjust colours or add text:
    a new image pointing to this one, answered at once."""
    record = await run_in_threadpool(
        services.editing.retouch, who, image_id, body.edits, body.output_format
    )
    return image_out(record)


def _filename(name: str | None) -> str | None:
    """Only the base name, as a label: never a path of the client's machine."""
    if not name:
        return None
    base = PurePath(name.replace("\\", "/")).name[:MAX_FILENAME]
    try:
        return no_control_characters(base) or None
    except ValueError:
        return None
