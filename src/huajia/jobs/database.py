"""Connecting to the queue's database and migrating it to the newest schema.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on, and
every writing transaction starts with `BEGIN IMMEDIATE`: the write lock is taken up front,
so two claimers never both read the same pending task and then race to update it.
PostgreSQL relies on row locks (`FOR UPDATE SKIP LOCKED`) instead.
"""

from __future__ import annotations

import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url, text
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import URL
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled PostgreSQL connection left unused this long is checked (an empty query) before it
# is handed out; one used more recently is checked only if the server sent it something (a
# restart's goodbye), so neither a busy claimer nor an idle worker's once-a-second look pays a
# round trip for it. (The idle timeouts of poolers and firewalls are minutes long.) The pool
# hands out the connection used last (LIFO), so one that is used keeps being the one used.
PING_IDLE_SECONDS = 10.0
_USED_AT = "huajia_used_at"
_WRITE = "huajia_write"
_BEGIN = "huajia_begin"  # the BEGIN a SQLite connection's next transaction sends
# Any constant shared by every Huajia process: serialises migrations started at the same time.
_MIGRATION_LOCK_ID = 0x48_75_61_6A_69_61


@dataclass(frozen=True, slots=True)
class Pool:
    """Connections one process keeps (`size`) and may add at a peak (`overflow`)."""

    size: int = 5
    overflow: int = 10


def connect(url: str, pool: Pool | None = None) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, with Huajia's connection settings."""
    parsed = make_url(url)
    sizes = pool or Pool()
    pooling: dict[str, Any] = {
        "pool_size": sizes.size, "max_overflow": sizes.overflow, "pool_use_lifo": True,
    }  # fmt: skip
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pooling)
    if parsed.drivername == "postgresql":
        # psycopg (3) is the driver Huajia installs; SQLAlchemy would otherwise pick psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, **pooling)
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        _ping_if_idle(dialect, dbapi_connection, record)

    event.listen(engine, "checkout", ping_if_idle)
    event.listen(engine, "checkin", _note_use)
    return engine


def _note_use(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_USED_AT] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any) -> None:
    """SQLAlchemy's pre-ping, for idle connections only: a database restart or an idle
    timeout (a pooler's, a firewall's) hits connections that waited; a dead one is swapped
    for a new one (`DisconnectionError` makes the pool connect again)."""
    used_at = record.info.get(_USED_AT)
    if used_at is None:
        return  # new
    if time.monotonic() - used_at < PING_IDLE_SECONDS and not _has_input(dbapi_connection):
        return  # used a moment ago, and the server has said nothing since
    try:
        dialect.do_ping(dbapi_connection)  # as pool_pre_ping does it (outside a transaction)
    except Exception as error:
        raise exc.DisconnectionError(f"a pooled connection was dead: {error}") from error


def _has_input(dbapi_connection: Any) -> bool:
    """Whether an idle connection has something to read: nobody asked the server anything, so
    it is the server closing it (a restart, an administrator); True when that is unknown."""
    try:
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except Exception:
        return True
    return bool(readable)


def _sqlite_engine(url: URL, pooling: dict[str, Any]) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # An in-memory database lives in one connection (SQLAlchemy's SingletonThreadPool).
    engine = create_engine(url)
    if isinstance(engine.pool, QueuePool):  # a file: sized like PostgreSQL's pool
        engine = create_engine(url, **pooling)
    engine.dialect.statement_compiler = _SqliteCompiler
    engine.dialect.do_begin = _sqlite_begin  # type: ignore[method-assign]
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


class _SqliteCompiler(SQLiteCompiler):
    """SQLite's compiler, writing a statement's table hint (`INDEXED BY ix`) after the table's
    name: the queue names the index SQLite's planner would not choose without statistics."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own BEGIN is deferred and skipped for SELECT; we send ours (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a new database file to WAL; retried, as the switch ignores the busy timeout."""
    for delay in (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 0.0):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            # Another process is converting the same new file right now.
            if not delay:
                raise
            time.sleep(delay)


def _on_sqlite_begin(connection: Connection) -> None:
    """Which BEGIN the dialect sends for this transaction (`_sqlite_begin`)."""
    writing = connection.get_execution_options().get(_WRITE, False)
    connection.connection.info[_BEGIN] = "BEGIN IMMEDIATE" if writing else "BEGIN"


def _sqlite_begin(dbapi_connection: Any) -> None:
    """The dialect's BEGIN, sent straight to the driver: every transaction sends one, and as
    a statement of its own through SQLAlchemy it cost a fifth of a status read's CPU. Its
    errors are translated as any BEGIN's are (SQLAlchemy wraps what `do_begin` raises)."""
    dbapi_connection.execute(dbapi_connection.info.pop(_BEGIN, "BEGIN"))


@contextmanager
def transaction(engine: Engine, write: bool) -> Iterator[Connection]:
    """One transaction; `write` takes SQLite's write lock at BEGIN.

    On SQLite, a process's writing threads also queue on one lock of its own first: SQLite
    lets one writer in at a time anyway, and a thread refused by the database sleeps in its
    busy handler (for milliseconds) where one waiting on this lock goes on the moment the
    writer before it commits.
    """
    writers = sqlite_writers(engine) if write else None
    if writers is not None:
        writers.acquire()
    try:
        with engine.connect() as connection:
            if write:
                connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection
    finally:
        if writers is not None:
            writers.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def sqlite_writers(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    found = _WRITERS.get(engine)
    if found is None:
        with _WRITERS_LOCK:
            found = _WRITERS.setdefault(engine, threading.RLock())
    return found


_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:id)")


def one_at_a_time(connection: Connection, lock_id: int) -> None:
    """PostgreSQL: wait for the transaction-scoped advisory lock `lock_id`, held until this
    transaction ends. SQLite needs none: a write transaction holds the whole database."""
    if connection.dialect.name == "postgresql":
        connection.execute(_XACT_LOCK, {"id": lock_id})


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (nothing to do when it is already there)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with transaction(engine, write=True) as connection:
        one_at_a_time(connection, _MIGRATION_LOCK_ID)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision
