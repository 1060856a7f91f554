"""Publishing review and the bytes owed a deletion: the store's side of both.

A review decision is about bytes, so it applies to every image row holding the same key (a
result-cache copy shares its original's blob). The caller copies the bytes to where the
decision puts them *before* `decide` and deletes the old ones after it; the rows say which
key is live, and `blob_deletions` says what is owed a deletion, so a crash at any point leaves
nothing served that should not be and nothing orphaned for good.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from huajia.errors import NotFound
from huajia.jobs import audit
from huajia.jobs.database import transaction
from huajia.jobs.model import ImageRecord, ReviewState
from huajia.jobs.rows import image_from_row
from huajia.jobs.tables import blob_deletions, images, tasks, webhook_outbox

ReviewOrder = Literal["newest", "oldest"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A reviewer's decision as the store records it."""

    image_id: str
    state: ReviewState
    reviewer: str  # key id
    reviewer_name: str
    reason: str | None
    key: str  # where the image's bytes live once decided
    thumbnail_key: str | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A webhook event to queue for every task whose image the decision touched."""

    event: str
    payload: Callable[[ImageRecord], dict[str, Any]]


class ReviewStore(ABC):
    """Review states of images, and the blob deletions the decisions leave owed."""

    @abstractmethod
    def decide(self, decision: Decision, outgoing: Outgoing | None = None
               ) -> builtins.list[ImageRecord]:  # fmt: skip
        """Record the decision on the image and every row sharing its bytes, in one
        transaction with its audit event, its webhooks and the old keys' deletion."""

    @abstractmethod
    def queue(
        self, state: ReviewState = "pending_review", order: ReviewOrder = "oldest",
        limit: int = 50, offset: int = 0,
    ) -> tuple[builtins.list[ImageRecord], int]:  # fmt: skip
        """Images in that review state (one row per blob), and how many there are."""


class BlobDeletions(ABC):
    """Keys owed a deletion: written with the change that orphans them, purged after."""

    @abstractmethod
    def owe(self, keys: Collection[str], after_seconds: float = 0.0) -> None:
        """Owe these keys a deletion, not before `after_seconds` from now."""

    @abstractmethod
    def due(self, limit: int = 500) -> builtins.list[str]:
        """Keys whose deletion is due, oldest first."""

    @abstractmethod
    def done(self, keys: Collection[str]) -> None:
        """The bytes under these keys are gone."""


class SqlReviewStore(ReviewStore, BlobDeletions):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def decide(self, decision: Decision, outgoing: Outgoing | None = None
               ) -> builtins.list[ImageRecord]:  # fmt: skip
        now = self.clock()
        with transaction(self.engine, write=True) as connection:
            row = connection.execute(
                select(images).where(images.c.id == decision.image_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no image {decision.image_id}")
            old = image_from_row(row)
            sharing = images.c.key == old.key
            connection.execute(
                update(images)
                .where(sharing)
                .values(
                    key=decision.key,
                    thumbnail_key=decision.thumbnail_key,
                    review_state=decision.state,
                    reviewed_by=decision.reviewer,
                    reviewed_at=now,
                    review_reason=decision.reason,
                )
            )
            live = {key for key in (decision.key, decision.thumbnail_key) if key}
            stale = {key for key in (old.key, old.thumbnail_key) if key} - live
            cancel_deletions(connection, live)
            owe_deletions(connection, stale, now)
            changed = [
                image_from_row(found)
                for found in connection.execute(select(images).where(images.c.key == decision.key))
            ]
            detail: dict[str, Any] = {
                "decision": decision.state,
                "images": [image.id for image in changed],
            }
            if decision.reason:
                detail["reason"] = decision.reason
            event = audit.now_event(
                now, decision.reviewer, decision.reviewer_name, f"image.{decision.state}",
                decision.image_id, detail,
            )  # fmt: skip
            audit.append(connection, event)
            if outgoing is not None:
                _queue_webhooks(connection, changed, outgoing, now)
        return changed

    def queue(
        self, state: ReviewState = "pending_review", order: ReviewOrder = "oldest",
        limit: int = 50, offset: int = 0,
    ) -> tuple[builtins.list[ImageRecord], int]:  # fmt: skip
        # One row per blob: the first row holding the key (a cache copy is not reviewed twice).
        firsts = (
            select(func.min(images.c.id).label("id"))
            .where(images.c.review_state == state)
            .group_by(images.c.key)
            .subquery()
        )
        newest = order == "newest"
        page = (
            select(images)
            .where(images.c.id.in_(select(firsts.c.id)))
            .order_by(
                images.c.created_at.desc() if newest else images.c.created_at,
                images.c.id,
            )
            .limit(limit)
            .offset(offset)
        )
        with transaction(self.engine, write=False) as connection:
            total = connection.execute(select(func.count()).select_from(firsts)).scalar_one()
            found = [image_from_row(row) for row in connection.execute(page)]
        return found, total

    def owe(self, keys: Collection[str], after_seconds: float = 0.0) -> None:
        if keys:
            with transaction(self.engine, write=True) as connection:
                owe_deletions(connection, keys, self.clock() + timedelta(seconds=after_seconds))

    def due(self, limit: int = 500) -> builtins.list[str]:
        query = (
            select(blob_deletions.c.key)
            .where(blob_deletions.c.not_before <= self.clock())
            .order_by(blob_deletions.c.not_before, blob_deletions.c.key)
            .limit(limit)
        )
        with transaction(self.engine, write=False) as connection:
            return list(connection.execute(query).scalars())

    def done(self, keys: Collection[str]) -> None:
        if keys:
            with transaction(self.engine, write=True) as connection:
                cancel_deletions(connection, keys)


def owe_deletions(connection: Connection, keys: Collection[str], not_before: datetime) -> None:
    """Owe each key a deletion (a key already owed keeps the earlier moment)."""
    if not keys:
        return
    rows = [{"key": key, "not_before": not_before} for key in sorted(keys)]
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(dialect_insert(blob_deletions).on_conflict_do_nothing(), rows)


def cancel_deletions(connection: Connection, keys: Collection[str]) -> None:
    if keys:
        connection.execute(delete(blob_deletions).where(blob_deletions.c.key.in_(list(keys))))


def unreferenced(connection: Connection, keys: Sequence[str]) -> builtins.list[str]:
    """Those of `keys` no image row holds any more (as its image or its thumbnail)."""
    if not keys:
        return []
    held = (
        select(images.c.key)
        .where(images.c.key.in_(keys))
        .union(select(images.c.thumbnail_key).where(images.c.thumbnail_key.in_(keys)))
    )
    still = set(connection.execute(held).scalars())
    return [key for key in keys if key not in still]


def _queue_webhooks(connection: Connection, changed: Sequence[ImageRecord], outgoing: Outgoing,
                    now: datetime) -> None:  # fmt: skip
    task_ids = sorted({image.task_id for image in changed})
    hooks = dict(
        connection.execute(
            select(tasks.c.id, tasks.c.webhook_url).where(
                tasks.c.id.in_(task_ids), tasks.c.webhook_url.is_not(None)
            )
        ).all()
    )
    rows = [
        {"task_id": image.task_id, "event": outgoing.event, "url": hooks[image.task_id],
         "payload": outgoing.payload(image), "created_at": now, "next_at": now}
        for image in changed
        if image.task_id in hooks
    ]  # fmt: skip
    if rows:
        connection.execute(insert(webhook_outbox), rows)
