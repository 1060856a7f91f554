"""SQLite: a worker's claim, renewal and final write, each one short transaction run straight
on the driver's connection (direct.py).

Through SQLAlchemy's `Connection`, the portable path (sqlstore.py, leases.py) spends more of
the worker process's CPU on building each execution than SQLite spends running it, and a
claim is a read and then a write. Here:

- a claim is one `UPDATE … WHERE id = (the first in the fair order) RETURNING *`;
- a renewal reads the lease, appends the steps past the task's progress, and renews;
- a final write reads the lease, appends the last steps, writes the row (`RETURNING *`),
  drops the task's previews when it had any and stores its images' records.

The decisions are the portable path's: the same lease check (state, holder, attempt), a step
stored once (only steps past the row's progress), a completed task has taken every step. Each
runs in a `BEGIN IMMEDIATE` transaction after this process's other writers, as every SQLite
write does, so the row read is the row written. The notices (`send`) go once it commits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.sql.expression import ClauseElement

from huajia.jobs import queue
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.direct import Row, Statements, sqlite_writing
from huajia.jobs.leases import CLAIMED, answer_of
from huajia.jobs.model import Holding, TaskState
from huajia.jobs.notify import MOVED, TASK, Notice
from huajia.jobs.rows import INSERT_IMAGE
from huajia.jobs.tables import images, task_previews, task_progress, tasks

_LEASE_COLUMNS = [
    tasks.c[name]
    for name in ("state", "lease_owner", "attempts", "started_at", "progress_step",
                 "progress_total", "cancel_requested", "previews_wanted")
]  # fmt: skip
_LEASE = select(*_LEASE_COLUMNS).where(tasks.c.id == bindparam("task_id"))
_STEP = insert(task_progress).values(
    task_id=bindparam("task_id"), attempt=bindparam("attempt"), step=bindparam("step"),
    total=bindparam("total"), created_at=bindparam("now", type_=task_progress.c.created_at.type),
)  # fmt: skip
_RENEW = (
    update(tasks)
    .where(tasks.c.id == bindparam("task_id"))
    .values(
        lease_expires_at=bindparam("expires", type_=tasks.c.lease_expires_at.type),
        updated_at=bindparam("now", type_=tasks.c.updated_at.type),
        progress_step=bindparam("step", type_=tasks.c.progress_step.type),
        progress_total=bindparam("total", type_=tasks.c.progress_total.type),
    )
)
_DROP_PREVIEWS = delete(task_previews).where(task_previews.c.task_id == bindparam("task_id"))
# What a final write may set beside its state (`fail`'s error, `complete` clearing one).
FINAL_VALUES = ("error_code", "error_message")


@functools.lru_cache(maxsize=256)
def claim_first(model: str | None, revision: int | None,
                holdings: tuple[Holding, ...] | None) -> ClauseElement:  # fmt: skip
    """The first task in the fair order, claimed: the row as it now is (none: nothing waits)."""
    first = (
        queue.next_to_claim(model, revision, holdings)
        .with_only_columns(tasks.c.id)
        .scalar_subquery()
        .correlate(None)  # the queue's own read of `tasks`, not the updated row
    )
    return update(tasks).where(tasks.c.id == first).values(CLAIMED).returning(*tasks.c)


@functools.lru_cache(maxsize=16)
def _finished(completed: bool, names: tuple[str, ...]) -> ClauseElement:
    values: dict[str, Any] = {
        name: bindparam(name, type_=tasks.c[name].type)
        for name in ("state", "finished_at", "updated_at", "run_seconds", "progress_total",
                     *names)
    }  # fmt: skip
    values["lease_expires_at"] = None
    if completed:  # every step taken
        values["progress_step"] = bindparam("progress_total", type_=tasks.c.progress_step.type)
    return (
        update(tasks).where(tasks.c.id == bindparam("task_id")).values(values).returning(*tasks.c)
    )


class SqliteWrites:
    """The three writes of a worker's attempt (as pg_leases.DirectWrites on PostgreSQL);
    `send` sends the notices of a committed write."""

    def __init__(self, engine: Engine, send: Callable[[list[Notice]], None]) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("SqliteWrites needs a SQLite engine")
        self._engine = engine
        self._send = send
        # Kept per key (claims differ by the models a worker holds).
        self._prepared = Statements(engine).get

    def claim(self, model: str | None, revision: int | None,
              holdings: tuple[Holding, ...] | None, worker_id: str, now: datetime,
              lease_seconds: float) -> Row | None:  # fmt: skip
        """The first waiting task's row, claimed for `worker_id` (None when nothing waits)."""
        statement = self._prepared(("claim", model, revision, holdings),
                                   lambda: claim_first(model, revision, holdings),
                                   list(tasks.c))  # fmt: skip
        # Converted before and after the transaction: the database's writers wait on it.
        values = statement.values({"worker": worker_id, "now": now,
                                   "expires": now + timedelta(seconds=lease_seconds)})  # fmt: skip
        with sqlite_writing(self._engine) as cursor:
            found = statement.fetch(cursor, values)
        rows = statement.rows(found)
        if not rows:
            return None
        self._send([Notice(MOVED), Notice(TASK, rows[0]["id"])])
        return rows[0]

    def _lease(self, cursor: Any, task_id: str, worker_id: str, attempt: int) -> Row | None:
        """The task's lease columns while `attempt` of `worker_id` holds it, else None."""
        lease = self._prepared("lease", lambda: _LEASE, _LEASE_COLUMNS)
        rows = lease.run(cursor, {"task_id": task_id})
        if not rows:
            return None
        row = rows[0]
        held = (row["state"] == TaskState.PROCESSING.value and row["lease_owner"] == worker_id
                and row["attempts"] == attempt)  # fmt: skip
        return row if held else None

    def _append(self, cursor: Any, task_id: str, attempt: int, fresh: Sequence[int],
                total: int, now: datetime) -> None:  # fmt: skip
        step = self._prepared("step", lambda: _STEP)
        step.run_many(cursor, [{"task_id": task_id, "attempt": attempt, "step": number,
                                "total": total, "now": now} for number in fresh])  # fmt: skip

    def renew(self, beat: Beat, now: datetime, lease_seconds: float) -> BeatAnswer:
        """Renew one beat's lease and store its new steps; LOST when its attempt no longer
        holds the task."""
        return self.renew_all([beat], now, lease_seconds)[beat.task_id]

    def renew_all(self, beats: Sequence[Beat], now: datetime, lease_seconds: float,
                  ) -> dict[str, BeatAnswer]:  # fmt: skip
        """Renew each beat (a GPU batch's tasks) in one transaction; a beat whose attempt no
        longer holds its task is answered LOST, and the others still renew."""
        renew = self._prepared("renew", lambda: _RENEW)
        expires = now + timedelta(seconds=lease_seconds)
        answers: dict[str, BeatAnswer] = {}
        with sqlite_writing(self._engine) as cursor:
            for beat in beats:
                row = self._lease(cursor, beat.task_id, beat.worker_id, beat.attempt)
                if row is None:
                    answers[beat.task_id] = BeatAnswer.LOST
                    continue
                fresh = [step for step in beat.steps if step > row["progress_step"]]  # once
                self._append(cursor, beat.task_id, beat.attempt, fresh, beat.total, now)
                renew.run(cursor, {
                    "task_id": beat.task_id, "now": now, "expires": expires,
                    "step": fresh[-1] if fresh else row["progress_step"],
                    "total": beat.total if fresh else row["progress_total"],
                })  # fmt: skip
                answers[beat.task_id] = answer_of(row)
        held = [task_id for task_id, answer in answers.items() if answer is not BeatAnswer.LOST]
        self._send([Notice(TASK, task_id) for task_id in held])
        return answers

    def finish(self, task_id: str, worker_id: str, attempt: int, target: TaskState,
               values: dict[str, Any], steps: Sequence[int], total: int, now: datetime,
               ) -> Row | None:  # fmt: skip
        """The held attempt's final write: the row as written, None when the attempt no
        longer holds the task (nothing written)."""
        done = self.finish_with_images(task_id, worker_id, attempt, target, values, steps,
                                       total, now, [])  # fmt: skip
        return None if done is None else done[0]

    def finish_with_images(self, task_id: str, worker_id: str, attempt: int, target: TaskState,
                           values: dict[str, Any], steps: Sequence[int], total: int,
                           now: datetime, image_rows: Sequence[dict[str, Any]],
                           ) -> tuple[Row, list[Row]] | None:  # fmt: skip
        """`finish`, with the images' records (`rows.image_values`) stored in the same
        transaction: the task's row and the images' as stored; None when the attempt no
        longer holds the task (nothing written)."""
        unknown = set(values) - set(FINAL_VALUES)
        if unknown:  # a new kind of final write needs its column in the statement first
            raise ValueError(f"a final write cannot set {sorted(unknown)} here")
        names = tuple(sorted(values))
        completed = target is TaskState.COMPLETED
        finished = self._prepared(("finish", completed, names),
                                  lambda: _finished(completed, names), list(tasks.c))  # fmt: skip
        inserting = self._prepared("image", lambda: INSERT_IMAGE, list(images.c))
        image_values = [inserting.values(row) for row in image_rows]
        with sqlite_writing(self._engine) as cursor:
            held = self._lease(cursor, task_id, worker_id, attempt)
            if held is None:
                return None
            fresh = [step for step in steps if step > held["progress_step"]]  # never twice
            self._append(cursor, task_id, attempt, fresh, total, now)
            started = held["started_at"]
            found = finished.fetch(cursor, finished.values({
                "task_id": task_id, "state": target.value, "finished_at": now,
                "updated_at": now, "progress_total": total if fresh else held["progress_total"],
                "run_seconds": (now - started).total_seconds() if started else None,
                **values,
            }))  # fmt: skip
            if held["previews_wanted"]:
                self._prepared("drop previews", lambda: _DROP_PREVIEWS).run(
                    cursor, {"task_id": task_id}
                )
            stored = [inserting.fetch(cursor, image) for image in image_values]
        self._send([Notice(TASK, task_id)])
        return finished.rows(found)[0], [row for one in stored for row in inserting.rows(one)]
