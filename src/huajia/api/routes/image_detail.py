"""One image in full (parameters, preset, lineage), converted downloads, and a zip of several.

Owners (not once rejected), reviewers and admins only, as for an image's bytes in review.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import gallery_image, parameters_of
from huajia.api.schemas import GalleryImage, Text
from huajia.generation.downloads import ZIP_MAX_IMAGES, ImageDownloads

router = APIRouter(tags=["images"], responses=ERROR_RESPONSES)

PRIVATE = "private, no-store"


class ImageDetailOut(GalleryImage):
    """GET /api/v1/images/{id}: the image, how it was made, where it came from and went."""

    parameters: dict[str, Any]
    preset_version: int | None
    parent: GalleryImage | None
    children: list[GalleryImage]


ImageId = Annotated[Text, Field(max_length=64)]
SizeName = Annotated[Text | None, Query(max_length=64, description="a size preset (CMS slot)")]


class ZipIn(BaseModel):
    """POST /api/v1/images/zip: the images to pack."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[ImageId], Field(min_length=1, max_length=ZIP_MAX_IMAGES)]


def get_downloads(services: ServicesDep) -> ImageDownloads:
    catalog = services.presets.catalog
    return ImageDownloads(services.store, services.blobs, services.editing.labeler,
                          catalog.get_size)  # fmt: skip


DownloadsDep = Annotated[ImageDownloads, Depends(get_downloads)]


@router.get("/api/v1/images/{image_id}", operation_id="getImage", response_model=ImageDetailOut)
async def image_detail(image_id: str, who: PrincipalDep, downloads: DownloadsDep) -> ImageDetailOut:
    """An image with its task's parameters, seed, preset (and its version), its parent and the
    images made from it (those the caller may see)."""
    found = await run_in_threadpool(downloads.detail, who, image_id)
    item = found.item
    parameters = parameters_of(item.task)
    return ImageDetailOut(
        **gallery_image(item.image, item.task).model_dump(),
        parameters=parameters,
        preset_version=parameters.get("preset_version"),
        parent=gallery_image(found.parent.image, found.parent.task) if found.parent else None,
        children=[gallery_image(child.image, child.task) for child in found.children],
    )


@router.get(
    "/api/v1/images/{image_id}/download",
    operation_id="downloadImage",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/webp": {}, "image/jpeg": {}}}},
)
async def download_image(
    image_id: str,
    who: PrincipalDep,
    downloads: DownloadsDep,
    format: Literal["png", "webp", "jpeg"] | None = None,
    size: SizeName = None,
) -> Response:
    """The image as a file to save: as stored, or converted to PNG / WebP / JPEG and cropped
    and scaled down to a CMS slot; a converted file carries the same parameters and AI labels."""
    found = await run_in_threadpool(downloads.download, who, image_id, format, size)
    headers = {
        "Cache-Control": PRIVATE,
        "Content-Disposition": f'attachment; filename="{found.filename}"',
    }
    return Response(found.file.data, media_type=found.file.content_type, headers=headers)


@router.post(
    "/api/v1/images/zip",
    operation_id="zipImages",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def zip_images(body: ZipIn, who: PrincipalDep, downloads: DownloadsDep) -> StreamingResponse:
    """Several images in one zip, streamed; any id the caller may not see answers 404 first."""
    chunks = await run_in_threadpool(downloads.zip, who, body.ids)
    headers = {"Cache-Control": PRIVATE,
               "Content-Disposition": 'attachment; filename="huajia-images.zip"'}  # fmt: skip
    return StreamingResponse(iterate_in_threadpool(chunks), media_type="application/zip",
                             headers=headers)  # fmt: skip
