"""What a worker's writes cost a PostgreSQL server: a claim, a renewal and a final write are
one statement each, in no transaction of their own (no BEGIN, no COMMIT round trips). That
they still carry their notices is test_store_notices.py's (on PostgreSQL it runs this path).
Counted as the driver sends them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, insert

from huajia.errors import LeaseLost
from huajia.jobs import open_store, pg_leases
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.database import Pool
from huajia.jobs.model import TaskState
from huajia.jobs.rows import task_values
from huajia.jobs.sqlstore import SqlTaskStore
from huajia.jobs.tables import tasks
from tests.jobs.helpers import LEASE, a_task, an_image

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_schema_url: str) -> Iterator[SqlTaskStore]:
    opened = open_store(postgres_schema_url)
    yield opened
    opened.close()


class Sent:
    """The statements the driver sends, BEGIN and COMMIT included, whether through a
    SQLAlchemy `Connection` or straight on a pooled driver connection (direct.py)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self._began: set[int] = set()
        execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

        def executing(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            # psycopg sends BEGIN before a transaction's first statement unless in autocommit.
            driver = cursor.connection
            if not driver.autocommit and id(driver) not in self._began:
                self._began.add(id(driver))
                self.statements.append("BEGIN")
            self.statements.append(str(query).split()[0].upper())
            return execute(cursor, query, *args, **kwargs)

        def committing(driver: psycopg.Connection[Any]) -> None:
            if id(driver) in self._began:
                self._began.discard(id(driver))
                self.statements.append("COMMIT")
            commit(driver)

        monkeypatch.setattr(psycopg.Cursor, "execute", executing)
        monkeypatch.setattr(psycopg.Connection, "commit", committing)

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


def test_a_claim_a_renewal_and_a_final_write_are_one_statement_each(
    store: SqlTaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = store.create(a_task())
    sent = Sent(monkeypatch)

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


def test_a_completion_with_images_is_one_transaction(
    store: SqlTaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    sent = Sent(monkeypatch)
    through_sqlalchemy: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda *execution: through_sqlalchemy.append(execution[2]))  # fmt: skip

    done = store.complete(created.id, "worker-1", 1, [an_image(0)], steps=(7, 8), total=8)

    assert sent.take() == ["BEGIN", "WITH", "INSERT", "COMMIT"]
    assert through_sqlalchemy == [], "run straight on the driver's connection"
    assert done.state is TaskState.COMPLETED and [i.index for i in done.images] == [0]
    assert done == store.get(created.id)  # read straight from the driver: as the store reads it
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


def test_rows_read_straight_from_the_driver_are_the_tasks_the_store_reads(
    store: SqlTaskStore,
) -> None:
    """The claim and the final write are read without SQLAlchemy's result layer: the same
    values and types (UTC-aware times, the decoded request, floats) as the store's reads."""
    created = store.create(a_task(batch_key="k"))

    claimed = store.claim("worker-1", LEASE, model="z-image-turbo")
    assert claimed is not None
    assert claimed == replace(store.get(created.id), queue_position=None)
    assert claimed.started_at is not None and claimed.started_at.tzinfo is not None
    assert claimed.started_at.utcoffset() == timedelta(0)

    done = store.complete(created.id, "worker-1", 1, [], steps=(3, 4), total=4)
    assert done == store.get(created.id)
    assert isinstance(done.run_seconds, float) and done.request == created.request


def test_the_pools_connections_go_back_as_they_were_lent(postgres_schema_url: str) -> None:
    """A statement run in autocommit on a pooled connection leaves it as the pool's other
    users expect it: their next statement opens a transaction that a rollback undoes."""
    opened = open_store(postgres_schema_url, Pool(size=1, overflow=0))
    try:
        created = opened.create(a_task())
        assert opened.claim("worker-1", LEASE) is not None
        with opened.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None and driver.autocommit is False
            connection.exec_driver_sql(f"DELETE FROM tasks WHERE id = '{created.id}'")
            connection.rollback()
        assert opened.get(created.id).state is TaskState.PROCESSING
    finally:
        opened.close()


def test_a_workers_writes_are_planned_once_per_connection(postgres_schema_url: str) -> None:
    """psycopg prepares a statement run five times; PostgreSQL then plans it once (its
    generic plan) only if that plan looks no costlier than planning each call. A claim's
    LIMIT bound as a parameter made the generic plan look like a sort of the whole queue, so
    every claim was planned again: about half of what a claim cost the server."""
    opened = open_store(postgres_schema_url, Pool(size=1, overflow=0))
    try:
        now = datetime.now(UTC)
        with opened.engine.begin() as connection:  # a queue the planner knows is long
            connection.execute(insert(tasks), [
                task_values(a_task(owner=f"owner-{index % 7}"), TaskState.PENDING, now)
                for index in range(3000)
            ])  # fmt: skip
            connection.exec_driver_sql("ANALYZE tasks")
        for _ in range(20):
            task = opened.claim("worker-1", LEASE, model="z-image-turbo")
            assert task is not None
            opened.heartbeat_many([Beat(task.id, "worker-1", 1, (1,), 4)], LEASE)
            opened.complete(task.id, "worker-1", 1, [], steps=(4,), total=4)
        with opened.engine.connect() as connection:  # the pool's one connection
            plans = connection.exec_driver_sql(
                "SELECT split_part(statement, ' ', 1), generic_plans, custom_plans "
                "FROM pg_prepared_statements WHERE statement LIKE 'WITH%%'"
            ).all()
    finally:
        opened.close()
    assert len(plans) == 3, plans  # the claim, the renewal and the final write
    for _, generic, custom in plans:  # planned for the first few calls' values, then once
        assert custom <= 5 and generic > custom, plans
