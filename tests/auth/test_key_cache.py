"""API keys looked up once per TTL and touched once a minute, counted at the database driver;
revocation refused within the TTL (at once through this process). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from huajia.auth.gate import AuthGate, Caller
from huajia.auth.keys import Role, generate_key, hash_key
from huajia.errors import Unauthorized
from huajia.jobs import TaskStore, open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def key_statements(store: TaskStore) -> Iterator[list[str]]:
    """Every SQL statement that reaches the driver and names the api_keys table."""
    seen: list[str] = []
    engine = store.engine  # type: ignore[attr-defined]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "api_keys" in statement:
            seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def caller(secret: str) -> Caller:
    return Caller(peer="192.0.2.7", host_header="huajia.example", forwarded=False, secret=secret)


def new_key(store: TaskStore) -> tuple[str, str]:
    secret, prefix = generate_key()
    return secret, store.keys.create("cms", Role.EDITOR, hash_key(secret), prefix).id


def gate_with_clock(store: TaskStore, clock: Clock, ttl: float = 10.0) -> AuthGate:
    return AuthGate("keys", store.keys, cache_seconds=ttl, clock=clock)


def test_many_requests_with_one_key_read_it_once_and_touch_it_once(
    store: TaskStore, key_statements: list[str]
) -> None:
    secret, key_id = new_key(store)
    gate = gate_with_clock(store, Clock())
    key_statements.clear()
    for _ in range(50):
        assert gate.principal(caller(secret)).key_id == key_id
    lookups = [sql for sql in key_statements if sql.startswith("select")]
    touches = [sql for sql in key_statements if sql.startswith("update")]
    assert len(lookups) == 1, key_statements
    assert len(touches) == 1 and "last_used_at" in touches[0], key_statements
    assert store.keys.find_by_hash(hash_key(secret)).last_used_at is not None  # type: ignore[union-attr]


def test_the_lookup_and_the_touch_come_back_after_their_intervals(
    store: TaskStore, key_statements: list[str]
) -> None:
    secret, _ = new_key(store)
    clock = Clock()
    gate = gate_with_clock(store, clock)
    gate.principal(caller(secret))
    key_statements.clear()
    clock.now += 11  # past the TTL, within the minute: looked up again, not touched
    gate.principal(caller(secret))
    assert [sql.split()[0] for sql in key_statements] == ["select"]
    clock.now += 50  # a minute since the first touch: looked up and touched
    gate.principal(caller(secret))
    assert [sql.split()[0] for sql in key_statements] == ["select", "select", "update"]


def test_a_key_revoked_elsewhere_is_refused_within_the_ttl(store: TaskStore) -> None:
    secret, key_id = new_key(store)
    clock = Clock()
    gate = gate_with_clock(store, clock)
    gate.principal(caller(secret))
    store.keys.revoke(key_id)  # the CLI, or another API process
    clock.now += 9.9
    assert gate.principal(caller(secret)).key_id == key_id, "still cached: the documented bound"
    clock.now += 0.2
    with pytest.raises(Unauthorized, match="not valid"):
        gate.principal(caller(secret))


def test_a_key_revoked_through_this_process_is_refused_at_once(store: TaskStore) -> None:
    secret, key_id = new_key(store)
    gate = gate_with_clock(store, Clock())
    gate.principal(caller(secret))
    assert gate.revoke(key_id).revoked_at is not None
    with pytest.raises(Unauthorized, match="not valid"):
        gate.principal(caller(secret))
    assert store.keys.find_by_hash(hash_key(secret)) is None


def test_unknown_keys_are_not_remembered(store: TaskStore) -> None:
    gate = gate_with_clock(store, Clock())
    secret, prefix = generate_key()
    with pytest.raises(Unauthorized):
        gate.principal(caller(secret))
    store.keys.create("late", Role.EDITOR, hash_key(secret), prefix)
    assert gate.principal(caller(secret)).name == "late", "a new key works on its first call"


def test_without_a_cache_every_request_reads_the_store(
    store: TaskStore, key_statements: list[str]
) -> None:
    secret, key_id = new_key(store)
    gate = AuthGate("keys", store.keys)
    for _ in range(3):
        gate.principal(caller(secret))
    store.keys.revoke(key_id)
    with pytest.raises(Unauthorized):
        gate.principal(caller(secret))
    assert sum(sql.startswith("select") for sql in key_statements) >= 4


def test_only_a_remembered_key_with_no_write_due_answers_without_the_store(
    store: TaskStore, key_statements: list[str]
) -> None:
    """What the API's event loop may answer itself; anything else goes to `principal`, which
    may read or write the database (on the thread pool)."""
    secret, key_id = new_key(store)
    clock = Clock()
    gate = gate_with_clock(store, clock)
    assert gate.principal_at_once(caller(secret)) is None, "not looked up yet"
    gate.principal(caller(secret))
    key_statements.clear()
    found = gate.principal_at_once(caller(secret))
    assert found is not None and found.key_id == key_id and found.role == Role.EDITOR
    assert key_statements == []
    clock.now += 10.5  # past the TTL: the store is asked again
    assert gate.principal_at_once(caller(secret)) is None
    gate.principal(caller(secret))
    assert gate.principal_at_once(caller(secret)) is not None
    patient = gate_with_clock(store, clock, ttl=300)  # a TTL longer than the touch's minute
    patient.principal(caller(secret))
    clock.now += 61  # still remembered, but its use is due to be written
    assert patient.principal_at_once(caller(secret)) is None
    key_statements.clear()
    patient.principal(caller(secret))
    assert [sql.split()[0] for sql in key_statements] == ["update"]
    assert patient.principal_at_once(caller(secret)) is not None
    gate.revoke(key_id)  # through this process: refused at once, on either path
    assert gate.principal_at_once(caller(secret)) is None
    with pytest.raises(Unauthorized, match="not valid"):
        gate.principal(caller(secret))
    for odd in ("", "not-a-key", secret + "x"):
        assert gate.principal_at_once(caller(odd)) is None
