"""Limits checked inside the transaction that queues a task, so parallel submits cannot all
pass a check that only one of them should (a count read in one step and an insert in another
let 21 of 60 parallel submits through a queue limit of 5).

SQLite's writing transactions start with `BEGIN IMMEDIATE`, which already serialises them;
PostgreSQL takes one transaction-scoped advisory lock, held only while the counts are read
and the row is inserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select

from huajia.errors import QueueFull, QuotaExceeded
from huajia.jobs import queue
from huajia.jobs.database import one_at_a_time
from huajia.jobs.model import TaskState
from huajia.jobs.tables import tasks

PENDING, PROCESSING = TaskState.PENDING.value, TaskState.PROCESSING.value
# Any constant shared by every Huajia process; distinct from the migration lock's.
_ADMISSION_LOCK_ID = 0x48_75_61_6A_69_62


@dataclass(frozen=True, slots=True)
class Quota:
    """So many images per owner since a moment (a sliding window)."""

    images: int
    since: datetime
    retry_after: int = 3600


@dataclass(frozen=True, slots=True)
class Admission:
    """What a new task must fit within; None means no such limit."""

    queue_max: int | None = None
    quota: Quota | None = None

    @property
    def limited(self) -> bool:
        return self.queue_max is not None or self.quota is not None


def admit(connection: Connection, admission: Admission, owner: str, wanted: int) -> None:
    """Raise QueueFull or QuotaExceeded unless a task of `wanted` images fits now."""
    if not admission.limited:
        return
    one_at_a_time(connection, _ADMISSION_LOCK_ID)
    check(connection, admission, owner, wanted)


def check(connection: Connection, admission: Admission, owner: str, wanted: int) -> None:
    """The same checks without the lock: a look ahead, before work a refusal would waste."""
    if admission.quota is not None:
        _check_quota(connection, admission.quota, owner, wanted)
    # Counted only as far as the limit: the cost does not grow with a deeper queue.
    limit = admission.queue_max
    if limit is not None and queue.pending_at_least(connection, limit) >= limit:
        raise QueueFull(
            f"the queue is full ({admission.queue_max} tasks waiting); retry in a little while",
            retry_after=10,
        )


def _check_quota(connection: Connection, quota: Quota, owner: str, wanted: int) -> None:
    used = images_requested_since(connection, owner, quota.since)
    if used + wanted > quota.images:
        raise QuotaExceeded(
            f"this key has requested {used} of its {quota.images} images in the last 24 hours; "
            f"{max(0, quota.images - used)} more may be requested now",
            retry_after=quota.retry_after,
        )


def pending_count(connection: Connection) -> int:
    query = select(func.count()).select_from(tasks).where(queue.IS_PENDING)
    count: int = connection.execute(query).scalar_one()
    return count


def images_requested_since(connection: Connection, owner: str, since: datetime) -> int:
    """Images the owner asked for since `since` that cost (or will cost) GPU time."""
    # Failed and canceled tasks, and cache hits (never run: attempts 0), cost no GPU time.
    costly = or_(
        tasks.c.state.in_([PENDING, PROCESSING]),
        and_(tasks.c.state == TaskState.COMPLETED.value, tasks.c.attempts > 0),
    )
    query = select(func.coalesce(func.sum(tasks.c.image_count), 0)).where(
        tasks.c.owner == owner, tasks.c.created_at >= since, costly
    )
    count: int = connection.execute(query).scalar_one()
    return count
