"""PostgreSQL connections in the pool: one that sat idle is checked before use (and replaced
when the server dropped it); one used a moment ago is trusted, so busy loops pay no ping."""

from __future__ import annotations

import time

import psycopg
import pytest

from huajia.jobs import database
from huajia.jobs.database import Pool, connect
from tests.support.postgres import POSTGRES_URL, _libpq_dsn

pytestmark = pytest.mark.postgres


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
        with psycopg.connect(_libpq_dsn(POSTGRES_URL), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
            while admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (dropped,)
            ).fetchone():
                time.sleep(0.01)  # gone: its goodbye was sent
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

    def counted(dbapi_connection: object) -> bool:
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
