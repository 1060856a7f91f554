"""Worker presence: which worker processes are alive, their state and what their engine reports.

Workers beat every few seconds; one not seen for `LIVE_SECONDS` is treated as gone (its
tasks come back through lease expiry, not through this table).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from huajia.jobs.tables import workers

LIVE_SECONDS = 15.0


def report(
    connection: Connection, worker_id: str, model: str, state: str, engine: dict[str, Any],
    now: datetime, models: list[str] | None = None,
) -> None:  # fmt: skip
    """Insert or refresh the worker's row (each worker writes only its own)."""
    held = models or [model]
    fresh = {"model": model, "state": state, "engine": engine, "seen_at": now, "models": held}
    changed = connection.execute(update(workers).where(workers.c.id == worker_id).values(fresh))
    if changed.rowcount == 0:
        connection.execute(insert(workers).values(id=worker_id, started_at=now, **fresh))


def remove(connection: Connection, worker_id: str) -> None:
    connection.execute(delete(workers).where(workers.c.id == worker_id))


def live(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    """Workers seen recently, oldest first, as plain dicts for health pages."""
    since = now - timedelta(seconds=LIVE_SECONDS)
    query = select(workers).where(workers.c.seen_at >= since).order_by(workers.c.started_at)
    return [
        {
            "worker_id": row.id,
            "model": row.model,
            "models": list(row.models) if row.models else [row.model],
            "state": row.state,
            "engine": dict(row.engine),
            "started_at": row.started_at,
            "seen_at": row.seen_at,
        }
        for row in connection.execute(query)
    ]
