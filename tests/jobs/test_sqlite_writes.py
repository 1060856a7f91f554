"""What a worker's writes send to SQLite: a claim, a renewal and a final write are each one
short transaction run straight on the driver's connection (sqlite_leases.py), and read the
same rows the store's own reads do. Counted as sqlite3 runs them (its trace callback)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from huajia.errors import LeaseLost
from huajia.jobs import open_store
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.database import Pool
from huajia.jobs.direct import sqlite_writing
from huajia.jobs.model import TaskState
from huajia.jobs.rows import IMAGE_COLUMNS, image_values
from huajia.jobs.sqlstore import SqlTaskStore
from tests.jobs.helpers import LEASE, a_task, an_image


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTaskStore]:
    # One pooled connection: every statement of the store goes through the one traced.
    opened = open_store(f"sqlite:///{tmp_path}/queue.db", Pool(size=1, overflow=0))
    yield opened
    opened.close()


class Traced:
    """The statements sqlite3 runs on the pool's one connection (their first word)."""

    def __init__(self, store: SqlTaskStore) -> None:
        self.statements: list[str] = []
        with store.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.set_trace_callback(self._ran)

    def _ran(self, statement: str) -> None:
        words = statement.split()
        self.statements.append(" ".join(words[:2]) if words[0] == "BEGIN" else words[0])

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


def test_a_claim_is_one_update_and_a_renewal_and_a_final_write_read_the_lease_once(
    store: SqlTaskStore,
) -> None:
    created = store.create(a_task())
    traced = Traced(store)

    claimed = store.claim("worker-1", LEASE, model="z-image-turbo")
    assert claimed is not None and claimed.id == created.id
    assert claimed.state is TaskState.PROCESSING and claimed.attempts == 1
    assert traced.take() == ["BEGIN IMMEDIATE", "UPDATE", "COMMIT"]

    answers = store.heartbeat_many([Beat(created.id, "worker-1", 1, (1, 2), 8)], LEASE)
    assert answers == {created.id: BeatAnswer.HELD}
    assert traced.take() == ["BEGIN IMMEDIATE", "SELECT", "INSERT", "INSERT", "UPDATE", "COMMIT"]

    done = store.fail(created.id, "worker-1", 1, "engine_failed", "out of memory")
    assert done.state is TaskState.FAILED and done.error_code == "engine_failed"
    assert done.error_message == "out of memory"
    assert traced.take() == ["BEGIN IMMEDIATE", "SELECT", "UPDATE", "COMMIT"]

    assert [(p.step, p.total) for p in store.progress_since(created.id)] == [(1, 8), (2, 8)]
    assert store.get(created.id) == done


def test_a_batchs_beats_renew_in_one_transaction_and_a_stale_one_is_answered_lost(
    store: SqlTaskStore,
) -> None:
    first = store.create(a_task(batch_key="k"))
    mate = store.create(a_task(batch_key="k"))
    gone = store.create(a_task())
    assert [task.id for task in store.claim_batch("worker-1", LEASE, 2)] == [first.id, mate.id]
    traced = Traced(store)

    answers = store.heartbeat_many([
        Beat(first.id, "worker-1", 1, (1,), 4), Beat(mate.id, "worker-1", 1, (1,), 4),
        Beat(gone.id, "worker-1", 1, (1,), 4),  # pending: never claimed by this attempt
    ], LEASE)  # fmt: skip

    assert answers == {first.id: BeatAnswer.HELD, mate.id: BeatAnswer.HELD,
                       gone.id: BeatAnswer.LOST}  # fmt: skip
    assert traced.take() == ["BEGIN IMMEDIATE", *["SELECT", "INSERT", "UPDATE"] * 2, "SELECT",
                             "COMMIT"]  # fmt: skip
    assert [p.step for p in store.progress_since(first.id)] == [1]
    assert [p.step for p in store.progress_since(mate.id)] == [1]
    assert store.progress_since(gone.id) == []


