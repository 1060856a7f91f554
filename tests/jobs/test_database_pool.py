"""PostgreSQL connections in the pool: one that sat idle is checked before use (and replaced
when the server dropped it); one used a moment ago is trusted, so busy loops pay no ping."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from huajia.jobs import database
from huajia.jobs.database import Pool, connect
from tests.support.postgres import POSTGRES_URL, _libpq_dsn

pytestmark = pytest.mark.postgres


def _terminate(pid: int) -> None:
    """The server ends that backend; back once it is gone (its goodbye sent)."""
    with psycopg.connect(_libpq_dsn(POSTGRES_URL), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            time.sleep(0.01)


def _backend_pid(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@pytest.mark.parametrize("waited", [True, False], ids=["idle-a-while", "used-a-moment-ago"])
def test_a_connection_the_server_dropped_is_replaced_unseen(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch, waited: bool
) -> None:
    """Idle a while: pinged. Used a moment ago: pinged because the server's goodbye waits
    on its socket. Either way the caller gets a live connection, no error."""
    engine = connect(postgres_schema_url, Pool(size=1, overflow=0))
    try:
        dropped = _backend_pid(engine)
        _terminate(dropped)
        if waited:
            monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)
        assert _backend_pid(engine) != dropped
    finally:
        engine.dispose()


def test_only_connections_that_waited_are_pinged(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = connect(postgres_schema_url, Pool(size=1, overflow=0))
    pings: list[object] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        pid = _backend_pid(engine)
        for _ in range(5):
            assert _backend_pid(engine) == pid
        assert pings == [], "used a moment ago: no ping"
        monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)
        for _ in range(3):
            assert _backend_pid(engine) == pid
        assert len(pings) == 3, "each checkout after a wait is pinged"
    finally:
        engine.dispose()


def test_a_caller_using_the_pool_now_and_then_keeps_using_one_connection(
    postgres_schema_url: str,
) -> None:
    """An idle worker looks at the queue and writes its presence every second or so. The
    pool hands it the connection it used last, not the one that waited longest: that one
    would always have waited past the ping threshold, and each look would cost a ping too."""
    engine = connect(postgres_schema_url, Pool(size=5, overflow=0))
    try:
        with engine.connect() as first, engine.connect() as second:  # the pool holds two
            first.exec_driver_sql("SELECT 1")
            second.exec_driver_sql("SELECT 1")
        used = {_backend_pid(engine) for _ in range(6)}
        assert len(used) == 1, "each checkout took the connection that had waited longest"
    finally:
        engine.dispose()


@pytest.mark.parametrize("images", [1, 0], ids=["with-images", "one-statement"])
def test_a_completion_on_a_connection_that_died_unseen_goes_through_on_a_new_one(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch, images: int
) -> None:
    """A connection that died without a word (a network cut: no goodbye on its socket) and
    was used a moment ago is handed out unchecked; the worker's final write then fails on it,
    and is made again on a new connection instead of failing the task. (Both run straight on
    the driver's connection, direct.py: without images one statement, with them one
    transaction.)"""
    from huajia.jobs import open_store
    from huajia.jobs.model import TaskState
    from tests.jobs.helpers import LEASE, a_task, an_image

    monkeypatch.setattr(database, "_has_input", lambda _connection: False)  # nothing said
    store = open_store(postgres_schema_url, Pool(size=1, overflow=0))
    try:
        task = store.create(a_task())
        claimed = store.claim("w", LEASE)
        assert claimed is not None
        dropped = _backend_pid(store.engine)
        _terminate(dropped)

        made = [an_image(0, "a/b.png")][:images]
        done = store.complete(task.id, "w", claimed.attempts, made, (8,), 8)

        assert done.state is TaskState.COMPLETED and len(done.images) == images
        assert store.get(task.id).state is TaskState.COMPLETED
    finally:
        store.close()


def test_a_claim_on_a_dead_connection_fails_once_and_the_pool_replaces_it(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim run straight on the driver's connection: the error is SQLAlchemy's, says the
    connection was invalidated, and the pool never hands that connection out again."""
    from sqlalchemy.exc import DBAPIError

    from huajia.jobs import open_store
    from tests.jobs.helpers import LEASE, a_task

    monkeypatch.setattr(database, "_has_input", lambda _connection: False)  # nothing said
    store = open_store(postgres_schema_url, Pool(size=1, overflow=0))
    try:
        task = store.create(a_task())
        dropped = _backend_pid(store.engine)
        _terminate(dropped)

        with pytest.raises(DBAPIError) as failed:
            store.claim("w", LEASE)
        assert failed.value.connection_invalidated

        claimed = store.claim("w", LEASE)
        assert claimed is not None and claimed.id == task.id
        assert _backend_pid(store.engine) != dropped
    finally:
        store.close()
