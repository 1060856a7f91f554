"""Worker tests share one real SQLite store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huajia.jobs import TaskStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TaskStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'huajia.db'}")
    yield opened
    opened.close()
