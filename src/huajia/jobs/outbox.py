"""Webhook events beyond a task's end (an image approved or rejected), one row per delivery.

Claimed like task webhooks: pushing `next_at` past the sending time holds a delivery for one
sender, so several API processes share the outbox without sending an event twice at once.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from huajia.jobs.database import transaction
from huajia.jobs.tables import webhook_outbox


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    task_id: str | None
    event: str
    url: str = field(repr=False)
    payload: dict[str, Any]
    attempts: int


class OutboxStore(ABC):
    @abstractmethod
    def claim_due(self, hold_seconds: float, max_attempts: int, limit: int = 20
                  ) -> builtins.list[OutboxEvent]:  # fmt: skip
        """Deliveries that are due, held `hold_seconds` for one sender."""

    @abstractmethod
    def record(self, event_id: int, error: str | None, retry_in_seconds: float | None) -> None:
        """Delivered (error None), or failed: retry after that many seconds, or never (None)."""


class SqlOutboxStore(OutboxStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def claim_due(self, hold_seconds: float, max_attempts: int, limit: int = 20
                  ) -> builtins.list[OutboxEvent]:  # fmt: skip
        now = self.clock()
        row = webhook_outbox.c
        due = (
            select(webhook_outbox)
            .where(
                row.delivered_at.is_(None),
                row.next_at.is_not(None),
                row.next_at <= now,
                row.attempts < max_attempts,
            )
            .order_by(row.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with transaction(self.engine, write=True) as connection:
            rows = connection.execute(due).all()
            if rows:
                held = now + timedelta(seconds=hold_seconds)
                ids = [found.id for found in rows]
                connection.execute(
                    update(webhook_outbox).where(row.id.in_(ids)).values(next_at=held)
                )
        return [
            OutboxEvent(found.id, found.task_id, found.event, found.url, dict(found.payload),
                        found.attempts)
            for found in rows
        ]  # fmt: skip

    def record(self, event_id: int, error: str | None, retry_in_seconds: float | None) -> None:
        now = self.clock()
        if error is None:
            values: dict[str, Any] = {"delivered_at": now, "error": None}
        else:
            retry = now + timedelta(seconds=retry_in_seconds) if retry_in_seconds else None
            values = {"error": error[:2000], "next_at": retry}
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == event_id)
                .values(attempts=webhook_outbox.c.attempts + 1, **values)
            )
