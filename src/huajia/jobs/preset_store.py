"""Style presets in the database, versioned: each edit and each retirement appends a row.

The newest row of a name is the preset; older rows stay so a task can show the version it
used. Reading one preset is one query on the (name, version) unique index.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from huajia.errors import AlreadyExists, Conflict, NotFound
from huajia.jobs.database import transaction
from huajia.jobs.tables import style_presets
from huajia.presets.model import StylePreset
from huajia.text import STORED


@dataclass(frozen=True)
class PresetVersion:
    """One version of a style preset: what it said, who wrote it, and whether it is retired."""

    preset: StylePreset
    version: int
    retired: bool
    created_at: datetime
    actor: str


class PresetStore(ABC):
    """Versioned style presets shared by every API process."""

    @abstractmethod
    def current(self, name: str) -> PresetVersion | None:
        """The newest version of a preset (retired or not), None if never created."""

    @abstractmethod
    def list(self, include_retired: bool = False) -> builtins.list[PresetVersion]:
        """The newest version of every preset, in the order they were first created."""

    @abstractmethod
    def versions(self, name: str) -> builtins.list[PresetVersion]:
        """Every version of a preset, oldest first; NotFound if never created."""

    @abstractmethod
    def create(self, preset: StylePreset, actor: str) -> PresetVersion:
        """Version 1 of a new preset; AlreadyExists if the name was ever used."""

    @abstractmethod
    def update(self, preset: StylePreset, actor: str) -> PresetVersion:
        """A new (active) version of an existing preset; NotFound if never created."""

    @abstractmethod
    def retire(self, name: str, actor: str) -> PresetVersion:
        """A new version marked retired (retiring twice keeps the first); NotFound if unknown."""

    @abstractmethod
    def seed(self, presets: Iterable[StylePreset], actor: str) -> builtins.list[str]:
        """Insert the presets whose names are not here yet; existing ones are left alone."""


class SqlPresetStore(PresetStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def current(self, name: str) -> PresetVersion | None:
        with transaction(self.engine, write=False) as connection:
            return _newest(connection, name)

    def list(self, include_retired: bool = False) -> builtins.list[PresetVersion]:
        query = select(style_presets).order_by(style_presets.c.id)
        newest: dict[str, PresetVersion] = {}
        with transaction(self.engine, write=False) as connection:
            for row in connection.execute(query):
                newest[row.name] = _version(row)  # dicts keep first-insertion order
        return [found for found in newest.values() if include_retired or not found.retired]

    def versions(self, name: str) -> builtins.list[PresetVersion]:
        query = (
            select(style_presets)
            .where(style_presets.c.name == name)
            .order_by(style_presets.c.version)
        )
        with transaction(self.engine, write=False) as connection:
            found = [_version(row) for row in connection.execute(query)]
        if not found:
            raise NotFound(f"no style preset {name!r}")
        return found

    def create(self, preset: StylePreset, actor: str) -> PresetVersion:
        try:
            with transaction(self.engine, write=True) as connection:
                if _newest(connection, preset.name) is not None:
                    raise _taken(preset.name)
                return self._append(connection, preset, 1, False, actor)
        except IntegrityError:
            raise _taken(preset.name) from None

    def update(self, preset: StylePreset, actor: str) -> PresetVersion:
        return self._next(preset.name, actor, lambda _before: (preset, False))

    def retire(self, name: str, actor: str) -> PresetVersion:
        return self._next(name, actor, lambda before: (before.preset, True))

    def seed(self, presets: Iterable[StylePreset], actor: str) -> builtins.list[str]:
        inserted = []
        for preset in presets:
            try:
                self.create(preset, actor)
                inserted.append(preset.name)
            except AlreadyExists:
                continue  # an admin's version wins over the file's
        return inserted

    def _next(
        self, name: str, actor: str, change: Callable[[PresetVersion], tuple[StylePreset, bool]]
    ) -> PresetVersion:
        try:
            with transaction(self.engine, write=True) as connection:
                before = _newest(connection, name)
                if before is None:
                    raise NotFound(f"no style preset {name!r}")
                preset, retired = change(before)
                if retired and before.retired:
                    return before
                return self._append(connection, preset, before.version + 1, retired, actor)
        except IntegrityError:
            raise Conflict(f"style preset {name!r} changed meanwhile; read it and retry") from None

    def _append(
        self, connection: Connection, preset: StylePreset, version: int, retired: bool, actor: str
    ) -> PresetVersion:
        values: dict[str, Any] = {
            "name": preset.name, "version": version, "retired": retired,
            "document": preset.model_dump(mode="json"), "created_at": self.clock(),
            "actor": actor,
        }  # fmt: skip
        connection.execute(insert(style_presets).values(values))
        return PresetVersion(preset, version, retired, values["created_at"], actor)


def _newest(connection: Connection, name: str) -> PresetVersion | None:
    row = connection.execute(
        select(style_presets)
        .where(style_presets.c.name == name)
        .order_by(style_presets.c.version.desc())
        .limit(1)
    ).one_or_none()
    return _version(row) if row is not None else None


def _version(row: Any) -> PresetVersion:
    return PresetVersion(
        StylePreset.model_validate(row.document, context=STORED), row.version, bool(row.retired),
        row.created_at, row.actor,
    )  # fmt: skip


def _taken(name: str) -> AlreadyExists:
    return AlreadyExists(
        f"a style preset named {name!r} already exists (retired ones too): "
        "edit it with PUT, or choose another name"
    )
