"""Publishing review: reviewers' queue and decisions, and an image's bytes whatever its state
for the people allowed to see it (its owner while it waits; reviewers and admins always)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.presenters import gallery_image
from huajia.api.schemas import GalleryImage, ReviewIn, ReviewPage
from huajia.auth.policy import can_review, can_view
from huajia.errors import NotFound
from huajia.jobs.model import is_record_id

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)

PRIVATE = "private, no-store"


@router.post(
    "/api/v1/images/{image_id}/review", operation_id="reviewImage", response_model=GalleryImage
)
async def review_image(
    image_id: str, body: ReviewIn, who: PrincipalDep, services: ServicesDep
) -> GalleryImage:
    """Approve or reject an image (reviewers and admins). Deciding the same twice changes
    nothing; the editor hears of it live (SSE) and by webhook (`image.approved` /
    `image.rejected`)."""
    await run_in_threadpool(services.review.decide, who, image_id, body.decision, body.reason)
    item = await run_in_threadpool(services.store.get_image, image_id)
    return gallery_image(item.image, item.task)


@router.get("/api/v1/review", operation_id="listReviewQueue", response_model=ReviewPage)
async def review_queue(
    who: PrincipalDep,
    services: ServicesDep,
    state: Literal["pending_review", "approved", "rejected"] = "pending_review",
    order: Literal["oldest", "newest"] = "oldest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReviewPage:
    """Images waiting for review (or already decided), oldest or newest first."""
    page = await run_in_threadpool(services.review.queue, who, state, order, limit, offset)
    images = [gallery_image(item.image, item.task) for item in page.items]
    return ReviewPage(images=images, total=page.total)


@router.get(
    "/api/v1/images/{image_id}/file",
    operation_id="getImageBytes",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/webp": {}, "image/jpeg": {}}}},
)
async def image_bytes(
    image_id: str, who: PrincipalDep, services: ServicesDep, thumbnail: bool = False
) -> Response:
    """An image's bytes with the API key: its owner may see it while it waits for review
    (not once rejected); reviewers and admins see every image. Never cached by proxies."""
    if not is_record_id(image_id):
        raise NotFound(f"no image {image_id!r}")
    item = await run_in_threadpool(services.store.get_image, image_id)
    image = item.image
    reviewer = can_review(who)
    owner = can_view(who, item.task.owner)
    if not (reviewer or (owner and image.review_state != "rejected")):
        raise NotFound(f"no image {image_id}")
    key = image.thumbnail_key if thumbnail and image.thumbnail_key else image.key
    media = "image/webp" if key != image.key else image.content_type
    data = await run_in_threadpool(services.blobs.get, key)
    return Response(data, media_type=media, headers={"Cache-Control": PRIVATE})
