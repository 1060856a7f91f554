"""The tests' way of holding a worker (tests/support/hold.py) never freezes it mid-write.

A writer that spends most of its time inside SQLite write transactions stands in for a busy
worker: a plain SIGSTOP nearly always catches it holding the lock, `hold` never does.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hold import Workers

WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
print("ready", flush=True)
while True:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE counter SET n = n + 1")
    time.sleep(0.004)  # most of its time inside the transaction
    connection.execute("COMMIT")
    time.sleep(0.0005)
"""


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    database = tmp_path / "busy.db"
    with sqlite3.connect(database) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE counter (n INTEGER)")
        setup.execute("INSERT INTO counter VALUES (0)")
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(database)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    try:
        yield process.pid, database
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait()
        process.stdout.close()


def write_now(database: Path) -> bool:
    """One write with no waiting: True when nobody held the write lock."""
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE counter SET n = n")
        connection.execute("COMMIT")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


def test_a_held_writer_never_keeps_the_write_lock(writer: tuple[int, Path]) -> None:
    pid, database = writer
    workers = Workers([pid], database)
    for _ in range(20):
        with workers.held():
            assert write_now(database), "held inside a write transaction"
        time.sleep(0.01)


def test_a_plain_sigstop_would_have_caught_it_writing(writer: tuple[int, Path]) -> None:
    """The case `hold` exists for: without its check, a stop lands inside a transaction."""
    pid, database = writer
    blocked = 0
    for _ in range(20):
        Workers([pid]).hold()  # no database given: a stop anywhere, as on PostgreSQL
        try:
            blocked += not write_now(database)
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
    assert blocked > 0
