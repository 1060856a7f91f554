"""Task store behaviour: submitting, reading, listing and idempotency (TaskQueue).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from huajia.errors import TaskNotFound
from huajia.jobs import TaskStore
from huajia.jobs.model import Task, TaskState
from tests.jobs.helpers import LEASE, a_task, an_image, run_to_completion


def test_created_task_is_pending_and_reads_back_unchanged(store: TaskStore) -> None:
    new = a_task(prompt="一只红色的风筝 over the sea", idempotency_key="k1", cache_key="c1")
    created = store.create(new)
    read = store.get(created.id)

    assert read == created
    assert len(read.id) == 32
    assert int(read.id, 16) >= 0
    assert read.state is TaskState.PENDING
    assert read.request == new.request
    assert (read.owner, read.idempotency_key, read.cache_key) == ("alice", "k1", "c1")
    assert read.created_at.tzinfo is not None
    assert read.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - read.created_at) < timedelta(seconds=30)
    assert (read.attempts, read.max_attempts, read.images) == (0, 3, [])
    assert read.queue_position == 1


def test_create_answers_the_task_as_created_though_a_worker_claims_it_at_once(
    store: TaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker woken by the insert's notice may claim the task before the submitter's answer
    is built: the answer is still the task as queued (pending, first in line), never a
    later state read back."""
    real_get = store.get

    def claimed_first(task_id: str) -> Task:
        store.claim("worker-1", LEASE)
        return real_get(task_id)

    monkeypatch.setattr(store, "get", claimed_first)
    created = store.create(a_task())

    assert created.state is TaskState.PENDING and created.queue_position == 1


def test_unknown_task_is_not_found(store: TaskStore) -> None:
    with pytest.raises(TaskNotFound):
        store.get("0" * 32)


def test_list_is_newest_first_and_pages_with_a_total(store: TaskStore) -> None:
    ids = [store.create(a_task(prompt=f"picture {n}")).id for n in range(5)]

    first, total = store.list(limit=2)
    second, _ = store.list(limit=2, offset=2)
    last, _ = store.list(limit=2, offset=4)

    assert total == 5
    assert [task.id for task in first + second + last] == ids[::-1]


def test_list_filters_by_owner_state_and_time(store: TaskStore) -> None:
    first = store.create(a_task(owner="alice"))
    middle = store.create(a_task(owner="bob"))
    store.claim("worker-1", LEASE)  # alice's task is now processing
    last = store.create(a_task(owner="alice"))

    alice, alice_total = store.list(owner="alice")
    waiting, _ = store.list(states=[TaskState.PENDING])
    from_middle, _ = store.list(since=middle.created_at)
    before_last, _ = store.list(until=last.created_at)

    assert ([task.id for task in alice], alice_total) == ([last.id, first.id], 2)
    assert [task.id for task in waiting] == [last.id, middle.id]
    assert [task.id for task in from_middle] == [last.id, middle.id]
    assert [task.id for task in before_last] == [middle.id, first.id]
    assert store.list(owner="nobody") == ([], 0)


def test_same_idempotency_key_returns_the_first_task(store: TaskStore) -> None:
    first = store.create(a_task(idempotency_key="submit-42"))
    again = store.create(a_task(prompt="something else", idempotency_key="submit-42"))
    other_owner = store.create(a_task(owner="bob", idempotency_key="submit-42"))

    assert again == first
    assert other_owner.id != first.id
    assert store.list()[1] == 2
    assert store.find_by_idempotency_key("alice", "submit-42") == first
    assert store.find_by_idempotency_key("alice", "never-used") is None


def test_idempotent_create_is_race_safe(store: TaskStore) -> None:
    results: list[str] = []
    start = threading.Barrier(6)

    def submit() -> None:
        start.wait()
        results.append(store.create(a_task(idempotency_key="double-click")).id)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 6
    assert len(set(results)) == 1
    assert store.list()[1] == 1


def test_pending_count_and_stats(store: TaskStore) -> None:
    done = run_to_completion(store, a_task(cache_key="k"), images=2)
    store.create_completed(a_task(cache_key="k"), [an_image(0, done.images[0].key)])
    for _ in range(3):
        store.create(a_task())
    lost = store.claim("worker-1", LEASE)
    assert lost is not None
    store.fail(lost.id, "worker-1", 1, "out_of_memory", "too big")
    store.claim("worker-1", LEASE)

    stats = store.stats()

    assert store.pending_count() == 1
    assert stats["by_state"] == {
        "pending": 1, "processing": 1, "completed": 2, "failed": 1, "canceled": 0
    }  # fmt: skip
    assert (stats["pending"], stats["processing"], stats["pending_depth"]) == (1, 1, 1)
    assert stats["oldest_pending_seconds"] is not None
    assert stats["oldest_pending_seconds"] >= 0
    assert stats["errors_by_code"] == {"out_of_memory": 1}
    assert stats["images_total"] == 2, "cache copies are not generated images"
    run_times = stats["generation_seconds"]
    assert run_times["count"] == 1
    assert 0 <= run_times["sum"] < 30
    assert run_times["buckets"][300.0] == 1, "a run well under 300 s is in the last bucket"
