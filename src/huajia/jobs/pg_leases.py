"""PostgreSQL: a claim, a renewal and a final write, each one statement that also sends its
notices.

The portable path (sqlstore.py, leases.py) reads a task's row under a lock, decides, writes,
then sends `pg_notify`, in a transaction: five or six round trips (BEGIN and COMMIT are two),
each costing the worker's process and the server CPU. Here the lease check sits in the
UPDATE's WHERE (a stale attempt matches no row), the row's values before the write come
from a locked self-join, the progress rows are inserted by the same statement, and the
notices ride on its rows (`pg_notify` in a LATERAL subquery per row returned: sent when, and
only if, the statement's transaction commits). Alone, such a statement is its own
transaction: one round trip.

(The SQL text is put together from this module's constants only: column names, states, the
channels; every value is a bound parameter. Hence the `noqa: S608`.)

A claim and a renewal commit without waiting for the WAL's flush (`synchronous_commit` off
for their transaction only). A transaction that sends a notice holds one lock of the whole
server from its commit's start to its end, so every notifying commit waits for the others'
flushes: on a disk whose flush takes a millisecond, that alone caps a fleet at a few hundred
claims a second, however many cores the server has. What the two writes risk is small: should
the server crash within the moment before the flush, the task's lease (or its last steps) is
lost, the worker's next write finds the lease gone and stops, and the task runs again (the
task itself was durably stored when it was submitted). A final write still waits for its
flush: a completed task's images are answered to clients.

The decisions are the portable path's, in SQL: a step is stored once (only steps past the
row's progress before the write), a completed task has taken every step, a finished task's
previews go, and a claim takes the first task in the fair order that no one else holds.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Row,
    Select,
    String,
    TextClause,
    TextualSelect,
    func,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.sql.expression import ClauseElement

from huajia.jobs import queue
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.direct import Direct, Statements, pg_transaction
from huajia.jobs.leases import CLAIMED, answer_of
from huajia.jobs.model import Holding, TaskState
from huajia.jobs.notify import MOVED, TASK, channel_of
from huajia.jobs.rows import INSERT_IMAGE
from huajia.jobs.tables import images, tasks

PROCESSING = TaskState.PROCESSING.value
_COLUMNS = ", ".join(f"tasks.{column.name}" for column in tasks.c)
_DONE_COLUMNS = ", ".join(f"done.{column.name}" for column in tasks.c)
# Held: the lease check every write of a worker's attempt makes, on the row `was` locked by
# its primary key (a condition on `tasks` itself lets the planner walk the index of running
# tasks instead).
_HELD = f"was.state = '{PROCESSING}' AND was.lease_owner = :worker AND was.attempts = :attempt"
_WAS = "id, state, lease_owner, attempts, progress_step"
# A step past the row's progress before this write (`was`): new; a NULL step is none.
_AHEAD = "CAST(:last AS integer) > was.progress_step"


def _told(row: str, topic: str) -> str:
    """A LATERAL join that sends `topic:<row's id>` for each row of `row`."""
    channel = channel_of(topic)
    return f"CROSS JOIN LATERAL (SELECT pg_notify('{channel}', '{topic}:' || {row}.id)) AS told"


# Joined to a statement's rows: its transaction commits without waiting for the flush.
_QUICK_COMMIT = "CROSS JOIN LATERAL (SELECT set_config('synchronous_commit', 'off', true)) AS quick"
# Claims and renewals commit quickly (bench/queue_depth.py turns this off to show what it buys).
QUICK_COMMITS = True
# A worker's writes run straight on the driver's connection (off: through SQLAlchemy's, as the
# bench compares).
DIRECT = True


def _steps_from(row: str) -> str:
    """Progress rows for the bound `steps` past the progress the row had before (`before_step`)."""
    return (
        "INSERT INTO task_progress (task_id, attempt, step, total, created_at) "  # noqa: S608
        f"SELECT {row}.id, :attempt, step, :total, :now "
        f"FROM {row}, unnest(CAST(:steps AS integer[])) AS step WHERE step > {row}.before_step"
    )


@functools.lru_cache(maxsize=256)
def claim_first(model: str | None, revision: int | None, holdings: tuple[Holding, ...] | None,
                quick: bool = True) -> Select[Any]:  # fmt: skip
    """The first task in the fair order, claimed: the row as it now is (none: nothing waits);
    `quick`: committed without waiting for the flush."""
    first = queue.next_to_claim(model, revision, holdings).cte("first")
    claimed = (
        update(tasks)
        .where(tasks.c.id == first.c.id)
        .values(CLAIMED)
        .returning(*tasks.c)
        .cte("claimed")
    )

    def channel(topic: str) -> Any:
        return literal_column(f"'{channel_of(topic)}'", String)

    told = select(
        func.pg_notify(channel(TASK), literal_column(f"'{TASK}:'", String) + claimed.c.id)
    ).correlate(claimed)
    moved = select(func.pg_notify(channel(MOVED), literal_column(f"'{MOVED}:'", String)))
    joined = claimed.join(told.lateral("told"), true()).join(moved.lateral("moved"), true())
    if quick:
        setting = select(func.set_config("synchronous_commit", "off", true()))
        joined = joined.join(setting.lateral("quick"), true())
    return select(*claimed.c).select_from(joined)


@functools.lru_cache(maxsize=2)
def _renewal(quick: bool) -> TextClause:
    return text(
        f"WITH was AS (SELECT {_WAS} FROM tasks WHERE id = :task_id FOR UPDATE), "  # noqa: S608
        "renewed AS (UPDATE tasks SET lease_expires_at = :expires, updated_at = :now, "
        f"progress_step = CASE WHEN {_AHEAD} THEN :last ELSE tasks.progress_step END, "
        f"progress_total = CASE WHEN {_AHEAD} THEN :total ELSE tasks.progress_total END "
        f"FROM was WHERE tasks.id = was.id AND {_HELD} "
        "RETURNING tasks.id, was.progress_step AS before_step, tasks.cancel_requested, "
        "tasks.previews_wanted), "
        f"steps AS ({_steps_from('renewed')}) "
        f"SELECT renewed.cancel_requested, renewed.previews_wanted FROM renewed "
        f"{_told('renewed', TASK)} {_QUICK_COMMIT if quick else ''}"
    )


# What a final write may set beside its state (`fail`'s error, `complete` clearing one).
FINAL_VALUES = ("error_code", "error_message")


@functools.lru_cache(maxsize=16)
def finish(target: TaskState, values: tuple[str, ...]) -> TextualSelect:
    """The held attempt's final write: the row as written (no row: the lease is not held)."""
    sets = [f"{name} = :{name}" for name in values]  # names from FINAL_VALUES only
    total = f"CASE WHEN {_AHEAD} THEN :total ELSE tasks.progress_total END"
    sets.append(f"progress_total = {total}")
    if target is TaskState.COMPLETED:  # every step taken
        sets.append(f"progress_step = {total}")
    statement = text(
        f"WITH was AS (SELECT {_WAS}, started_at, previews_wanted FROM tasks "  # noqa: S608
        "WHERE id = :task_id FOR UPDATE), "
        f"done AS (UPDATE tasks SET state = :state, finished_at = :now, updated_at = :now, "
        "lease_expires_at = NULL, "
        "run_seconds = CAST(EXTRACT(EPOCH FROM (:now - was.started_at)) AS float), "
        f"{', '.join(sets)} FROM was WHERE tasks.id = was.id AND {_HELD} "
        f"RETURNING {_COLUMNS}, was.progress_step AS before_step, "
        "was.previews_wanted AS had_previews), "
        f"steps AS ({_steps_from('done')}), "
        "previews AS (DELETE FROM task_previews USING done "
        "WHERE task_previews.task_id = done.id AND done.had_previews) "
        f"SELECT {_DONE_COLUMNS} FROM done {_told('done', TASK)}"
    )
    return statement.columns(*tasks.c)


