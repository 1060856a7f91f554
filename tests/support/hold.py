"""Holding worker processes still (SIGSTOP) where a test needs their work to wait.

A worker stopped in the middle of a SQLite write transaction keeps the database's write lock
for as long as it is stopped: every write of the API (a submit, a cancel) then waits out its
busy timeout and fails. `hold` stops the workers at a moment none of them is writing: it waits
until every thread of each is stopped, tries to take the write lock itself, and when a worker
had it, lets the workers go for a moment and tries again. A stopped process cannot take the
lock afterwards, so once the check passes the hold is safe for as long as it lasts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HOLD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Workers:
    """Worker processes and the SQLite database they write (None on PostgreSQL)."""

    pids: Sequence[int]
    sqlite_database: Path | None = None

    def hold(self) -> None:
        hold(self.pids, self.sqlite_database)

    def release(self) -> None:
        release(self.pids)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.hold()
        try:
            yield
        finally:
            self.release()


def hold(pids: Sequence[int], sqlite_database: Path | None = None) -> None:
    """SIGSTOP every process in `pids` at a moment none holds `sqlite_database`'s write lock
    (PostgreSQL: None; its writers lock rows, not the database)."""
    deadline = time.monotonic() + HOLD_TIMEOUT_S
    pause = 0.002
    while True:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        _until_stopped(pids, deadline)
        if sqlite_database is None or _write_lock_free(sqlite_database):
            return
        release(pids)
        if time.monotonic() > deadline:
            raise AssertionError(f"the workers never let go of {sqlite_database}'s write lock")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def release(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _until_stopped(pids: Sequence[int], deadline: float) -> None:
    """SIGSTOP is delivered asynchronously: wait until every thread shows state T."""
    while not all(_stopped(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes {list(pids)} did not stop")
        time.sleep(0.001)


def _stopped(pid: int) -> bool:
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return True  # gone: holds nothing
    for thread in threads:
        try:
            stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
        except FileNotFoundError:
            continue  # that thread ended
        state = stat.rsplit(")", 1)[1].split()[0]  # the name in parentheses may hold spaces
        if state not in {"T", "t", "Z", "X"}:
            return False
    return True


def _write_lock_free(database: Path) -> bool:
    if not database.exists():
        return True
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked: someone is writing
        return False
    finally:
        connection.close()
