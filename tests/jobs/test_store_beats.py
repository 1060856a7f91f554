"""Task store behaviour: batched lease renewals (`heartbeat_many`), as a worker's reporter
sends them for the tasks of one GPU batch. Runs against SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from huajia.errors import LeaseLost
from huajia.jobs import TaskStore
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import TaskState
from tests.jobs.helpers import LEASE, a_task, later


def claimed_batch(store: TaskStore, count: int) -> list[str]:
    for _ in range(count):
        store.create(a_task(batch_key="same"))
    return [task.id for task in store.claim_batch("worker-1", 5, max_images=count)]


def test_one_call_renews_every_lease_of_a_batch(store: TaskStore) -> None:
    ids = claimed_batch(store, 3)
    before = {task_id: store.get(task_id).lease_expires_at for task_id in ids}

    answers = store.heartbeat_many([Beat(task_id, "worker-1", 1) for task_id in ids], LEASE)

    assert answers == dict.fromkeys(ids, BeatAnswer.HELD)
    for task_id in ids:
        renewed = store.get(task_id).lease_expires_at
        assert renewed is not None and before[task_id] is not None
        assert renewed > before[task_id]  # type: ignore[operator]
    assert store.requeue_expired(later(20)) == [], "5 s leases renewed to 30 s"


def test_every_step_reaches_the_progress_log_once_and_in_order(store: TaskStore) -> None:
    first, second = claimed_batch(store, 2)
    store.heartbeat_many([Beat(first, "worker-1", 1), Beat(second, "worker-1", 1)], LEASE)
    store.heartbeat_many([Beat(first, "worker-1", 1, (1, 2, 3), 8),
                          Beat(second, "worker-1", 1, (1,), 8)], LEASE)  # fmt: skip
    store.heartbeat_many([Beat(first, "worker-1", 1, (3, 4), 8),  # 3 again: a retried tick
                          Beat(second, "worker-1", 1, (2, 3, 4), 8)], LEASE)  # fmt: skip

    for task_id in (first, second):
        events = store.progress_since(task_id)
        assert [(event.step, event.total) for event in events] == [(i, 8) for i in (1, 2, 3, 4)]
        task = store.get(task_id)
        assert (task.progress_step, task.progress_total) == (4, 8)
    resumed = store.progress_since(first, after_id=store.progress_since(first)[1].id)
    assert [event.step for event in resumed] == [3, 4]


def test_a_renewal_without_steps_reports_no_progress(store: TaskStore) -> None:
    (task_id,) = claimed_batch(store, 1)
    store.heartbeat_many([Beat(task_id, "worker-1", 1, (1,), 8)], LEASE)
    store.heartbeat_many([Beat(task_id, "worker-1", 1)], LEASE)
    task = store.get(task_id)
    assert (task.progress_step, task.progress_total) == (1, 8), "a bare renewal keeps step 1"
    assert [event.step for event in store.progress_since(task_id)] == [1]


def test_a_cancel_request_is_answered_and_the_others_carry_on(store: TaskStore) -> None:
    victim, mate = claimed_batch(store, 2)
    store.request_cancel(victim)

    answers = store.heartbeat_many(
        [Beat(victim, "worker-1", 1, (1,), 8), Beat(mate, "worker-1", 1, (1,), 8)], LEASE
    )

    assert answers == {victim: BeatAnswer.CANCEL_WANTED, mate: BeatAnswer.HELD}
    assert store.get(victim).state is TaskState.PROCESSING, "the worker finishes it"
    assert store.finish_canceled(victim, "worker-1", 1).state is TaskState.CANCELED


def test_a_lost_lease_is_answered_lost_without_failing_the_rest(store: TaskStore) -> None:
    finished, requeued, held = claimed_batch(store, 3)
    store.fail(finished, "worker-1", 1, "boom", "it broke")
    store.release(requeued, "worker-1", 1)
    again = store.claim("worker-2", LEASE)
    assert again is not None and again.id == requeued

    answers = store.heartbeat_many(
        [Beat(finished, "worker-1", 1, (1,), 8), Beat(requeued, "worker-1", 1, (1,), 8),
         Beat(held, "worker-1", 1, (1,), 8), Beat("no-such-task", "worker-1", 1)], LEASE,
    )  # fmt: skip

    assert answers == {finished: BeatAnswer.LOST, requeued: BeatAnswer.LOST,
                       held: BeatAnswer.HELD, "no-such-task": BeatAnswer.LOST}  # fmt: skip
    assert store.progress_since(finished) == [] and store.progress_since(requeued) == []
    assert store.get(requeued).lease_owner == "worker-2", "the other attempt keeps it"
    assert [event.step for event in store.progress_since(held)] == [1]
    with pytest.raises(LeaseLost):
        store.complete(requeued, "worker-1", 1, [])


def test_no_beats_is_no_work(store: TaskStore) -> None:
    assert store.heartbeat_many([], LEASE) == {}
