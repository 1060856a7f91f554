"""Leases: who holds a processing task, and what becomes of it when the holder goes silent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from huajia.errors import LeaseLost, TaskNotFound
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import TaskState
from huajia.jobs.tables import task_previews, task_progress, tasks

WORKER_LOST = "worker_lost"


# What deciding on a lease reads of a task: not the whole row (its request, its webhook …).
_LEASE_COLUMNS = [
    tasks.c[name]
    for name in ("id", "state", "model", "lease_owner", "attempts", "max_attempts",
                 "started_at", "progress_step", "progress_total", "cancel_requested",
                 "previews_wanted")
]  # fmt: skip
# Built once: the statement and its cache key are not rebuilt for every renewal and finish.
_LOCKED = select(*_LEASE_COLUMNS).where(tasks.c.id == bindparam("task_id")).with_for_update()
# A renewal (the columns set are those of the values given).
_RENEW = update(tasks).where(tasks.c.id == bindparam("beat_id"))
_ALL_LOCKED = (
    select(*_LEASE_COLUMNS)
    .where(tasks.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(tasks.c.id)
    .with_for_update()
)


# What a claim sets: processing, one attempt more, held by the bound `worker` until the bound
# `expires`, started `now`, no steps yet.
CLAIMED: dict[Any, Any] = {
    tasks.c.state: TaskState.PROCESSING.value,
    tasks.c.attempts: tasks.c.attempts + 1,
    tasks.c.lease_owner: bindparam("worker", type_=tasks.c.lease_owner.type),
    tasks.c.lease_expires_at: bindparam("expires", type_=tasks.c.lease_expires_at.type),
    tasks.c.started_at: bindparam("now", type_=tasks.c.started_at.type),
    tasks.c.updated_at: bindparam("now", type_=tasks.c.updated_at.type),
    tasks.c.progress_step: 0,
    tasks.c.progress_total: 0,
}


def locked_row(connection: Connection, task_id: str) -> Row[Any]:
    row = connection.execute(_LOCKED, {"task_id": task_id}).one_or_none()
    if row is None:
        raise TaskNotFound(f"no task {task_id}")
    return row


def held_row(connection: Connection, task_id: str, worker_id: str, attempt: int) -> Row[Any]:
    """The task's row if this worker's attempt still holds its lease, else LeaseLost."""
    row = locked_row(connection, task_id)
    if (
        row.state != TaskState.PROCESSING.value
        or row.lease_owner != worker_id
        or row.attempts != attempt
    ):
        raise LeaseLost(
            f"task {task_id} is no longer held by worker {worker_id} attempt {attempt} "
            f"(it is {row.state}, attempt {row.attempts})"
        )
    return row


def after_lost_lease(row: Row[Any], now: datetime) -> tuple[TaskState, dict[str, Any]]:
    """Where a task whose worker stopped renewing its lease goes next."""
    if row.cancel_requested:
        return TaskState.CANCELED, {"finished_at": now}
    if row.attempts < row.max_attempts:
        return TaskState.PENDING, {"lease_owner": None, "started_at": None,
                                   "progress_step": 0, "progress_total": 0}  # fmt: skip
    message = (
        f"the worker running this task stopped responding (lease expired) on each of "
        f"{row.attempts} attempts; giving up"
    )
    return TaskState.FAILED, {"finished_at": now, "error_code": WORKER_LOST,
                              "error_message": message}  # fmt: skip


def handed_back(row: Row[Any], now: datetime) -> tuple[TaskState, dict[str, Any]]:
    """A task its worker gives back while stopping: waiting again at once, the attempt not
    counted (it did not fail); canceled instead if someone asked for that meanwhile."""
    if row.cancel_requested:
        return TaskState.CANCELED, {"finished_at": now}
    return TaskState.PENDING, {"lease_owner": None, "started_at": None, "progress_step": 0,
                               "progress_total": 0, "attempts": row.attempts - 1}  # fmt: skip


def renew_all(connection: Connection, beats: Sequence[Beat], now: datetime,
              lease_seconds: float) -> dict[str, BeatAnswer]:  # fmt: skip
    """Renew every beat still held and append its steps, in one transaction; a beat whose
    attempt lost its lease is answered LOST, never raised, so the others still renew."""
    ids = sorted({beat.task_id for beat in beats})  # one lock order for every worker
    rows = {row.id: row for row in connection.execute(_ALL_LOCKED, {"ids": ids})}
    answers: dict[str, BeatAnswer] = {}
    steps: list[dict[str, Any]] = []
    expires = now + timedelta(seconds=lease_seconds)
    for beat in beats:
        row = rows.get(beat.task_id)
        if row is None or not _holds(row, beat):
            answers[beat.task_id] = BeatAnswer.LOST
            continue
        answers[beat.task_id] = answer_of(row._mapping)
        values: dict[str, Any] = {"lease_expires_at": expires, "updated_at": now}
        fresh = [step for step in beat.steps if step > row.progress_step]  # never twice
        if fresh:
            values |= {"progress_step": fresh[-1], "progress_total": beat.total}
            steps += [{"task_id": beat.task_id, "attempt": beat.attempt, "step": step,
                       "total": beat.total, "created_at": now} for step in fresh]  # fmt: skip
        connection.execute(_RENEW, {"beat_id": beat.task_id, **values})
        if beat.previews and row.previews_wanted:  # none kept that nobody asked for
            _keep_previews(connection, beat, now)
    if steps:
        connection.execute(insert(task_progress), steps)
    return answers


def drop_previews(connection: Connection, task_ids: Sequence[str]) -> None:
    """A task that finished or went back to the queue shows no more previews (only a task
    whose `previews_wanted` was ever set has any: the flag is never cleared)."""
    if task_ids:
        connection.execute(delete(task_previews).where(task_previews.c.task_id.in_(task_ids)))


def answer_of(row: Mapping[Any, Any]) -> BeatAnswer:
    """What a held task's renewal tells its worker (`cancel_requested`, `previews_wanted`)."""
    if row["cancel_requested"]:
        return BeatAnswer.CANCEL_WANTED
    return BeatAnswer.PREVIEWS_WANTED if row["previews_wanted"] else BeatAnswer.HELD


def _keep_previews(connection: Connection, beat: Beat, now: datetime) -> None:
    """Each image's newest preview replaces its last one: one row per image, never more."""
    indexes = [preview.index for preview in beat.previews]
    connection.execute(
        delete(task_previews).where(
            task_previews.c.task_id == beat.task_id, task_previews.c.index.in_(indexes)
        )
    )
    rows = [{"task_id": beat.task_id, "index": p.index, "attempt": beat.attempt, "step": p.step,
             "total": p.total, "width": p.width, "height": p.height,
             "media_type": p.media_type, "data": p.data, "updated_at": now}
            for p in beat.previews]  # fmt: skip
    connection.execute(insert(task_previews), rows)


def _holds(row: Row[Any], beat: Beat) -> bool:
    return bool(
        row.state == TaskState.PROCESSING.value
        and row.lease_owner == beat.worker_id
        and row.attempts == beat.attempt
    )
