"""Database fixtures for the task store suite: a fresh SQLite file or PostgreSQL schema per test.

PostgreSQL is the server at HUAJIA_TEST_POSTGRES_URL (default: the local `test` database with
trust auth); each test gets its own schema, dropped afterwards, so runs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from huajia.jobs import TaskStore, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
