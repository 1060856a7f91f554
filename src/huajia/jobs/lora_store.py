"""Registered LoRA files: name, where the file is, its content hash and its fit report."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from huajia.errors import AlreadyExists, NotFound
from huajia.jobs.database import transaction
from huajia.jobs.tables import loras


@dataclass(frozen=True)
class LoraRecord:
    """A LoRA file as registered: `identity` is its content hash, `report` its fit check."""

    name: str
    path: str
    identity: str
    report: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class LoraStore(ABC):
    """The LoRA registry every API and worker process reads."""

    @abstractmethod
    def register(self, name: str, path: str, identity: str, report: dict[str, Any]) -> LoraRecord:
        """Record a checked file; AlreadyExists while an active LoRA has the name."""

    @abstractmethod
    def seed(self, name: str, path: str, identity: str, report: dict[str, Any]) -> LoraRecord:
        """Register a configured LoRA, replacing what the name held before (its file may
        have changed since the last start)."""

    @abstractmethod
    def get(self, name: str) -> LoraRecord | None:
        """The LoRA of that name, retired or not."""

    @abstractmethod
    def list(self, include_retired: bool = False) -> builtins.list[LoraRecord]:
        """LoRAs by name."""

    @abstractmethod
    def retire(self, name: str) -> LoraRecord:
        """Refuse the LoRA for new requests (retiring twice keeps the first); NotFound."""


class SqlLoraStore(LoraStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def register(self, name: str, path: str, identity: str, report: dict[str, Any]) -> LoraRecord:
        try:
            with transaction(self.engine, write=True) as connection:
                before = _get(connection, name)
                if before is not None and not before.retired:
                    raise AlreadyExists(
                        f"a LoRA named {name!r} is registered; retire it first or pick another name"
                    )
                return self._put(connection, name, path, identity, report)
        except IntegrityError:
            raise AlreadyExists(f"a LoRA named {name!r} was registered meanwhile") from None

    def seed(self, name: str, path: str, identity: str, report: dict[str, Any]) -> LoraRecord:
        with transaction(self.engine, write=True) as connection:
            before = _get(connection, name)
            if before is not None and not before.retired and before.identity == identity:
                return before
            return self._put(connection, name, path, identity, report)

    def get(self, name: str) -> LoraRecord | None:
        with transaction(self.engine, write=False) as connection:
            return _get(connection, name)

    def list(self, include_retired: bool = False) -> builtins.list[LoraRecord]:
        query = _ALL if include_retired else _IN_USE  # read on every submit: built once
        with transaction(self.engine, write=False) as connection:
            return [_record(row) for row in connection.execute(query)]

    def retire(self, name: str) -> LoraRecord:
        with transaction(self.engine, write=True) as connection:
            connection.execute(
                update(loras)
                .where(loras.c.name == name, loras.c.retired_at.is_(None))
                .values(retired_at=self.clock())
            )
            found = _get(connection, name)
        if found is None:
            raise NotFound(f"no LoRA {name!r}")
        return found

    def _put(
        self, connection: Connection, name: str, path: str, identity: str, report: dict[str, Any]
    ) -> LoraRecord:
        connection.execute(delete(loras).where(loras.c.name == name))
        record = LoraRecord(name, path, identity, report, self.clock())
        connection.execute(insert(loras).values(vars(record)))
        return record


def _get(connection: Connection, name: str) -> LoraRecord | None:
    row = connection.execute(select(loras).where(loras.c.name == name)).one_or_none()
    return _record(row) if row is not None else None


def _record(row: Any) -> LoraRecord:
    return LoraRecord(
        row.name, row.path, row.identity, dict(row.report), row.created_at, row.retired_at
    )


_ALL = select(loras).order_by(loras.c.name)
_IN_USE = _ALL.where(loras.c.retired_at.is_(None))
