"""Campaign batches in the queue's database: the sheet's rows and the tasks they became."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from huajia.errors import NotFound
from huajia.jobs.database import transaction
from huajia.jobs.rows import new_id
from huajia.jobs.tables import batch_rows, batches


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


class BatchStore(ABC):
    @abstractmethod
    def create(self, owner: str, name: str, warnings: Sequence[str]) -> Batch:
        """A new, empty batch."""

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


class SqlBatchStore(BatchStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, owner: str, name: str, warnings: Sequence[str]) -> Batch:
        batch = Batch(new_id(), owner, name, self.clock(), None, list(warnings))
        values = {
            "id": batch.id, "owner": owner, "name": name, "created_at": batch.created_at,
            "warnings": list(warnings),
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
                     list(row.warnings), lines)  # fmt: skip

    def list(self, owner: str | None, limit: int = 50) -> builtins.list[Batch]:
        query = select(batches).order_by(batches.c.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(batches.c.owner == owner)
        with transaction(self.engine, write=False) as connection:
            return [
                Batch(r.id, r.owner, r.name, r.created_at, r.canceled_at, list(r.warnings))
                for r in connection.execute(query)
            ]

    def mark_canceled(self, batch_id: str) -> None:
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.canceled_at.is_(None))
                .values(canceled_at=self.clock())
            )


def _line_values(line: BatchLine) -> dict[str, object]:
    return {
        "row": line.row, "prompt": line.prompt, "task_id": line.task_id, "style": line.style,
        "filename": line.filename, "alt": line.alt, "error": line.error,
    }  # fmt: skip