def _claim_params(worker_id: str, now: datetime, lease_seconds: float) -> dict[str, Any]:
    return {"worker": worker_id, "now": now, "expires": now + timedelta(seconds=lease_seconds)}


def _renewal_params(beat: Beat, now: datetime, lease_seconds: float) -> dict[str, Any]:
    return {
        "task_id": beat.task_id, "worker": beat.worker_id, "attempt": beat.attempt,
        "expires": now + timedelta(seconds=lease_seconds), "now": now,
        "last": max(beat.steps, default=None), "steps": list(beat.steps), "total": beat.total,
    }  # fmt: skip


def _final_params(task_id: str, worker_id: str, attempt: int, target: TaskState,
                  values: dict[str, Any], steps: Sequence[int], total: int, now: datetime,
                  ) -> tuple[tuple[str, ...], dict[str, Any]]:  # fmt: skip
    """The names of the values a final write sets beside its state, and its parameters."""
    unknown = set(values) - set(FINAL_VALUES)
    if unknown:  # a new kind of final write needs its column in the statement first
        raise ValueError(f"a final write cannot set {sorted(unknown)} here")
    names = tuple(sorted(values))
    return names, {
        "task_id": task_id, "worker": worker_id, "attempt": attempt, "state": target.value,
        "now": now, "last": max(steps, default=None), "steps": list(steps), "total": total,
        **{name: values[name] for name in names},
    }  # fmt: skip


def claim_one(connection: Connection, model: str | None, revision: int | None,
              holdings: tuple[Holding, ...] | None, worker_id: str, now: datetime,
              lease_seconds: float) -> Row[Any] | None:  # fmt: skip
    """The first waiting task, claimed for `worker_id` (None when nothing waits)."""
    return connection.execute(
        claim_first(model, revision, holdings, QUICK_COMMITS),
        _claim_params(worker_id, now, lease_seconds),
    ).first()


