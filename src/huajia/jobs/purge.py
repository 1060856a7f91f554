"""Deleting tasks and images for good: the rows go in one transaction that also owes their
bytes a deletion (`blob_deletions`), so the bytes can follow in any number of later steps.

Bytes still held by another row (a result-cache copy shares its original's blob) are kept.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, delete, select, update

from huajia.errors import NotFound, TaskNotFound
from huajia.jobs.database import transaction
from huajia.jobs.model import TERMINAL_STATES
from huajia.jobs.review import owe_deletions, unreferenced
from huajia.jobs.tables import images, tasks

_FINISHED = [state.value for state in TERMINAL_STATES]


class PurgeStore(ABC):
    """Removing rows, and finding what a retention rule or a revoked key leaves to remove."""

    @abstractmethod
    def delete_task(self, task_id: str) -> builtins.list[str]:
        """Remove the task and its images; the keys now owed a deletion. TaskNotFound if gone."""

    @abstractmethod
    def delete_image(self, image_id: str) -> builtins.list[str]:
        """Remove one image (its task stops serving as a cache hit); keys owed a deletion."""

    @abstractmethod
    def finished_before(self, moment: datetime, limit: int = 200) -> builtins.list[str]:
        """Ids of finished tasks that finished before `moment`, oldest first."""

    @abstractmethod
    def tasks_of(self, owner: str, limit: int = 200) -> builtins.list[str]:
        """Ids of the owner's tasks, oldest first."""


class SqlPurgeStore(PurgeStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def delete_task(self, task_id: str) -> builtins.list[str]:
        with transaction(self.engine, write=True) as connection:
            found = connection.execute(
                select(tasks.c.id).where(tasks.c.id == task_id).with_for_update()
            ).one_or_none()
            if found is None:
                raise TaskNotFound(f"no task {task_id}")
            keys = _keys_of(connection, images.c.task_id == task_id)
            connection.execute(delete(images).where(images.c.task_id == task_id))
            connection.execute(delete(tasks).where(tasks.c.id == task_id))
            return _owe_orphans(connection, keys, self.clock())

    def delete_image(self, image_id: str) -> builtins.list[str]:
        with transaction(self.engine, write=True) as connection:
            row = connection.execute(
                select(images.c.task_id).where(images.c.id == image_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no image {image_id}")
            keys = _keys_of(connection, images.c.id == image_id)
            connection.execute(delete(images).where(images.c.id == image_id))
            # A cache hit must give every image it promises: this task no longer can.
            connection.execute(
                update(tasks).where(tasks.c.id == row.task_id).values(cache_key=None)
            )
            return _owe_orphans(connection, keys, self.clock())

    def finished_before(self, moment: datetime, limit: int = 200) -> builtins.list[str]:
        query = (
            select(tasks.c.id)
            .where(tasks.c.state.in_(_FINISHED), tasks.c.finished_at < moment)
            .order_by(tasks.c.finished_at, tasks.c.id)
            .limit(limit)
        )
        with transaction(self.engine, write=False) as connection:
            return list(connection.execute(query).scalars())

    def tasks_of(self, owner: str, limit: int = 200) -> builtins.list[str]:
        query = (
            select(tasks.c.id)
            .where(tasks.c.owner == owner)
            .order_by(tasks.c.created_at, tasks.c.id)
            .limit(limit)
        )
        with transaction(self.engine, write=False) as connection:
            return list(connection.execute(query).scalars())


def _keys_of(connection: Connection, which: ColumnElement[bool]) -> builtins.list[str]:
    rows = connection.execute(select(images.c.key, images.c.thumbnail_key).where(which)).all()
    return sorted({key for row in rows for key in row if key})


def _owe_orphans(connection: Connection, keys: builtins.list[str], now: datetime
                 ) -> builtins.list[str]:  # fmt: skip
    orphans = unreferenced(connection, keys)
    owe_deletions(connection, orphans, now)
    return orphans
