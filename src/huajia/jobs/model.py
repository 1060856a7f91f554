"""The queue's domain: task states and their guarded transitions, tasks, image records, API keys.

No storage here: the store turns rows into these types and asks `check_transition` before
every state change, so the rules live in one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from huajia.auth.keys import Role
from huajia.errors import IllegalTransition
from huajia.jobs.requests import ImageOrigin, TaskRequest

_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def is_record_id(value: str) -> bool:
    """Task and image ids are 32 lowercase hex digits; anything else names no record."""
    return _RECORD_ID.fullmatch(value) is not None


# An image's review: none needed, waiting for a reviewer, or decided.
ReviewState = Literal["none", "pending_review", "approved", "rejected"]
REVIEW_STATES: tuple[ReviewState, ...] = ("none", "pending_review", "approved", "rejected")
PUBLISHABLE: frozenset[str] = frozenset({"none", "approved"})
ReviewDecision = Literal["approve", "reject"]
DECISION_STATES: dict[str, ReviewState] = {"approve": "approved", "reject": "rejected"}


class TaskState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return not TRANSITIONS[self]


# processing → pending happens only when a lease expires (a dead worker's task is re-queued).
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.PROCESSING, TaskState.CANCELED, TaskState.FAILED}),
    TaskState.PROCESSING: frozenset(
        {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED, TaskState.PENDING}
    ),
    TaskState.COMPLETED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELED: frozenset(),
}

TERMINAL_STATES = frozenset(state for state in TaskState if state.terminal)


def can_transition(current: TaskState, target: TaskState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: TaskState, target: TaskState) -> None:
    """Raise IllegalTransition unless the table allows current → target."""
    if not can_transition(current, target):
        raise IllegalTransition(f"a {current.value} task cannot become {target.value}")


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 runs first; the claim order sorts on this."""
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER: tuple[Priority, ...] = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


# One Role for the whole service: the auth package defines what each one may do.
__all__ = ["Role"]


@dataclass(frozen=True, slots=True)
class Holding:
    """A model a worker holds, at the revision it serves (None: not pinned to one)."""

    model: str
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image the worker has stored as a blob, before its record exists."""

    index: int
    key: str
    thumbnail_key: str | None
    format: str
    content_type: str
    width: int
    height: int
    seed: int
    size_bytes: int
    parent_id: str | None = None  # the image this one was made from (lineage)
    origin: ImageOrigin = "generated"
    review_state: ReviewState = "none"
    id: str | None = None  # chosen by whoever wrote the file (its label names it); else the store's


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One generated image's row; the bytes live in a blob store under `key`."""

    id: str
    task_id: str
    index: int
    key: str
    thumbnail_key: str | None
    format: str
    content_type: str
    width: int
    height: int
    seed: int
    size_bytes: int
    created_at: datetime
    favourite: bool = False
    parent_id: str | None = None
    origin: ImageOrigin = "generated"
    review_state: ReviewState = "none"
    reviewed_by: str | None = None  # the reviewer's key id
    reviewed_at: datetime | None = None
    review_reason: str | None = None

    @property
    def publishable(self) -> bool:
        """Whether editors may use it: no review needed, or a reviewer approved it."""
        return self.review_state in PUBLISHABLE


@dataclass(frozen=True, slots=True)
class NewTask:
    """A validated request about to be queued."""

    owner: str
    request: TaskRequest
    priority: Priority = Priority.NORMAL
    idempotency_key: str | None = None
    cache_key: str | None = None
    max_attempts: int = 3
    batch_key: str | None = None
    image_count: int = 1
    webhook_url: str | None = None
    model_revision: int | None = None  # the weights it is served with (None: any worker's)


@dataclass(frozen=True, slots=True)
class Task:
    """One generation task as the store holds it."""

    id: str
    owner: str
    priority: Priority
    state: TaskState
    request: TaskRequest
    created_at: datetime
    updated_at: datetime
    progress_step: int = 0
    progress_total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_seconds: float | None = None
    batch_key: str | None = None
    image_count: int = 1
    webhook_url: str | None = None
    webhook_attempts: int = 0
    webhook_next_at: datetime | None = None
    webhook_delivered_at: datetime | None = None
    webhook_error: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    error_code: str | None = None
    error_message: str | None = None
    idempotency_key: str | None = None
    cache_key: str | None = None
    cancel_requested: bool = False
    previews_wanted: bool = False  # an event stream asked for live previews
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    model: str | None = None
    model_revision: int | None = None
    images: list[ImageRecord] = field(default_factory=list)
    queue_position: int | None = None  # 1 = next to run; None unless pending


@dataclass(frozen=True, slots=True)
class GalleryItem:
    """An image with the task that made it (the prompt and preset live on the task)."""

    image: ImageRecord
    task: Task


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key: only the hash of its secret, never the secret."""

    id: str
    name: str
    role: Role
    key_hash: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing someone did, as the audit trail keeps it."""

    at: datetime
    actor: str
    actor_name: str
    action: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditNote:
    """An audit entry to write with the task a store call creates (its target: that task)."""

    actor: str
    actor_name: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)
