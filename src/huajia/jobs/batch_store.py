"""Campaign batches in the queue's database: the sheet's rows and the tasks they became."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, exists, func, insert, select, update

from huajia.errors import NotFound
from huajia.jobs.database import transaction
from huajia.jobs.model import TaskState
from huajia.jobs.rows import new_id
from huajia.jobs.tables import batch_rows, batches, images, tasks, webhook_outbox


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One line of a sheet as recorded: the task it became, or why it did not."""

    row: int
    prompt: str
    task_id: str | None = None
    style: str | None = None
    filename: str | None = None
    alt: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    owner: str
    name: str
    created_at: datetime
    canceled_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    lines: list[BatchLine] = field(default_factory=list)
    webhook_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RowState:
    state: TaskState
    awaiting_review: int


class BatchStore(ABC):
    @abstractmethod
    def create(self, owner: str, name: str, warnings: Sequence[str],
               webhook_url: str | None = None) -> Batch:  # fmt: skip
        """A new, empty batch."""

    @abstractmethod
    def finished_unannounced(self, limit: int = 20) -> builtins.list[str]:
        """Batches with a webhook whose every row has ended and that were not announced."""

    @abstractmethod
    def announce(self, batch_id: str, event: str, payload: Mapping[str, object]) -> bool:
        """Queue the batch's webhook once (False if it was already queued)."""

    @abstractmethod
    def add_lines(self, batch_id: str, lines: Sequence[BatchLine]) -> None:
        """Record lines (rows with their task or their error)."""

    @abstractmethod
    def get(self, batch_id: str) -> Batch:
        """The batch with its lines in row order; NotFound if unknown."""

    @abstractmethod
    def list(self, owner: str | None, limit: int = 50) -> builtins.list[Batch]:
        """Batches newest first (without their lines)."""

    @abstractmethod
    def mark_canceled(self, batch_id: str) -> None:
        """Remember that the batch was canceled (the first time counts)."""

    @abstractmethod
    def row_states(self, batch_id: str) -> dict[int, RowState]:
        """Each row's task state and images waiting for review, in one query however many
        rows (what a follower compares to see which rows changed). Rows without a task (an
        error, or purged) are absent."""


class SqlBatchStore(BatchStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, owner: str, name: str, warnings: Sequence[str],
               webhook_url: str | None = None) -> Batch:  # fmt: skip
        batch = Batch(new_id(), owner, name, self.clock(), None, list(warnings), [], webhook_url)
        values = {
            "id": batch.id, "owner": owner, "name": name, "created_at": batch.created_at,
            "warnings": list(warnings), "webhook_url": webhook_url,
        }  # fmt: skip
        with transaction(self.engine, write=True) as connection:
            connection.execute(insert(batches).values(values))
        return batch

    def add_lines(self, batch_id: str, lines: Sequence[BatchLine]) -> None:
        if lines:
            rows = [{"batch_id": batch_id, **_line_values(line)} for line in lines]
            with transaction(self.engine, write=True) as connection:
                connection.execute(insert(batch_rows), rows)

    def get(self, batch_id: str) -> Batch:
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(select(batches).where(batches.c.id == batch_id)).one_or_none()
            if row is None:
                raise NotFound(f"no batch {batch_id}")
            found = connection.execute(
                select(batch_rows)
                .where(batch_rows.c.batch_id == batch_id)
                .order_by(batch_rows.c.row)
            ).all()
        lines = [
            BatchLine(r.row, r.prompt, r.task_id, r.style, r.filename, r.alt, r.error)
            for r in found
        ]
        return Batch(row.id, row.owner, row.name, row.created_at, row.canceled_at,
                     list(row.warnings), lines, row.webhook_url)  # fmt: skip

    def list(self, owner: str | None, limit: int = 50) -> builtins.list[Batch]:
        query = select(batches).order_by(batches.c.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(batches.c.owner == owner)
        with transaction(self.engine, write=False) as connection:
            return [
                Batch(r.id, r.owner, r.name, r.created_at, r.canceled_at, list(r.warnings))
                for r in connection.execute(query)
            ]

    def finished_unannounced(self, limit: int = 20) -> builtins.list[str]:
        running = (
            select(batch_rows.c.batch_id)
            .join(tasks, tasks.c.id == batch_rows.c.task_id)
            .where(
                batch_rows.c.batch_id == batches.c.id,
                tasks.c.state.in_([TaskState.PENDING.value, TaskState.PROCESSING.value]),
            )
        )
        # A batch is created before its rows' tasks are queued, and its rows are recorded
        # once they all are: until then it has no rows, which is not "every row ended".
        recorded = select(batch_rows.c.batch_id).where(batch_rows.c.batch_id == batches.c.id)
        query = (
            select(batches.c.id)
            .where(
                batches.c.webhook_url.is_not(None),
                batches.c.notified_at.is_(None),
                exists(recorded),
                ~exists(running),
            )
            .order_by(batches.c.created_at)
            .limit(limit)
        )
        with transaction(self.engine, write=False) as connection:
            return list(connection.execute(query).scalars())

    def announce(self, batch_id: str, event: str, payload: Mapping[str, object]) -> bool:
        now = self.clock()
        with transaction(self.engine, write=True) as connection:
            claimed = connection.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.notified_at.is_(None))
                .values(notified_at=now)
                .returning(batches.c.webhook_url)
            ).one_or_none()
            if claimed is None or claimed.webhook_url is None:
                return False
            connection.execute(
                insert(webhook_outbox).values(
                    task_id=None, event=event, url=claimed.webhook_url, payload=payload,
                    created_at=now, next_at=now,
                )
            )  # fmt: skip
        return True

    def mark_canceled(self, batch_id: str) -> None:
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.canceled_at.is_(None))
                .values(canceled_at=self.clock())
            )

    def row_states(self, batch_id: str) -> dict[int, RowState]:
        waiting = func.count(images.c.id).filter(images.c.review_state == "pending_review")
        query = (
            select(batch_rows.c.row, tasks.c.state, waiting)
            .select_from(
                batch_rows.join(tasks, tasks.c.id == batch_rows.c.task_id).outerjoin(
                    images, images.c.task_id == tasks.c.id
                )
            )
            .where(batch_rows.c.batch_id == batch_id)
            .group_by(batch_rows.c.row, tasks.c.state)
        )
        with transaction(self.engine, write=False) as connection:
            return {
                row: RowState(TaskState(state), count)
                for row, state, count in connection.execute(query)
            }


def _line_values(line: BatchLine) -> dict[str, object]:
    return {
        "row": line.row, "prompt": line.prompt, "task_id": line.task_id, "style": line.style,
        "filename": line.filename, "alt": line.alt, "error": line.error,
    }  # fmt: skip
