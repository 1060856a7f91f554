"""What a worker's writes cost a PostgreSQL server: a claim, a renewal and a final write are
one statement each, in no transaction of their own (no BEGIN, no COMMIT round trips). That
they still carry their notices is test_store_notices.py's (on PostgreSQL it runs this path).
Counted as the driver sends them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from huajia.errors import LeaseLost
from huajia.jobs import open_store, pg_leases
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import TaskState
from huajia.jobs.sqlstore import SqlTaskStore
from tests.jobs.helpers import LEASE, a_task, an_image

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_schema_url: str) -> Iterator[SqlTaskStore]:
    opened = open_store(postgres_schema_url)
    yield opened
    opened.close()


class Sent:
    """The statements the store's connections send, BEGIN and COMMIT included."""

    def __init__(self, store: SqlTaskStore) -> None:
        self.statements: list[str] = []
        event.listen(store.engine, "before_cursor_execute", self._statement)
        event.listen(store.engine, "commit", self._commit)
        self._store = store
        self._began: set[int] = set()

    def _statement(self, connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # psycopg sends BEGIN before a transaction's first statement unless in autocommit.
        driver = connection.connection.driver_connection
        if not driver.autocommit and id(driver) not in self._began:
            self._began.add(id(driver))
            self.statements.append("BEGIN")
        self.statements.append(statement.split()[0].upper())

    def _commit(self, connection: Any) -> None:
        self._began.discard(id(connection.connection.driver_connection))
        self.statements.append("COMMIT")

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


def test_a_claim_a_renewal_and_a_final_write_are_one_statement_each(store: SqlTaskStore
                                                                    ) -> None:  # fmt: skip
    created = store.create(a_task())
    sent = Sent(store)

    claimed = store.claim("worker-1", LEASE, model="z-image-turbo")
    assert claimed is not None and claimed.id == created.id
    assert claimed.state is TaskState.PROCESSING and claimed.attempts == 1
    assert sent.take() == ["WITH"]

    answers = store.heartbeat_many([Beat(created.id, "worker-1", 1, (1, 2), 8)], LEASE)
    assert answers == {created.id: BeatAnswer.HELD}
    assert sent.take() == ["WITH"]

    done = store.fail(created.id, "worker-1", 1, "engine_failed", "out of memory")
    assert done.state is TaskState.FAILED and done.error_code == "engine_failed"
    assert sent.take() == ["WITH"]

    assert [(p.step, p.total) for p in store.progress_since(created.id)] == [(1, 8), (2, 8)]


def test_a_completion_with_images_is_one_transaction(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    sent = Sent(store)

    done = store.complete(created.id, "worker-1", 1, [an_image(0)], steps=(7, 8), total=8)

    assert sent.take() == ["BEGIN", "WITH", "INSERT", "COMMIT"]
    assert done.state is TaskState.COMPLETED and [i.index for i in done.images] == [0]
    assert (done.progress_step, done.progress_total) == (8, 8)
    assert done.run_seconds is not None and done.run_seconds >= 0


def test_a_stale_attempts_final_write_changes_nothing_and_says_why(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None
    store.request_cancel(created.id)

    with pytest.raises(LeaseLost, match="attempt 2"):
        store.complete(created.id, "worker-1", 2, [an_image(0)], steps=(1,), total=8)
    with pytest.raises(LeaseLost, match="worker-2"):
        store.fail(created.id, "worker-2", 1, "engine_failed", "no")

    task = store.get(created.id)
    assert task.state is TaskState.PROCESSING and task.images == []
    assert task.cancel_requested and store.progress_since(created.id) == []


def test_batch_mates_that_cannot_be_claimed_leave_the_first_claimed_alone(
    store: SqlTaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.create(a_task(batch_key="same"))
    mate = store.create(a_task(batch_key="same"))

    def broken(*_args: Any, **_kwargs: Any) -> list[str]:
        raise RuntimeError("the database went away between the two statements")

    monkeypatch.setattr(store, "_batch_mates", broken)
    claimed = store.claim_batch("worker-1", LEASE, max_images=2)

    assert [task.id for task in claimed] == [first.id]
    assert store.get(first.id).state is TaskState.PROCESSING
    assert store.get(mate.id).state is TaskState.PENDING
    monkeypatch.undo()
    assert [task.id for task in store.claim_batch("worker-2", LEASE, max_images=2)] == [mate.id]


def test_a_final_write_refuses_a_column_its_statement_does_not_set(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None

    with pytest.raises(ValueError, match="run_seconds"):
        store._finish(created.id, "worker-1", 1, TaskState.FAILED, {"run_seconds": 0.0})
    assert store.get(created.id).state is TaskState.PROCESSING


def test_a_claim_and_a_renewal_commit_without_waiting_for_the_flush_a_final_write_waits(
    store: SqlTaskStore,
) -> None:
    """A notifying commit holds a server-wide lock through its flush: the two frequent
    writes, whose loss in a server crash only runs a task again, do not wait for it."""
    created = store.create(a_task())
    now = datetime.now(UTC)

    def commit_mode(connection: Any) -> str:  # the setting the transaction will commit with
        return str(connection.exec_driver_sql("SHOW synchronous_commit").scalar_one())

    with store.engine.begin() as connection:
        row = pg_leases.claim_one(connection, "z-image-turbo", None, None, "w", now, LEASE)
        assert row is not None and row.id == created.id
        assert commit_mode(connection) == "off"
    with store.engine.begin() as connection:
        beat = Beat(created.id, "w", 1, (1,), 4)
        assert pg_leases.renew(connection, beat, now, LEASE) is BeatAnswer.HELD
        assert commit_mode(connection) == "off"
    with store.engine.begin() as connection:
        done = pg_leases.finish_held(connection, created.id, "w", 1, TaskState.COMPLETED,
                                     {"error_code": None}, [], 4, now)  # fmt: skip
        assert done is not None and done.state == TaskState.COMPLETED.value
        assert commit_mode(connection) == "on"
    assert store.get(created.id).state is TaskState.COMPLETED
