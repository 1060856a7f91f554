"""Task store behaviour: campaign batches (BatchStore) — rows, the tasks they became, what a
follower reads to see which rows changed, and the once-only `batch.completed`.

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from dataclasses import replace

from huajia.jobs import TaskStore
from huajia.jobs.batch_store import BatchLine, RowState
from huajia.jobs.model import TaskState
from tests.jobs.helpers import LEASE, a_task, an_image


def test_rows_keep_their_task_or_their_error_in_row_order(store: TaskStore) -> None:
    batch = store.batches.create("alice", "sale", ["column 'colour' ignored"], None)
    task = store.create(a_task(prompt="a kettle"))
    store.batches.add_lines(batch.id, [
        BatchLine(3, "a kettle", task.id, filename="kettle.png", alt="A kettle."),
        BatchLine(2, "", error="row 2: no prompt"),
    ])  # fmt: skip

    found = store.batches.get(batch.id)

    assert (found.name, found.owner) == ("sale", "alice")
    assert found.warnings == ["column 'colour' ignored"]
    assert [(line.row, line.task_id, line.error) for line in found.lines] == [
        (2, None, "row 2: no prompt"), (3, task.id, None),
    ]  # fmt: skip
    assert found.lines[1].filename == "kettle.png" and found.lines[1].alt == "A kettle."


def test_row_states_follow_each_task_and_its_images_awaiting_review(store: TaskStore) -> None:
    batch = store.batches.create("alice", "sale", [], None)
    first, second = store.create(a_task(prompt="one")), store.create(a_task(prompt="two"))
    store.batches.add_lines(batch.id, [
        BatchLine(1, "one", first.id), BatchLine(2, "two", second.id),
        BatchLine(3, "", error="no prompt"),
    ])  # fmt: skip
    assert store.batches.row_states(batch.id) == {
        1: RowState(TaskState.PENDING, 0), 2: RowState(TaskState.PENDING, 0),
    }  # fmt: skip

    claimed = store.claim("w", LEASE)
    assert claimed is not None and claimed.id == first.id
    assert store.batches.row_states(batch.id)[1] == RowState(TaskState.PROCESSING, 0)
    held = [replace(an_image(i, f"held/{first.id}-{i}.png"), review_state="pending_review")
            for i in range(2)]  # fmt: skip
    store.complete(first.id, "w", claimed.attempts, held)
    store.request_cancel(second.id)

    assert store.batches.row_states(batch.id) == {
        1: RowState(TaskState.COMPLETED, 2), 2: RowState(TaskState.CANCELED, 0),
    }  # fmt: skip
    assert store.batches.row_states("no-such-batch") == {}


def test_a_finished_batch_is_announced_once(store: TaskStore) -> None:
    batch = store.batches.create("alice", "sale", [], "https://cms.example.com/hook")
    task = store.create(a_task())
    assert store.batches.finished_unannounced() == [], "its rows are not recorded yet"
    store.batches.add_lines(batch.id, [BatchLine(1, "one", task.id)])
    assert store.batches.finished_unannounced() == [], "a row still waits"

    store.request_cancel(task.id)

    assert store.batches.finished_unannounced() == [batch.id]
    assert store.batches.announce(batch.id, "batch.completed", {"batch": batch.id}) is True
    assert store.batches.announce(batch.id, "batch.completed", {"batch": batch.id}) is False
    assert store.batches.finished_unannounced() == []
