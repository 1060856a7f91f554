"""What the store keeps beside the queue itself: progress steps, webhooks owed, the audit
trail and worker presence. A mixin of SqlTaskStore, kept apart to keep each module short.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, or_, select, update

from huajia.jobs import audit, webhooks, workers
from huajia.jobs.model import AuditEvent, Task, TaskState
from huajia.jobs.notify import ASKED, Notice
from huajia.jobs.store import ProgressEvent, TaskPreview
from huajia.jobs.tables import task_previews, task_progress, tasks

_UNFINISHED = [TaskState.PENDING.value, TaskState.PROCESSING.value]


class SqlSideRecords:
    """Needs the store's clock, transactions and task loader."""

    clock: Callable[[], datetime]

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _load_one(self, connection: Connection, task_id: str) -> Task:
        raise NotImplementedError

    def _tell(self, connection: Connection, *notices: Notice) -> None:
        raise NotImplementedError

    def _load(self, connection: Connection, query: Select[Any],
              params: dict[str, Any] | None = None) -> builtins.list[Task]:  # fmt: skip
        raise NotImplementedError

    def watch(
        self, after: Mapping[str, int]
    ) -> tuple[builtins.list[Task], dict[str, builtins.list[ProgressEvent]]]:
        ids = builtins.list(after)
        if not ids:
            return [], {}
        with self._read() as connection:
            found = self._load(connection, _TASKS_BY_ID, {"ids": ids})
            after_id = min(after.values())
            rows = connection.execute(_STEPS_AFTER, {"ids": ids, "after": after_id}).all()
        progress: dict[str, builtins.list[ProgressEvent]] = {}
        for row in rows:
            if row.id > after[row.task_id]:
                progress.setdefault(row.task_id, []).append(
                    ProgressEvent(row.id, row.step, row.total)
                )
        return found, progress

    def audit(self, actor: str, actor_name: str, action: str, target: str | None = None,
              detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        event = audit.now_event(self.clock(), actor, actor_name, action, target, detail or {})
        with self._write() as connection:
            audit.append(connection, event)

    def audit_trail(self, actor: str | None = None, action: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[builtins.list[AuditEvent], int]:  # fmt: skip
        with self._read() as connection:
            return audit.page(connection, actor, action, limit, offset)

    def claim_due_webhooks(self, hold_seconds: float, max_attempts: int, limit: int = 20
                           ) -> builtins.list[Task]:  # fmt: skip
        now, hold = self.clock(), timedelta(seconds=hold_seconds)
        with self._write() as connection:
            ids = webhooks.claim_due(connection, now, hold, max_attempts, limit)
            return [self._load_one(connection, task_id) for task_id in ids]

    def record_webhook(self, task_id: str, error: str | None, retry_in_seconds: float | None
                       ) -> None:  # fmt: skip
        retry = timedelta(seconds=retry_in_seconds) if retry_in_seconds is not None else None
        with self._write() as connection:
            webhooks.record(connection, task_id, self.clock(), error, retry)

    def progress_since(self, task_id: str, after_id: int = 0) -> builtins.list[ProgressEvent]:
        query = (
            select(task_progress.c.id, task_progress.c.step, task_progress.c.total)
            .where(task_progress.c.task_id == task_id, task_progress.c.id > after_id)
            .order_by(task_progress.c.id)
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        return [ProgressEvent(row.id, row.step, row.total) for row in rows]

    # Live previews

    def want_previews(self, task_id: str) -> bool:
        unfinished = (tasks.c.id == task_id, tasks.c.state.in_(_UNFINISHED))
        wanted = (
            update(tasks)
            .where(*unfinished, tasks.c.previews_wanted.is_(False))
            .values(previews_wanted=True)
            .returning(tasks.c.state)
        )
        with self._write() as connection:
            flipped = connection.execute(wanted).first()
            if flipped is None:  # asked already (by another follower), or finished
                return connection.execute(select(tasks.c.id).where(*unfinished)).first() is not None
            if flipped.state == TaskState.PROCESSING.value:  # its worker hears it now
                self._tell(connection, Notice(ASKED, task_id))
            return True

    def previews_after(
        self, after: Mapping[str, tuple[int, int]]
    ) -> dict[str, builtins.list[TaskPreview]]:
        if not after:
            return {}
        column = task_previews.c
        newer = [
            and_(column.task_id == task_id,
                 or_(column.attempt > attempt, and_(column.attempt == attempt, column.step > step)))
            for task_id, (attempt, step) in after.items()
        ]  # fmt: skip
        query = select(task_previews).where(or_(*newer)).order_by(column.task_id, column.index)
        with self._read() as connection:
            rows = connection.execute(query).all()
        found: dict[str, builtins.list[TaskPreview]] = {}
        for row in rows:
            index, data = row._mapping["index"], bytes(row.data)
            preview = TaskPreview(index, row.step, row.total, row.width, row.height,
                                  row.media_type, data, attempt=row.attempt)  # fmt: skip
            found.setdefault(row.task_id, []).append(preview)
        return found

    # Worker presence

    def report_worker(self, worker_id: str, model: str, state: str, engine: dict[str, Any],
                      models: builtins.list[str] | None = None) -> None:  # fmt: skip
        with self._write() as connection:
            workers.report(connection, worker_id, model, state, engine, self.clock(), models)

    def remove_worker(self, worker_id: str) -> None:
        with self._write() as connection:
            workers.remove(connection, worker_id)

    def live_workers(self) -> builtins.list[dict[str, Any]]:
        with self._read() as connection:
            return workers.live(connection, self.clock())


# A watcher tick's reads: the followed tasks, and their steps after the oldest one seen.
_TASKS_BY_ID = select(tasks).where(tasks.c.id.in_(bindparam("ids", expanding=True)))
_STEPS_AFTER = (
    select(task_progress.c.task_id, task_progress.c.id, task_progress.c.step,
           task_progress.c.total)
    .where(task_progress.c.task_id.in_(bindparam("ids", expanding=True)),
           task_progress.c.id > bindparam("after"))
    .order_by(task_progress.c.id)
)  # fmt: skip