def renew(connection: Connection, beat: Beat, now: datetime, lease_seconds: float) -> BeatAnswer:
    """Renew one beat's lease and store its new steps; LOST when its attempt no longer holds
    the task."""
    row = connection.execute(
        _renewal(QUICK_COMMITS), _renewal_params(beat, now, lease_seconds)
    ).first()
    return BeatAnswer.LOST if row is None else answer_of(row._mapping)


def finish_held(connection: Connection, task_id: str, worker_id: str, attempt: int,
                target: TaskState, values: dict[str, Any], steps: Sequence[int], total: int,
                now: datetime) -> Row[Any] | None:  # fmt: skip
    """The final write of a held attempt, its last steps and its notice; None when the
    attempt no longer holds the task (nothing written)."""
    names, params = _final_params(task_id, worker_id, attempt, target, values, steps, total,
                                  now)  # fmt: skip
    return connection.execute(finish(target, names), params).first()


class DirectWrites:
    """The same three writes, each alone in its transaction, run straight on a pooled driver
    connection (direct.py): what a worker's process spends on each is a third of what it
    spends through a SQLAlchemy `Connection`. Rows come back by column name."""

    _MOST = 256  # statements kept (claims differ by the models a worker holds)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statements: dict[tuple[Any, ...], Direct | _Through] = {}
        self._prepared = Statements(engine).get  # those run in a transaction

    def _direct(self, key: tuple[Any, ...], statement: ClauseElement,
                columns: Sequence[Column[Any]]) -> Direct | _Through:  # fmt: skip
        key = (*key, DIRECT)
        found = self._statements.get(key)
        if found is None:
            if len(self._statements) >= self._MOST:
                self._statements.clear()
            made = (
                Direct(self._engine, statement, columns)
                if DIRECT
                else _Through(self._engine, statement)
            )
            found = self._statements.setdefault(key, made)
        return found

    def claim(self, model: str | None, revision: int | None,
              holdings: tuple[Holding, ...] | None, worker_id: str, now: datetime,
              lease_seconds: float) -> dict[str, Any] | None:  # fmt: skip
        """The first waiting task's row, claimed for `worker_id` (None when nothing waits)."""
        quick = QUICK_COMMITS
        statement = claim_first(model, revision, holdings, quick)
        direct = self._direct(("claim", model, revision, holdings, quick), statement,
                              list(tasks.c))  # fmt: skip
        return direct.first(_claim_params(worker_id, now, lease_seconds))

    def renew(self, beat: Beat, now: datetime, lease_seconds: float) -> BeatAnswer:
        quick = QUICK_COMMITS
        statement = _renewal(quick)
        direct = self._direct(("renew", quick), statement, _ANSWER)
        row = direct.first(_renewal_params(beat, now, lease_seconds))
        return BeatAnswer.LOST if row is None else answer_of(row)

    def finish(self, task_id: str, worker_id: str, attempt: int, target: TaskState,
               values: dict[str, Any], steps: Sequence[int], total: int, now: datetime,
               ) -> dict[str, Any] | None:  # fmt: skip
        """As `finish_held`: the row as written, None when the attempt no longer holds it."""
        names, params = _final_params(task_id, worker_id, attempt, target, values, steps, total,
                                      now)  # fmt: skip
        statement = finish(target, names)
        direct = self._direct(("finish", target, names), statement, list(tasks.c))
        return direct.first(params)

    def finish_with_images(self, task_id: str, worker_id: str, attempt: int, target: TaskState,
                           values: dict[str, Any], steps: Sequence[int], total: int,
                           now: datetime, image_rows: Sequence[dict[str, Any]],
                           ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:  # fmt: skip
        """`finish`, with the images' records (`rows.image_values`) stored in the same
        transaction on the driver's connection: the task's row and the images' as stored; None
        when the attempt no longer holds the task (nothing written)."""
        names, params = _final_params(task_id, worker_id, attempt, target, values, steps, total,
                                      now)  # fmt: skip
        finished = self._prepared(("finish in a transaction", target, names),
                                  lambda: finish(target, names), list(tasks.c))  # fmt: skip
        inserting = self._prepared("image", lambda: INSERT_IMAGE, list(images.c))
        found_values = finished.values(params)
        image_values = [inserting.values(row) for row in image_rows]
        with pg_transaction(self._engine) as cursor:
            found = finished.fetch(cursor, found_values)
            if not found:
                return None
            stored = [inserting.fetch(cursor, image) for image in image_values]
        return finished.rows(found)[0], [row for one in stored for row in inserting.rows(one)]


# What a renewal's row holds: the asks its worker answers.
_ANSWER = (tasks.c.cancel_requested, tasks.c.previews_wanted)


class _Through:
    """A statement alone in its transaction through a SQLAlchemy `Connection`, as these writes
    ran before direct.py (bench/queue_depth.py compares the two)."""

    def __init__(self, engine: Engine, statement: ClauseElement) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._statement = statement

    def first(self, params: dict[str, Any]) -> dict[str, Any] | None:
        with self._engine.connect() as connection:
            row = connection.execute(self._statement, params).first()  # type: ignore[call-overload]
        return None if row is None else dict(row._mapping)
