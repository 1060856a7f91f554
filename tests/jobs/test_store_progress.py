"""Task store behaviour: the progress log event-stream followers read (ProgressLog).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

import pytest

from huajia.errors import LeaseLost
from huajia.jobs import TaskStore
from huajia.jobs.model import TaskState
from tests.jobs.helpers import LEASE, a_task, later, run_to_completion


def test_each_step_is_logged_once_in_order_and_read_after_an_id(store: TaskStore) -> None:
    task = store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    for step in (1, 2, 2, 3):  # a repeated beat of the same step is one event
        store.heartbeat(task.id, "worker-1", claimed.attempts, step, 8, LEASE)

    steps = store.progress_since(task.id)
    later = store.progress_since(task.id, after_id=steps[0].id)

    assert [(event.step, event.total) for event in steps] == [(1, 8), (2, 8), (3, 8)]
    assert [event.id for event in steps] == sorted(event.id for event in steps)
    assert [event.step for event in later] == [2, 3]
    assert store.progress_since("f" * 32) == []


def test_watch_reads_every_followed_task_with_its_new_steps_in_one_call(store: TaskStore) -> None:
    first, second = store.create(a_task()), store.create(a_task(owner="bob"))
    held = {task.id: task for task in (store.claim("w", LEASE), store.claim("w", LEASE)) if task}
    store.heartbeat(first.id, "w", held[first.id].attempts, 1, 4, LEASE)
    seen = store.progress_since(first.id)[0].id
    store.heartbeat(first.id, "w", held[first.id].attempts, 2, 4, LEASE)
    store.heartbeat(second.id, "w", held[second.id].attempts, 1, 4, LEASE)

    tasks, steps = store.watch({first.id: seen, second.id: 0})

    assert {task.id for task in tasks} == {first.id, second.id}
    assert [event.step for event in steps[first.id]] == [2]
    assert [event.step for event in steps[second.id]] == [1]
    assert store.watch({}) == ([], {})


def test_watch_reads_a_completed_task_with_its_images_and_a_waiting_one_with_its_place(
    store: TaskStore,
) -> None:
    done = run_to_completion(store, a_task(), images=2)
    running, waiting = store.create(a_task()), store.create(a_task(owner="bob"))
    assert store.claim("w", LEASE) is not None

    tasks, _ = store.watch({done.id: 0, running.id: 0, waiting.id: 0})

    read = {task.id: task for task in tasks}
    assert read[done.id].state is TaskState.COMPLETED
    assert [image.index for image in read[done.id].images] == [0, 1]
    assert read[done.id].images == done.images and read[done.id].queue_position is None
    assert read[running.id].state is TaskState.PROCESSING and read[running.id].images == []
    assert read[running.id].queue_position is None
    assert read[waiting.id].state is TaskState.PENDING and read[waiting.id].images == []
    assert read[waiting.id].queue_position == 1


def test_a_completion_records_the_last_steps_with_it_once_each(store: TaskStore) -> None:
    task = store.create(a_task())
    claimed = store.claim("w", LEASE)
    assert claimed is not None
    store.heartbeat(task.id, "w", claimed.attempts, 2, 4, LEASE)

    done = store.complete(task.id, "w", claimed.attempts, [], steps=(2, 3, 4), total=4)

    assert [(e.step, e.total) for e in store.progress_since(task.id)] == [(2, 4), (3, 4), (4, 4)]
    assert (done.progress_step, done.progress_total) == (4, 4)
    assert store.get(task.id).state.value == "completed"


def test_a_completion_refused_records_none_of_its_steps(store: TaskStore) -> None:
    task = store.create(a_task())
    claimed = store.claim("w", LEASE)
    assert claimed is not None
    with pytest.raises(LeaseLost):
        store.complete(task.id, "someone-else", claimed.attempts, [], steps=(1, 2), total=2)
    assert store.progress_since(task.id) == []


def test_old_steps_are_swept_by_the_expiry_check_at_most_every_few_minutes(
    store: TaskStore,
) -> None:
    """Steps older than an hour go with the next check for expired leases; a check a minute
    after a sweep deletes nothing (an idle worker checks every few seconds), one five minutes
    after does."""
    task = store.create(a_task())
    claimed = store.claim("w", 3 * 3600.0)
    assert claimed is not None
    store.heartbeat(task.id, "w", claimed.attempts, 1, 8, 3 * 3600.0)

    store.requeue_expired(later(2 * 3600))
    assert store.progress_since(task.id) == [], "older than an hour: swept"

    store.heartbeat(task.id, "w", claimed.attempts, 2, 8, 3 * 3600.0)
    store.requeue_expired(later(2 * 3600 + 60))
    assert [event.step for event in store.progress_since(task.id)] == [2], "not swept again yet"
    store.requeue_expired(later(2 * 3600 + 6 * 60))
    assert store.progress_since(task.id) == []
