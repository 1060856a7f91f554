"""Queue figures for /metrics and the health page, computed the same way on both databases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from huajia.jobs.model import TaskState
from huajia.jobs.tables import images, tasks

# Upper bounds (seconds) of the /metrics run-time histogram's buckets.
GENERATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


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
        "pending_by_model": _pending_by_model(connection),
        "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
        "errors_by_code": _errors_by_code(connection),
        "images_total": _images_generated(connection),
        "generation_seconds": _run_time_histogram(connection),
    }


def _by_state(connection: Connection) -> dict[str, int]:
    counts = {state.value: 0 for state in TaskState}
    query = select(tasks.c.state, func.count()).group_by(tasks.c.state)
    counts.update(dict(connection.execute(query).all()))
    return counts


def _pending_by_model(connection: Connection) -> dict[str, int]:
    query = (
        select(tasks.c.model, func.count())
        .where(tasks.c.state == TaskState.PENDING.value, tasks.c.model.is_not(None))
        .group_by(tasks.c.model)
    )
    return dict(connection.execute(query).all())


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


def _run_time_histogram(connection: Connection) -> dict[str, Any]:
    """Cumulative bucket counts, sum and count of completed (not cached) tasks' run times."""
    run = tasks.c.run_seconds
    done = and_(tasks.c.state == TaskState.COMPLETED.value, run.is_not(None))
    columns = [func.sum(case((run <= bound, 1), else_=0)) for bound in GENERATION_BUCKETS]
    row = connection.execute(
        select(func.count(), func.coalesce(func.sum(run), 0.0), *columns).where(done)
    ).one()
    count, total, *buckets = row
    return {
        "count": int(count),
        "sum": float(total),
        "buckets": {
            bound: int(value or 0) for bound, value in zip(GENERATION_BUCKETS, buckets, strict=True)
        },
    }
