"""Image bytes under /generated-images/..., and the caller's gallery."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import gallery_image
from huajia.api.schemas import FavouriteIn, GalleryImage, GalleryPage, Text
from huajia.errors import NotFound
from huajia.jobs.model import is_record_id
from huajia.storage.base import is_held

router = APIRouter(tags=["images"], responses=ERROR_RESPONSES)

IMMUTABLE = "public, max-age=31536000, immutable"
SMALL_FILE = 4 << 20  # bytes read at once and sent whole; larger files are streamed
CONTENT_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
}


@router.get("/generated-images/{key:path}", operation_id="getImageFile", include_in_schema=False)
async def image_file(key: str, services: ServicesDep, download: bool = False) -> Response:
    """Image bytes; names are unguessable and never change, so they cache forever.

    `?download=1` asks the browser to save the file (a cross-origin `<a download>` cannot).
    """
    extension = key.rsplit(".", 1)[-1].lower()
    media_type = CONTENT_TYPES.get(extension)
    if media_type is None or is_held(key):  # held: waiting for review, or rejected
        raise NotFound("no such image")
    headers = {"Cache-Control": IMMUTABLE}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="huajia-{key.rsplit("/", 1)[-1]}"'

    local = services.blobs.local_path(key)
    if local is not None:
        try:  # one trip to a thread for a file of usual size, not one per step of a stream
            data = await run_in_threadpool(_small_file, local)
        except FileNotFoundError:
            raise NotFound("no such image") from None
        if data is None:  # large: streamed from the disk
            return FileResponse(local, media_type=media_type, headers=headers)
        return Response(data, media_type=media_type, headers=headers)
    data = await run_in_threadpool(services.blobs.get, key)
    return Response(data, media_type=media_type, headers=headers)


def _small_file(path: Path) -> bytes | None:
    """The file's bytes if it is at most SMALL_FILE (None: stream it instead)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise FileNotFoundError(path.name)
    return path.read_bytes() if info.st_size <= SMALL_FILE else None


@router.get("/api/v1/images", operation_id="listImages", response_model=GalleryPage)
async def list_images(
    who: PrincipalDep,
    services: ServicesDep,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    preset: Annotated[Text | None, Query(max_length=100)] = None,
    favourites: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> GalleryPage:
    """The caller's images, newest first: search by prompt, filter by preset or favourites."""
    rows, total = await run_in_threadpool(
        services.store.search_images, who.key_id, q, preset, favourites, limit, offset
    )
    return GalleryPage(images=[gallery_image(row.image, row.task) for row in rows], total=total)


@router.delete("/api/v1/images/{image_id}", operation_id="deleteImage", status_code=204)
async def delete_image(image_id: str, who: PrincipalDep, services: ServicesDep) -> Response:
    """Delete one of the caller's images (admins: anyone's): its record, bytes and thumbnail,
    for good. Deleting it again answers 404."""
    await run_in_threadpool(services.purger.delete_image, who, image_id)
    return Response(status_code=204)


@router.post(
    "/api/v1/images/{image_id}/favourite", operation_id="setFavourite", response_model=GalleryImage
)
async def set_favourite(
    image_id: str, body: FavouriteIn, who: PrincipalDep, services: ServicesDep
) -> GalleryImage:
    """Mark or unmark one of the caller's images as a favourite."""
    if not is_record_id(image_id):
        raise NotFound(f"no image {image_id}")
    owner = None if who.is_admin else who.key_id
    image = await run_in_threadpool(services.store.set_favourite, image_id, owner, body.favourite)
    task = await run_in_threadpool(services.store.get, image.task_id)
    return gallery_image(image, task)
