"""Task store behaviour, part 2: the queue — claim order, leases, fencing, cancel.

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from huajia.errors import LeaseLost, TaskNotFound
from huajia.jobs import TaskStore, queue
from huajia.jobs.model import Holding, Priority, TaskState
from tests.jobs.helpers import LEASE, a_task, an_image, claim_all, later, run_to_completion


def test_claim_takes_the_task_under_a_lease(store: TaskStore) -> None:
    created = store.create(a_task())
    before = datetime.now(UTC)

    claimed = store.claim("worker-1", LEASE)

    assert claimed is not None
    assert claimed.id == created.id
    assert claimed.state is TaskState.PROCESSING
    assert (claimed.attempts, claimed.lease_owner) == (1, "worker-1")
    assert claimed.started_at is not None
    assert claimed.started_at >= before
    assert claimed.lease_expires_at is not None
    assert 25 <= (claimed.lease_expires_at - before).total_seconds() <= 35
    assert claimed.queue_position is None
    assert store.claim("worker-2", LEASE) is None


def test_completed_task_keeps_its_images_and_is_final(store: TaskStore) -> None:
    store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    store.heartbeat(claimed.id, "worker-1", 1, step=3, total=8, lease_seconds=LEASE)
    assert (store.get(claimed.id).progress_step, store.get(claimed.id).progress_total) == (3, 8)

    done = store.complete(claimed.id, "worker-1", 1, [an_image(1), an_image(0)])

    assert done.state is TaskState.COMPLETED
    assert done.finished_at is not None
    assert [image.index for image in done.images] == [0, 1]
    assert done.images[0].key == "2025/11/25/img-0.png"
    assert done.images[0].seed == 1234
    assert done.progress_step == done.progress_total == 8
    with pytest.raises(LeaseLost):
        store.fail(claimed.id, "worker-1", 1, "late", "too late")
    assert store.request_cancel(claimed.id) == done
    assert store.requeue_expired(later(3600)) == []
    assert store.get(claimed.id) == done


def test_failed_task_records_the_error(store: TaskStore) -> None:
    store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None

    failed = store.fail(claimed.id, "worker-1", 1, "out_of_memory", "the GPU ran out of memory")

    assert failed.state is TaskState.FAILED
    assert (failed.error_code, failed.error_message) == (
        "out_of_memory", "the GPU ran out of memory"
    )  # fmt: skip
    assert store.request_cancel(failed.id).state is TaskState.FAILED
    with pytest.raises(LeaseLost):
        store.complete(failed.id, "worker-1", 1, [an_image()])
    assert store.get(failed.id).images == []


def test_unclaimed_task_cannot_be_finished(store: TaskStore) -> None:
    task = store.create(a_task())

    with pytest.raises(LeaseLost):
        store.complete(task.id, "worker-1", 0, [an_image()])
    with pytest.raises(LeaseLost):
        store.heartbeat(task.id, "worker-1", 0, 1, 8, LEASE)
    with pytest.raises(TaskNotFound):
        store.fail("0" * 32, "worker-1", 1, "x", "y")
    assert store.get(task.id).state is TaskState.PENDING


def test_higher_priority_classes_are_claimed_first(store: TaskStore) -> None:
    low = store.create(a_task(priority=Priority.LOW))
    normal = store.create(a_task(priority=Priority.NORMAL))
    high = store.create(a_task(priority=Priority.HIGH))

    assert [task.id for task in claim_all(store)] == [high.id, normal.id, low.id]


def test_one_owners_batch_does_not_starve_another_owner(store: TaskStore) -> None:
    alices = [store.create(a_task(owner="alice")).id for _ in range(5)]
    bobs = store.create(a_task(owner="bob")).id

    order = [task.id for task in claim_all(store)]

    assert order == [alices[0], bobs, *alices[1:]]


def test_owners_take_turns_inside_a_priority_class(store: TaskStore) -> None:
    alices = [store.create(a_task(owner="alice")).id for _ in range(3)]
    bobs = [store.create(a_task(owner="bob")).id for _ in range(2)]
    urgent = store.create(a_task(owner="carol", priority=Priority.HIGH)).id

    order = [task.id for task in claim_all(store)]

    assert order == [urgent, alices[0], bobs[0], alices[1], bobs[1], alices[2]]


def test_owners_take_turns_when_each_task_finishes_before_the_next_claim(
    store: TaskStore,
) -> None:
    """One GPU: every task is done before the next claim, and turns must still alternate."""
    alices = [store.create(a_task(owner="alice")).id for _ in range(4)]
    bobs = [store.create(a_task(owner="bob")).id for _ in range(2)]

    order = []
    while (task := store.claim("worker-1", LEASE)) is not None:
        store.complete(task.id, "worker-1", task.attempts, [])
        order.append(task.id)

    assert order == [alices[0], bobs[0], alices[1], bobs[1], alices[2], alices[3]]


def test_queue_positions_agree_with_the_claim_order(store: TaskStore) -> None:
    for owner, priority in [("alice", Priority.NORMAL)] * 4 + [
        ("bob", Priority.LOW), ("bob", Priority.NORMAL), ("carol", Priority.HIGH),
        ("carol", Priority.NORMAL), ("bob", Priority.NORMAL),
    ]:  # fmt: skip
        store.create(a_task(owner=owner, priority=priority))
    store.claim("worker-1", LEASE)  # one of carol's is running: her next one waits its turn
    waiting, _ = store.list(states=[TaskState.PENDING])

    positions = store.queue_positions([task.id for task in waiting] + ["0" * 32])
    from_list = {task.id: task.queue_position for task in waiting}
    claimed = [task.id for task in claim_all(store)]

    assert sorted(positions.values()) == list(range(1, len(waiting) + 1))
    assert sorted(positions, key=positions.__getitem__) == claimed
    assert from_list == positions
    assert store.queue_positions(claimed) == {}
    assert store.queue_positions([]) == {}


def test_places_are_counted_so_far_and_no_further(
    store: TaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A place costs an index count up to it: past PLACES_COUNTED ahead, a task says only
    # that it waits, whatever the depth (here the limit is lowered to 3 to keep it small).
    monkeypatch.setattr(queue, "PLACES_COUNTED", 3)
    created = [store.create(a_task()) for _ in range(6)]

    places = store.queue_positions([task.id for task in created])

    assert places == {created[0].id: 1, created[1].id: 2, created[2].id: 3}
    assert created[3].queue_position is None and store.get(created[4].id).queue_position is None
    assert store.claim("worker-1", LEASE) is not None  # one fewer ahead: the fourth has a place
    assert store.get(created[3].id).queue_position == 3


def test_claim_can_be_limited_to_one_model(store: TaskStore) -> None:
    turbo = store.create(a_task())
    other = a_task(model="z-image-base")
    base = store.create(other)

    first = store.claim("worker-1", LEASE, model="z-image-base")

    assert first is not None
    assert first.id == base.id
    assert store.claim("worker-1", LEASE, model="z-image-base") is None
    claimed = store.claim("worker-2", LEASE, model="z-image-turbo")
    assert claimed is not None
    assert claimed.id == turbo.id


def test_a_worker_holding_several_models_claims_only_theirs_each_at_its_revision(
    store: TaskStore,
) -> None:
    a1 = store.revisions.add("tiny-a", "a", None, None, "settings", "settings")
    a2 = store.revisions.add("tiny-a", "a", "/w/a2", "a2", "reload", "k-admin")
    b1 = store.revisions.add("tiny-b", "b", None, None, "settings", "settings")
    for_a1 = store.create(a_task(model="tiny-a", model_revision=a1.id))
    for_a2 = store.create(a_task(model="tiny-a", model_revision=a2.id))
    for_b = store.create(a_task(model="tiny-b", model_revision=b1.id, batch_key="b"))
    store.create(a_task(model="tiny-c"))
    held = [Holding("tiny-a", a1.id), Holding("tiny-b", b1.id)]

    claimed = [store.claim_batch("w", LEASE, 1, holdings=held) for _ in range(4)]

    assert [[task.id for task in batch] for batch in claimed] == [[for_a1.id], [for_b.id], [], []]
    assert store.claim_batch("w", LEASE, 1, holdings=[]) == []
    assert [t.id for t in store.claim_batch("w", LEASE, 1, holdings=[Holding("tiny-a", a2.id)])
            ] == [for_a2.id]  # fmt: skip


def test_batch_mates_of_a_several_model_claim_are_of_the_first_tasks_model(
    store: TaskStore,
) -> None:
    first = store.create(a_task(model="tiny-a", batch_key="same"))
    store.create(a_task(model="tiny-b", batch_key="other"))
    mate = store.create(a_task(model="tiny-a", batch_key="same"))
    held = [Holding("tiny-a"), Holding("tiny-b")]

    batch = store.claim_batch("w", LEASE, 4, holdings=held)

    assert [task.id for task in batch] == [first.id, mate.id]


def test_heartbeat_renews_the_lease(store: TaskStore) -> None:
    store.create(a_task())
    claimed = store.claim("worker-1", 5)
    assert claimed is not None
    assert claimed.lease_expires_at is not None

    wanted = store.heartbeat(claimed.id, "worker-1", 1, 2, 8, lease_seconds=LEASE)
    renewed = store.get(claimed.id).lease_expires_at

    assert wanted is False
    assert renewed is not None
    assert renewed > claimed.lease_expires_at
    assert store.requeue_expired(later(20)) == []


def test_expired_lease_requeues_the_task(store: TaskStore) -> None:
    task = store.create(a_task())
    store.claim("worker-1", LEASE)

    assert store.requeue_expired(later(10)) == []
    assert store.requeue_expired(later(60)) == [task.id]

    requeued = store.get(task.id)
    assert requeued.state is TaskState.PENDING
    assert requeued.queue_position == 1
    assert (requeued.lease_owner, requeued.lease_expires_at, requeued.attempts) == (None, None, 1)
    again = store.claim("worker-2", LEASE)
    assert again is not None
    assert (again.id, again.attempts) == (task.id, 2)


def test_task_fails_as_worker_lost_after_its_last_attempt(store: TaskStore) -> None:
    task = store.create(a_task(max_attempts=2))
    for _ in range(2):
        assert store.claim("worker-1", LEASE) is not None
        assert store.requeue_expired(later(60)) == [task.id]

    lost = store.get(task.id)

    assert lost.state is TaskState.FAILED
    assert lost.error_code == "worker_lost"
    assert lost.error_message is not None
    assert "2 attempts" in lost.error_message
    assert lost.finished_at is not None
    assert store.claim("worker-1", LEASE) is None


def test_stale_attempt_cannot_renew_or_finish(store: TaskStore) -> None:
    task = store.create(a_task())
    store.claim("worker-1", LEASE)
    store.requeue_expired(later(60))
    current = store.claim("worker-2", LEASE)
    assert current is not None
    assert current.attempts == 2

    with pytest.raises(LeaseLost):
        store.heartbeat(task.id, "worker-1", 1, 5, 8, LEASE)
    with pytest.raises(LeaseLost):
        store.complete(task.id, "worker-1", 1, [an_image(0, "stale.png")])
    with pytest.raises(LeaseLost):
        store.complete(task.id, "worker-2", 1, [an_image(0, "stale.png")])
    done = store.complete(task.id, "worker-2", 2, [an_image(0, "fresh.png")])

    assert [image.key for image in done.images] == ["fresh.png"]
    with pytest.raises(LeaseLost):
        store.finish_canceled(task.id, "worker-1", 1)
    assert store.get(task.id) == done


def test_cancel_of_a_pending_task_is_immediate(store: TaskStore) -> None:
    task = store.create(a_task())

    canceled = store.request_cancel(task.id)

    assert canceled.state is TaskState.CANCELED
    assert canceled.finished_at is not None
    assert canceled.queue_position is None
    assert store.request_cancel(task.id) == canceled
    assert store.claim("worker-1", LEASE) is None
    with pytest.raises(TaskNotFound):
        store.request_cancel("0" * 32)


def test_cancel_of_a_processing_task_asks_the_worker(store: TaskStore) -> None:
    task = store.create(a_task())
    store.claim("worker-1", LEASE)

    asked = store.request_cancel(task.id)
    wanted = store.heartbeat(task.id, "worker-1", 1, 4, 8, LEASE)
    finished = store.finish_canceled(task.id, "worker-1", 1)

    assert asked.state is TaskState.PROCESSING
    assert asked.cancel_requested
    assert wanted is True
    assert finished.state is TaskState.CANCELED
    assert finished.finished_at is not None


def test_canceled_task_whose_worker_died_ends_canceled(store: TaskStore) -> None:
    task = store.create(a_task())
    store.claim("worker-1", LEASE)
    store.request_cancel(task.id)

    assert store.requeue_expired(later(60)) == [task.id]
    assert store.get(task.id).state is TaskState.CANCELED


def test_completed_tasks_are_not_requeued_or_claimed(store: TaskStore) -> None:
    done = run_to_completion(store, a_task())

    assert store.requeue_expired(later(3600)) == []
    assert store.claim("worker-1", LEASE) is None
    assert store.get(done.id).state is TaskState.COMPLETED


def test_a_batch_takes_the_next_task_and_compatible_ones_up_to_the_image_limit(
    store: TaskStore,
) -> None:
    first = store.create(a_task(owner="alice", batch_key="k512", image_count=2)).id
    other_size = store.create(a_task(owner="bob", batch_key="k768", image_count=1)).id
    mate = store.create(a_task(owner="carol", batch_key="k512", image_count=1)).id
    too_big = store.create(a_task(owner="dave", batch_key="k512", image_count=4)).id
    last_mate = store.create(a_task(owner="erin", batch_key="k512", image_count=1)).id

    batch = store.claim_batch("worker-1", LEASE, max_images=4)

    assert [task.id for task in batch] == [first, mate, last_mate]
    assert all(task.state is TaskState.PROCESSING for task in batch)
    assert all(task.lease_owner == "worker-1" and task.attempts == 1 for task in batch)
    # One batch: started together, under one lease (as the stored rows say too).
    stored = [store.get(task.id) for task in batch]
    assert len({(task.started_at, task.lease_expires_at) for task in [*batch, *stored]}) == 1
    waiting = {task.id for task in store.list(states=[TaskState.PENDING])[0]}
    assert waiting == {other_size, too_big}


def test_tasks_without_a_batch_key_or_a_limit_of_one_run_alone(store: TaskStore) -> None:
    store.create(a_task(batch_key=None))
    store.create(a_task(batch_key=None))
    assert len(store.claim_batch("worker-1", LEASE, max_images=8)) == 1
    store.create(a_task(batch_key="k"))
    store.create(a_task(batch_key="k"))
    assert len(store.claim_batch("worker-1", LEASE, max_images=1)) == 1


def test_a_lease_renewal_before_the_first_step_reports_no_progress(store: TaskStore) -> None:
    """Followers must see steps 1..n only: a beat at step 0 renews the lease, nothing more."""
    store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    store.heartbeat(claimed.id, "worker-1", 1, step=0, total=3, lease_seconds=LEASE)
    for step in (1, 2, 2, 3):
        store.heartbeat(claimed.id, "worker-1", 1, step=step, total=3, lease_seconds=LEASE)
    assert [event.step for event in store.progress_since(claimed.id)] == [1, 2, 3]


def test_a_stopping_worker_hands_its_task_back_uncounted(store: TaskStore) -> None:
    created = store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None and claimed.attempts == 1
    store.heartbeat(claimed.id, "worker-1", 1, step=2, total=8, lease_seconds=LEASE)

    back = store.release(claimed.id, "worker-1", 1)

    assert back.state is TaskState.PENDING
    assert (back.attempts, back.lease_owner, back.progress_step) == (0, None, 0)
    again = store.claim("worker-2", LEASE)
    assert again is not None and again.id == created.id and again.attempts == 1
    with pytest.raises(LeaseLost):
        store.release(claimed.id, "worker-1", 1)  # fenced: that attempt is over


def test_a_task_canceled_while_running_is_canceled_not_handed_back(store: TaskStore) -> None:
    store.create(a_task())
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    store.request_cancel(claimed.id)
    assert store.release(claimed.id, "worker-1", 1).state is TaskState.CANCELED


def test_tasks_queued_while_others_run_keep_turns_fair(store: TaskStore) -> None:
    """One GPU, work arriving over time: an owner whose task runs now waits behind a newcomer,
    and a newcomer's second task waits behind the others' next turn."""
    first = store.create(a_task(owner="alice")).id
    running = store.claim("worker-1", LEASE)
    assert running is not None and running.id == first
    alices_next = store.create(a_task(owner="alice")).id
    bobs = store.create(a_task(owner="bob")).id
    bobs_next = store.create(a_task(owner="bob")).id
    carols = store.create(a_task(owner="carol")).id
    store.complete(first, "worker-1", 1, [])

    waiting = store.queue_positions([alices_next, bobs, bobs_next, carols])
    order = [task.id for task in claim_all(store)]

    assert order == [bobs, carols, alices_next, bobs_next]
    assert sorted(waiting, key=waiting.__getitem__) == order
