"""Database fixtures for the task store suite: a fresh SQLite file or PostgreSQL schema per test.

PostgreSQL is the server at HUAJIA_TEST_POSTGRES_URL (default: the local `test` database with
trust auth); each test gets its own schema, dropped afterwards, so runs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huajia.jobs import TaskStore, open_store

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'huajia.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
