"""Queue figures for /metrics and the health page, computed the same way on both databases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from huajia.jobs.model import TaskState
from huajia.jobs.tables import images, tasks

RECENT_DURATIONS = 1000


def queue_stats(connection: Connection, now: datetime) -> dict[str, Any]:
    """Counts by state (also flat: stats["pending"]), errors, images and recent run times."""
    by_state = _by_state(connection)
    oldest = connection.execute(
        select(func.min(tasks.c.created_at)).where(tasks.c.state == TaskState.PENDING.value)
    ).scalar_one_or_none()
    return {
        **by_state,
        "by_state": by_state,
        "pending_depth": by_state[TaskState.PENDING.value],
        "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
        "errors_by_code": _errors_by_code(connection),
        "images_total": _images_generated(connection),
        "generation_seconds": _recent_durations(connection),
    }


def _by_state(connection: Connection) -> dict[str, int]:
    counts = {state.value: 0 for state in TaskState}
    query = select(tasks.c.state, func.count()).group_by(tasks.c.state)
    counts.update(dict(connection.execute(query).all()))
    return counts


def _errors_by_code(connection: Connection) -> dict[str, int]:
    query = (
        select(tasks.c.error_code, func.count())
        .where(tasks.c.state == TaskState.FAILED.value, tasks.c.error_code.is_not(None))
        .group_by(tasks.c.error_code)
    )
    return dict(connection.execute(query).all())


def _images_generated(connection: Connection) -> int:
    # Cache hits copy records without running the model (attempts == 0): not generated.
    query = (
        select(func.count())
        .select_from(images.join(tasks, tasks.c.id == images.c.task_id))
        .where(tasks.c.attempts > 0)
    )
    count: int = connection.execute(query).scalar_one()
    return count


def _recent_durations(connection: Connection) -> list[float]:
    """Seconds from claim to completion of the most recent completed (not cached) tasks."""
    query = (
        select(tasks.c.started_at, tasks.c.finished_at)
        .where(tasks.c.state == TaskState.COMPLETED.value, tasks.c.attempts > 0)
        .order_by(tasks.c.finished_at.desc())
        .limit(RECENT_DURATIONS)
    )
    return [
        (finished - started).total_seconds()
        for started, finished in connection.execute(query).all()
        if started is not None and finished is not None
    ]
