"""Per-key panel preferences and prompt history, kept in the queue's database."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from huajia.jobs.database import transaction
from huajia.jobs.tables import key_prefs, tasks

HISTORY_SCAN = 1000  # the newest tasks looked through for distinct prompts


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    prompt: str
    style_preset: str | None
    last_used: datetime
    times: int


class PrefsStore(ABC):
    @abstractmethod
    def get(self, key_id: str) -> dict[str, Any] | None:
        """The key's saved preferences, or None before the first save."""

    @abstractmethod
    def put(self, key_id: str, prefs: Mapping[str, Any]) -> None:
        """Replace the key's preferences."""

    @abstractmethod
    def history(self, owner: str, text: str | None = None, limit: int = 20
                ) -> builtins.list[HistoryEntry]:  # fmt: skip
        """The owner's distinct prompts, most recently used first (matching `text`)."""


class SqlPrefsStore(PrefsStore):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def get(self, key_id: str) -> dict[str, Any] | None:
        with transaction(self.engine, write=False) as connection:
            found = connection.execute(
                select(key_prefs.c.prefs).where(key_prefs.c.key_id == key_id)
            ).scalar_one_or_none()
        return dict(found) if found is not None else None

    def put(self, key_id: str, prefs: Mapping[str, Any]) -> None:
        with transaction(self.engine, write=True) as connection:
            connection.execute(delete(key_prefs).where(key_prefs.c.key_id == key_id))
            connection.execute(
                insert(key_prefs).values(key_id=key_id, prefs=dict(prefs), updated_at=self.clock())
            )

    def history(self, owner: str, text: str | None = None, limit: int = 20
                ) -> builtins.list[HistoryEntry]:  # fmt: skip
        prompt = tasks.c.request["prompt"].as_string()
        style = tasks.c.request["style_preset"].as_string()
        query = (
            select(prompt.label("prompt"), style.label("style"), tasks.c.created_at)
            .where(tasks.c.owner == owner)
            .order_by(tasks.c.created_at.desc())
            .limit(HISTORY_SCAN)
        )
        if text:
            query = query.where(prompt.icontains(text, autoescape=True))
        with transaction(self.engine, write=False) as connection:
            rows = connection.execute(query).all()
        entries: dict[str, HistoryEntry] = {}
        for row in rows:
            if not row.prompt:
                continue  # uploads and plain edits have no prompt of their own
            seen = entries.get(row.prompt)
            if seen is None:
                entries[row.prompt] = HistoryEntry(row.prompt, row.style, row.created_at, 1)
            else:
                entries[row.prompt] = HistoryEntry(
                    seen.prompt, seen.style_preset, seen.last_used, seen.times + 1
                )
        return list(entries.values())[:limit]
