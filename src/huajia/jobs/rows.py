"""Rows of the queue's tables → domain records, and domain inputs → rows."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Row, bindparam, insert

from huajia.jobs.model import (
    ApiKey,
    ImageRecord,
    NewImage,
    NewTask,
    Priority,
    Role,
    Task,
    TaskState,
)
from huajia.jobs.requests import decode_request, encode_request
from huajia.jobs.tables import images


def new_id() -> str:
    return uuid.uuid4().hex


def task_from_row(
    row: Row[Any], images: Sequence[ImageRecord] = (), position: int | None = None
) -> Task:
    return task_from_values(dict(row._mapping), images, position)


def task_from_values(
    values: dict[str, Any], images: Sequence[ImageRecord] = (), position: int | None = None
) -> Task:
    """A task from its row's values by column name (taken over: changed in place)."""
    values["priority"] = Priority(values["priority"])
    values["state"] = TaskState(values["state"])
    values["request"] = decode_request(dict(values["request"]))
    for internal in ("queue_class", "queue_turn"):  # the claim order's key, not the task's
        values.pop(internal, None)
    return Task(**values, images=list(images), queue_position=position)


def image_from_row(row: Row[Any]) -> ImageRecord:
    return ImageRecord(**row._mapping)


def api_key_from_row(row: Row[Any]) -> ApiKey:
    values = dict(row._mapping)
    values["role"] = Role(values["role"])
    return ApiKey(**values)


def task_values(new: NewTask, state: TaskState, now: datetime) -> dict[str, Any]:
    """The row for a new task in `state` (pending, or completed for a cache hit)."""
    finished = now if state is TaskState.COMPLETED else None
    return {
        "id": new_id(),
        "owner": new.owner,
        "priority": new.priority.value,
        "state": state.value,
        "request": encode_request(new.request),
        "model": new.request.model,
        "model_revision": new.model_revision,
        "progress_step": 0,
        "progress_total": 0,
        "created_at": now,
        "updated_at": now,
        "started_at": finished,
        "finished_at": finished,
        "attempts": 0,
        "max_attempts": new.max_attempts,
        "idempotency_key": new.idempotency_key,
        "cache_key": new.cache_key,
        "batch_key": new.batch_key,
        "image_count": new.image_count,
        "webhook_url": new.webhook_url,
        "cancel_requested": False,
    }


def image_values(task_id: str, image: NewImage, now: datetime) -> dict[str, Any]:
    return {
        "id": image.id or new_id(),
        "task_id": task_id,
        "index": image.index,
        "key": image.key,
        "thumbnail_key": image.thumbnail_key,
        "format": image.format,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        "size_bytes": image.size_bytes,
        "created_at": now,
        "favourite": False,
        "parent_id": image.parent_id,
        "origin": image.origin,
        "review_state": image.review_state,
    }


# An image's record as `image_values` gives it, inserted on its own: the row as stored.
IMAGE_COLUMNS = ("id", "task_id", "index", "key", "thumbnail_key", "format", "content_type",
                 "width", "height", "seed", "size_bytes", "created_at", "favourite",
                 "parent_id", "origin", "review_state")  # fmt: skip
INSERT_IMAGE: Insert = (
    insert(images)
    .values({name: bindparam(name, type_=images.c[name].type) for name in IMAGE_COLUMNS})
    .returning(*images.c)
)


def group_images(records: Sequence[ImageRecord]) -> Mapping[str, list[ImageRecord]]:
    """Image records by task id, each list in index order."""
    grouped: dict[str, list[ImageRecord]] = {}
    for record in sorted(records, key=lambda image: image.index):
        grouped.setdefault(record.task_id, []).append(record)
    return grouped
