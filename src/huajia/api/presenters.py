"""Task and image records → the API's response models."""

from __future__ import annotations

from typing import Any

from huajia.api.schemas import (
    ErrorDetail,
    GalleryImage,
    ImageOut,
    ReviewOut,
    TaskRecord,
    TaskResult,
    TaskStatus,
)
from huajia.jobs.model import ImageRecord, Task, TaskState

IMAGE_ROUTE = "/generated-images/"

_MESSAGES = {
    TaskState.PENDING: "waiting in the queue",
    TaskState.PROCESSING: "generating",
    TaskState.COMPLETED: "done",
    TaskState.FAILED: "failed",
    TaskState.CANCELED: "canceled",
}


def image_url(key: str) -> str:
    return IMAGE_ROUTE + key


def preview_url(image_id: str, thumbnail: bool = False) -> str:
    """The authenticated route to an image's bytes whatever its review state."""
    return f"/api/v1/images/{image_id}/file" + ("?thumbnail=true" if thumbnail else "")


def image_out(image: ImageRecord) -> ImageOut:
    published = image.publishable
    thumbnail = image.thumbnail_key
    return ImageOut(
        id=image.id,
        url=image_url(image.key) if published else None,
        thumbnail_url=image_url(thumbnail) if published and thumbnail else None,
        preview_url=None if published else preview_url(image.id),
        review=ReviewOut(
            state=image.review_state, reason=image.review_reason, reviewed_at=image.reviewed_at
        ),
        width=image.width,
        height=image.height,
        seed=image.seed,
        format=image.format,
        parent_id=image.parent_id,
        origin=image.origin,
    )


def progress_of(task: Task) -> float:
    if task.state is TaskState.COMPLETED:
        return 1.0
    if not task.progress_total:
        return 0.0
    return round(min(1.0, task.progress_step / task.progress_total), 4)


def error_of(task: Task) -> ErrorDetail | None:
    if task.error_code is None:
        return None
    return ErrorDetail(code=task.error_code, message=task.error_message or task.error_code)


def task_status(task: Task) -> TaskStatus:
    message = _MESSAGES[task.state]
    if task.state is TaskState.PENDING and task.queue_position:
        message = f"waiting in the queue (position {task.queue_position})"
    if task.state is TaskState.FAILED and task.error_message:
        message = task.error_message
    return TaskStatus(
        task_id=task.id,
        status=task.state.value,
        progress=progress_of(task),
        current_step=task.progress_step,
        total_steps=task.progress_total,
        queue_position=task.queue_position,
        message=message,
        error=error_of(task),
        created_at=task.created_at,
        updated_at=task.updated_at,
    )


def parameters_of(task: Task) -> dict[str, Any]:
    """The request as the caller reads it back, with the model revision it was served with."""
    return {**task.request.parameters(), "model_revision": task.model_revision}


def task_result(task: Task) -> TaskResult:
    images = [image_out(image) for image in sorted(task.images, key=lambda i: i.index)]
    return TaskResult(
        task_id=task.id,
        status=task.state.value,
        image_urls=[image.url for image in images if image.url],
        count=len(images),
        images=images,
        parameters=parameters_of(task),
    )


def task_record(task: Task) -> TaskRecord:
    return TaskRecord(
        task_id=task.id,
        owner=task.owner,
        status=task.state.value,
        priority=task.priority.value,
        request=parameters_of(task),
        progress=progress_of(task),
        current_step=task.progress_step,
        total_steps=task.progress_total,
        queue_position=task.queue_position,
        attempts=task.attempts,
        error=error_of(task),
        cached=task.state is TaskState.COMPLETED and task.attempts == 0,
        webhook=webhook_status(task),
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        updated_at=task.updated_at,
        images=[image_out(image) for image in sorted(task.images, key=lambda i: i.index)],
    )


def webhook_status(task: Task) -> dict[str, Any] | None:
    if task.webhook_url is None:
        return None
    return {
        "url": task.webhook_url,
        "delivered_at": task.webhook_delivered_at.isoformat()
        if task.webhook_delivered_at
        else None,
        "attempts": task.webhook_attempts,
        "last_error": task.webhook_error,
    }


def gallery_image(image: ImageRecord, task: Task) -> GalleryImage:
    return GalleryImage(
        **image_out(image).model_dump(),
        task_id=task.id,
        prompt=task.request.prompt,
        style_preset=task.request.style_preset,
        created_at=image.created_at,
        favourite=image.favourite,
    )