def test_rows_read_straight_from_the_driver_are_the_tasks_the_store_reads(
    store: SqlTaskStore,
) -> None:
    """Read without SQLAlchemy's result layer: the same values and types (UTC-aware times, the
    decoded request, floats) as the store's reads."""
    created = store.create(a_task(batch_key="k"))

    claimed = store.claim("worker-1", LEASE, model="z-image-turbo")
    assert claimed is not None
    assert claimed == replace(store.get(created.id), queue_position=None)
    assert claimed.started_at is not None and claimed.started_at.utcoffset() == timedelta(0)

    done = store.complete(created.id, "worker-1", 1, [], steps=(3, 4), total=4)
    assert done == store.get(created.id)
    assert (done.progress_step, done.progress_total) == (4, 4)
    assert isinstance(done.run_seconds, float) and done.run_seconds >= 0
    assert done.request == created.request and done.error_code is None


def test_steps_already_stored_are_not_stored_again(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None

    store.heartbeat_many([Beat(created.id, "worker-1", 1, (1, 2), 4)], LEASE)
    store.heartbeat_many([Beat(created.id, "worker-1", 1, (2, 3), 4)], LEASE)
    done = store.complete(created.id, "worker-1", 1, [], steps=(3, 4), total=4)

    assert [p.step for p in store.progress_since(created.id)] == [1, 2, 3, 4]
    assert (done.progress_step, done.progress_total) == (4, 4)


def test_a_stale_attempt_changes_nothing_and_says_why(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None
    store.request_cancel(created.id)

    assert store.heartbeat_many([Beat(created.id, "worker-1", 2, (1,), 8)], LEASE) == {
        created.id: BeatAnswer.LOST
    }
    with pytest.raises(LeaseLost, match="attempt 2"):
        store.complete(created.id, "worker-1", 2, [], steps=(1,), total=8)
    with pytest.raises(LeaseLost, match="worker-2"):
        store.fail(created.id, "worker-2", 1, "engine_failed", "no")
    answers = store.heartbeat_many([Beat(created.id, "worker-1", 1, (), 8)], LEASE)
    assert answers == {created.id: BeatAnswer.CANCEL_WANTED}

    task = store.get(created.id)
    assert task.state is TaskState.PROCESSING and task.cancel_requested
    assert store.progress_since(created.id) == []


def test_a_completion_stores_its_images_in_the_same_transaction(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None
    traced = Traced(store)

    done = store.complete(created.id, "worker-1", 1, [an_image(1), an_image(0)], steps=(8,),
                          total=8)  # fmt: skip

    assert traced.take() == ["BEGIN IMMEDIATE", "SELECT", "INSERT", "UPDATE", "INSERT", "INSERT",
                             "COMMIT"]  # fmt: skip
    assert done.state is TaskState.COMPLETED and [i.index for i in done.images] == [0, 1]
    assert done == store.get(created.id)  # the records as a read gives them, defaults included
    assert all(image.review_state == "none" and image.reviewed_at is None for image in done.images)


def test_a_stale_attempts_images_are_not_stored(store: SqlTaskStore) -> None:
    created = store.create(a_task())
    assert store.claim("worker-1", LEASE) is not None

    with pytest.raises(LeaseLost):
        store.complete(created.id, "worker-1", 2, [an_image(0)], steps=(8,), total=8)

    assert store.get(created.id).images == []


def test_a_failed_direct_transaction_leaves_nothing_and_the_connection_usable(
    store: SqlTaskStore,
) -> None:
    created = store.create(a_task())

    def interrupted() -> None:
        with sqlite_writing(store.engine) as cursor:
            cursor.execute("UPDATE tasks SET priority = 'high' WHERE id = ?", (created.id,))
            raise RuntimeError("the worker's process fails mid-write")

    def refused() -> None:
        with sqlite_writing(store.engine) as cursor:
            cursor.execute("UPDATE tasks SET no_such_column = 1")

    with pytest.raises(RuntimeError, match="mid-write"):
        interrupted()
    with pytest.raises(exc.OperationalError, match="no such column"):
        refused()

    assert store.get(created.id).priority == created.priority
    with store.engine.connect() as connection:  # nothing left open on the pool's connection
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar_one() == 1
    assert store.claim("worker-1", LEASE) is not None


def test_the_direct_image_insert_binds_every_value_a_record_is_made_of() -> None:
    """An image's record inserted on the driver's connection sets exactly what
    `image_values` gives: a value added there and not bound here would be dropped unseen."""
    values = image_values("task-1", an_image(0), datetime.now(UTC))
    assert set(values) == set(IMAGE_COLUMNS)
