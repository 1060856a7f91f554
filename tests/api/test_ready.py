"""Readiness is cheap enough to poll: one small query (live workers), no aggregates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event

from huajia.api.deps import Services
from huajia.api.routes.meta import ready
from huajia.composition import build_services
from huajia.settings import Settings


@pytest.fixture
def services(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir),
                        database_url=SecretStr(store_url))  # fmt: skip
    built = build_services(settings)
    yield built
    built.store.close()


def answer(services: Services) -> tuple[int, dict[str, Any], list[str]]:
    statements: list[str] = []
    engine = services.store.engine  # type: ignore[attr-defined]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).lower()
        if not text.startswith(("begin", "commit", "rollback")):  # SQLite's own transactions
            statements.append(text)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = asyncio.run(ready(services))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return response.status_code, json.loads(response.body), statements


def test_ready_asks_one_small_question_of_the_database(services: Services) -> None:
    status, body, statements = answer(services)
    assert (status, body["ready"]) == (503, False), "no worker yet"
    assert len(statements) <= 1 and "count(" not in statements[0], statements
    services.store.report_worker("w1", "tiny", "ready", {})
    status, body, statements = answer(services)
    assert (status, body["ready"]) == (200, True)
    assert len(statements) == 1 and "count(" not in statements[0], statements
    services.generation.draining = True
    status, body, statements = answer(services)
    assert (status, body["draining"], statements) == (503, True, [])
