"""Model revisions: which model files and fine-tuned weights new work is served with.

`huajia reload` (or the admin API) adds a revision; the API pins each new task to the newest
revision that has not failed; a worker claims only tasks of the revision it holds, and once
none of those wait it loads the newest one. A revision a worker cannot load is marked failed
(with why), and the tasks pinned to it go back to the revision still being served.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from huajia.errors import NotFound
from huajia.jobs.database import one_at_a_time, transaction
from huajia.jobs.model import TaskState
from huajia.jobs.tables import model_revisions, tasks

RevisionSource = Literal["settings", "reload"]


@dataclass(frozen=True, slots=True)
class ModelRevision:
    id: int
    model: str
    model_id: str
    weights: str | None
    weights_id: str | None
    source: str
    actor: str
    created_at: datetime
    failed_at: datetime | None = None
    error: str | None = None

    @property
    def identity(self) -> dict[str, object]:
        """What health and task records show of it (no server paths)."""
        return {
            "revision": self.id,
            "model_id": self.model_id,
            "weights": self.weights_id,
            "failed": self.error,
        }


class RevisionStore(ABC):
    @abstractmethod
    def add(self, model: str, model_id: str, weights: str | None, weights_id: str | None,
            source: RevisionSource, actor: str) -> ModelRevision:  # fmt: skip
        """Record a new revision of `model`; it is current from now on."""

    @abstractmethod
    def seed(self, model: str, model_id: str, weights: str | None, weights_id: str | None
             ) -> ModelRevision:  # fmt: skip
        """At start: the revision to serve `model` with. The settings' files become a new
        revision when they differ from what the settings said last time; else the current
        one stays (a reload since then included). Atomic: processes starting together (the
        API and its workers) record one revision, not one each."""

    @abstractmethod
    def current(self, model: str) -> ModelRevision | None:
        """The newest revision of `model` that has not failed to load."""

    @abstractmethod
    def get(self, revision_id: int) -> ModelRevision:
        """One revision; NotFound if unknown."""

    @abstractmethod
    def newest(self, model: str, source: RevisionSource | None = None) -> ModelRevision | None:
        """The newest revision of `model` (from that source), failed or not."""

    @abstractmethod
    def failed(self, revision_id: int, error: str, fall_back_to: int | None
               ) -> builtins.list[str]:  # fmt: skip
        """Mark a revision as not loadable; its pending tasks move to `fall_back_to`."""

    @abstractmethod
    def history(self, model: str, limit: int = 20) -> builtins.list[ModelRevision]:
        """Revisions of `model`, newest first."""


class SqlRevisionStore(RevisionStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def add(self, model: str, model_id: str, weights: str | None, weights_id: str | None,
            source: RevisionSource, actor: str) -> ModelRevision:  # fmt: skip
        with transaction(self.engine, write=True) as connection:
            return self._insert(connection, model, model_id, weights, weights_id, source, actor)

    def _insert(self, connection: Connection, model: str, model_id: str, weights: str | None,
                weights_id: str | None, source: RevisionSource, actor: str,
                ) -> ModelRevision:  # fmt: skip
        values = {
            "model": model, "model_id": model_id, "weights": weights, "weights_id": weights_id,
            "source": source, "actor": actor, "created_at": self.clock(),
        }  # fmt: skip
        row = connection.execute(
            insert(model_revisions).values(values).returning(*model_revisions.c)
        ).one()
        return ModelRevision(**row._mapping)

    def seed(self, model: str, model_id: str, weights: str | None, weights_id: str | None
             ) -> ModelRevision:  # fmt: skip
        with transaction(self.engine, write=True) as connection:  # SQLite: the write lock
            one_at_a_time(connection, _SEED_LOCK_ID)
            said = connection.execute(_NEWEST_SETTINGS, {"model": model}).one_or_none()
            current = connection.execute(_CURRENT, {"model": model}).one_or_none()
            same = said is not None and (said.model_id, said.weights, said.weights_id) == (
                model_id, weights, weights_id,
            )  # fmt: skip
            if same and current is not None:
                return ModelRevision(**current._mapping)
            return self._insert(connection, model, model_id, weights, weights_id, "settings",
                                "settings")  # fmt: skip

    def current(self, model: str) -> ModelRevision | None:
        """Read on every submit: the statement is built once."""
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(_CURRENT, {"model": model}).one_or_none()
        return ModelRevision(**row._mapping) if row is not None else None

    def newest(self, model: str, source: RevisionSource | None = None) -> ModelRevision | None:
        query = select(model_revisions).where(model_revisions.c.model == model)
        if source is not None:
            query = query.where(model_revisions.c.source == source)
        return self._first(query)

    def get(self, revision_id: int) -> ModelRevision:
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(
                select(model_revisions).where(model_revisions.c.id == revision_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no model revision {revision_id}")
        return ModelRevision(**row._mapping)

    def failed(self, revision_id: int, error: str, fall_back_to: int | None
               ) -> builtins.list[str]:  # fmt: skip
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(model_revisions)
                .where(model_revisions.c.id == revision_id, model_revisions.c.failed_at.is_(None))
                .values(failed_at=self.clock(), error=error[:2000])
            )
            pinned = select(tasks.c.id).where(
                tasks.c.model_revision == revision_id, tasks.c.state == TaskState.PENDING.value
            )
            moved = list(connection.execute(pinned).scalars())
            if moved:
                connection.execute(
                    update(tasks).where(tasks.c.id.in_(moved)).values(model_revision=fall_back_to)
                )
        return moved

    def history(self, model: str, limit: int = 20) -> builtins.list[ModelRevision]:
        query = (
            select(model_revisions)
            .where(model_revisions.c.model == model)
            .order_by(model_revisions.c.id.desc())
            .limit(limit)
        )
        with transaction(self.engine, write=False) as connection:
            return [ModelRevision(**row._mapping) for row in connection.execute(query)]

    def _first(self, query: object) -> ModelRevision | None:
        ordered = query.order_by(model_revisions.c.id.desc()).limit(1)  # type: ignore[attr-defined]
        with transaction(self.engine, write=False) as connection:
            row = connection.execute(ordered).one_or_none()
        return ModelRevision(**row._mapping) if row is not None else None


# PostgreSQL advisory lock: seeding at start, one at a time (distinct from the migration
# and admission locks, database.py and admission.py).
_SEED_LOCK_ID = 0x48_75_61_6A_69_63
# The newest revision the settings recorded of a model (failed or not).
_NEWEST_SETTINGS = (
    select(model_revisions)
    .where(model_revisions.c.model == bindparam("model"), model_revisions.c.source == "settings")
    .order_by(model_revisions.c.id.desc())
    .limit(1)
)
# The newest revision of a model that did not fail to load.
_CURRENT = (
    select(model_revisions)
    .where(model_revisions.c.model == bindparam("model"), model_revisions.c.failed_at.is_(None))
    .order_by(model_revisions.c.id.desc())
    .limit(1)
)
