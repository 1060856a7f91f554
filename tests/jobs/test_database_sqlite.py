"""SQLite transactions: a writing one takes the write lock at its BEGIN (so two claimers never
both read the same pending task), a reading one leaves writers be, and a BEGIN refused is
SQLAlchemy's error like any statement's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from huajia.jobs import database
from huajia.jobs.database import connect, transaction


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = connect(f"sqlite:///{tmp_path / 'queue.db'}")
    yield made
    made.dispose()


@pytest.fixture
def other(engine: Engine) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file, that waits for no lock."""
    opened = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
    yield opened
    opened.close()


def _can_write(other: sqlite3.Connection) -> bool:
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    other.execute("ROLLBACK")
    return True


def test_a_write_transaction_holds_the_write_lock_from_its_begin(
    engine: Engine, other: sqlite3.Connection
) -> None:
    with transaction(engine, write=False) as connection:
        assert connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        assert _can_write(other)
    with transaction(engine, write=True) as connection:
        assert connection.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        assert not _can_write(other)
    assert _can_write(other)
    with transaction(engine, write=False):  # the next one on the same connection: a read
        assert _can_write(other)


def test_a_begin_refused_is_sqlalchemys_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    engine = connect(f"sqlite:///{tmp_path / 'queue.db'}")
    other = sqlite3.connect(str(tmp_path / "queue.db"), timeout=0, isolation_level=None)
    try:
        with transaction(engine, write=False):
            pass  # the file is in WAL mode before the other takes the lock
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), transaction(engine, write=True):
            pass
        other.execute("ROLLBACK")
        with transaction(engine, write=True):  # the connection is usable again
            pass
    finally:
        other.close()
        engine.dispose()
