"""Webhook delivery bookkeeping: which finished tasks still owe their caller a webhook.

A delivery is claimed by pushing `webhook_next_at` past the sending time, so several API
processes can dispatch from one database without sending one event twice at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, or_, select, update

from huajia.jobs.model import TERMINAL_STATES
from huajia.jobs.tables import tasks


def claim_due(connection: Connection, now: datetime, hold: timedelta, max_attempts: int,
              limit: int) -> list[str]:  # fmt: skip
    """Ids of finished tasks whose webhook is due, held for `hold` while being sent."""
    due = (
        select(tasks.c.id)
        .where(
            tasks.c.webhook_url.is_not(None),
            tasks.c.webhook_delivered_at.is_(None),
            tasks.c.webhook_attempts < max_attempts,
            tasks.c.state.in_([state.value for state in TERMINAL_STATES]),
            # Never tried (no time, no error), or its retry time has come; a delivery given up
            # on keeps its error and no retry time.
            or_(
                and_(tasks.c.webhook_next_at.is_(None), tasks.c.webhook_error.is_(None)),
                tasks.c.webhook_next_at <= now,
            ),
        )
        .order_by(tasks.c.finished_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(connection.execute(due).scalars())
    if ids:
        connection.execute(
            update(tasks).where(tasks.c.id.in_(ids)).values(webhook_next_at=now + hold)
        )
    return ids


def record(connection: Connection, task_id: str, now: datetime, error: str | None,
           retry_in: timedelta | None) -> None:  # fmt: skip
    """A delivery's outcome: delivered, or failed with when to try again (None: give up)."""
    if error is None:
        values: dict[str, object] = {"webhook_delivered_at": now, "webhook_error": None}
    else:
        values = {
            "webhook_error": error[:2000],
            "webhook_next_at": now + retry_in if retry_in is not None else None,
        }
    connection.execute(
        update(tasks)
        .where(tasks.c.id == task_id)
        .values(webhook_attempts=tasks.c.webhook_attempts + 1, **values)
    )
