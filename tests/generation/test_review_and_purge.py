"""Review decisions and deletions on a real database (SQLite and PostgreSQL) and a real folder:
what a reviewer, an editor and an operator would check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huajia.auth.keys import Principal, Role
from huajia.errors import Forbidden, InvalidRequest, NotFound, TaskNotFound
from huajia.generation.purge import Purger
from huajia.generation.review import ReviewService, review_wanted
from huajia.jobs import TaskStore, open_store
from huajia.jobs.model import NewImage, Task
from huajia.storage.base import held_key, is_held, new_image_key, thumbnail_key
from huajia.storage.local import LocalBlobStore
from tests.jobs.helpers import LEASE, a_task

EDITOR = Principal(key_id="k-editor", name="editor", role=Role.EDITOR)
OTHER = Principal(key_id="k-other", name="someone else", role=Role.EDITOR)
ADMIN = Principal(key_id="k-admin", name="admin", role=Role.ADMIN)


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "images")


@pytest.fixture
def purger(store: TaskStore, blobs: LocalBlobStore) -> Purger:
    return Purger(store, blobs, retention_days=30)


@pytest.fixture
def review(store: TaskStore, blobs: LocalBlobStore, purger: Purger) -> ReviewService:
    return ReviewService(store, blobs, purger)


def finished(store: TaskStore, blobs: LocalBlobStore, owner: str = EDITOR.key_id,
             held: bool = False, images: int = 2, webhook: str | None = None) -> Task:  # fmt: skip
    """A task a worker ran, its bytes stored as the worker stores them."""
    created = store.create(a_task(owner=owner, webhook_url=webhook))
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None and claimed.id == created.id
    records = []
    for index in range(images):
        key = new_image_key(created.id, index, "png", datetime.now(UTC))
        thumb = thumbnail_key(key)
        if held:
            key, thumb = held_key(key), held_key(thumb)
        blobs.put(key, f"png {index}".encode(), "image/png")
        blobs.put(thumb, f"thumb {index}".encode(), "image/webp")
        records.append(
            NewImage(index=index, key=key, thumbnail_key=thumb, format="png",
                     content_type="image/png", width=64, height=64, seed=index, size_bytes=5,
                     review_state="pending_review" if held else "none")
        )  # fmt: skip
    return store.complete(created.id, "worker-1", claimed.attempts, records)


def files(blobs: LocalBlobStore) -> set[str]:
    return {str(path.relative_to(blobs.root)) for path in blobs.root.rglob("*") if path.is_file()}


def test_approving_moves_the_bytes_to_a_public_key_and_is_idempotent(
    store: TaskStore, blobs: LocalBlobStore, review: ReviewService
) -> None:
    task = finished(store, blobs, held=True)
    image = task.images[0]
    assert is_held(image.key)
    assert not image.publishable

    approved = review.decide(ADMIN, image.id, "approve", None)
    again = review.decide(ADMIN, image.id, "approve", "looks fine")

    record = store.get_image(image.id).image
    assert record.review_state == "approved"
    assert record.publishable
    assert not is_held(record.key)
    assert blobs.get(record.key) == b"png 0"
    assert not blobs.exists(image.key)  # the held copy is gone
    assert not blobs.exists(image.thumbnail_key or "")
    assert [i.id for i in approved] == [image.id]
    assert again[0].reviewed_at == record.reviewed_at  # the second approval changed nothing
    trail, total = store.audit_trail(action="image.approved")
    assert total == 1
    assert trail[0].actor == ADMIN.key_id


def test_a_rejection_needs_a_reason_and_keeps_the_bytes_held(
    store: TaskStore, blobs: LocalBlobStore, review: ReviewService
) -> None:
    task = finished(store, blobs, held=True)
    image = task.images[1]

    with pytest.raises(InvalidRequest, match="reason"):
        review.decide(ADMIN, image.id, "reject", "  ")
    with pytest.raises(InvalidRequest, match="unknown decision"):
        review.decide(ADMIN, image.id, "maybe", "hmm")
    review.decide(ADMIN, image.id, "reject", "off-brand colours")

    record = store.get_image(image.id).image
    assert (record.review_state, record.review_reason) == ("rejected", "off-brand colours")
    assert is_held(record.key)
    assert blobs.exists(record.key)
    assert store.get_image(task.images[0].id).image.review_state == "pending_review"


def test_rejecting_an_approved_image_takes_it_off_the_public_key(
    store: TaskStore, blobs: LocalBlobStore, review: ReviewService
) -> None:
    image = finished(store, blobs, held=True).images[0]
    review.decide(ADMIN, image.id, "approve", None)
    public = store.get_image(image.id).image.key

    review.decide(ADMIN, image.id, "reject", "legal asked us to withdraw it")

    record = store.get_image(image.id).image
    assert is_held(record.key)
    assert not blobs.exists(public)
    assert blobs.get(record.key) == b"png 0"


def test_editors_cannot_review(store: TaskStore, blobs: LocalBlobStore,
                               review: ReviewService) -> None:  # fmt: skip
    image = finished(store, blobs, held=True).images[0]
    reviewer = Principal(key_id="k-rev", name="reviewer", role=Role("reviewer"))

    with pytest.raises(Forbidden):
        review.decide(EDITOR, image.id, "approve", None)
    review.decide(reviewer, image.id, "approve", None)  # the reviewer role may

    assert store.get_image(image.id).image.review_state == "approved"


def test_the_queue_lists_waiting_images_oldest_or_newest_first(
    store: TaskStore, blobs: LocalBlobStore, review: ReviewService
) -> None:
    first = finished(store, blobs, held=True, images=1).images[0]
    second = finished(store, blobs, held=True, images=1).images[0]
    finished(store, blobs, held=False, images=1)

    oldest = review.queue(ADMIN, "pending_review", "oldest", 10, 0)
    newest = review.queue(ADMIN, "pending_review", "newest", 10, 0)

    assert [item.image.id for item in oldest.items] == [first.id, second.id]
    assert [item.image.id for item in newest.items] == [second.id, first.id]
    assert oldest.total == 2
    with pytest.raises(Forbidden):
        review.queue(EDITOR, "pending_review", "oldest", 10, 0)


def test_a_decision_queues_a_webhook_for_a_task_that_asked_for_one(
    store: TaskStore, blobs: LocalBlobStore, review: ReviewService
) -> None:
    image = finished(store, blobs, held=True, webhook="https://cms.example/hook").images[0]

    review.decide(ADMIN, image.id, "approve", None)
    due = store.outbox.claim_due(30, 8)

    assert [(event.event, event.task_id) for event in due] == [("image.approved", image.task_id)]
    assert due[0].payload["image"]["id"] == image.id
    assert due[0].payload["image"]["url"].startswith("/generated-images/")
    store.outbox.record(due[0].id, None, None)
    assert store.outbox.claim_due(0, 8) == []


def test_deleting_a_task_removes_rows_bytes_and_thumbnails(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    kept = finished(store, blobs)
    gone = finished(store, blobs)

    purger.delete_task(EDITOR, gone.id)

    with pytest.raises(TaskNotFound):
        store.get(gone.id)
    with pytest.raises(NotFound):
        store.get_image(gone.images[0].id)
    expected = {i.key for i in kept.images} | {i.thumbnail_key for i in kept.images}
    assert files(blobs) == expected
    with pytest.raises(TaskNotFound):
        purger.delete_task(EDITOR, gone.id)  # deleting twice: 404, nothing else changes
    assert store.deletions.due() == []


def test_nobody_deletes_another_owners_task(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    task = finished(store, blobs)

    with pytest.raises(Forbidden):
        purger.delete_task(OTHER, task.id)
    with pytest.raises(NotFound):  # as when reading it: another editor's image does not exist
        purger.delete_image(OTHER, task.images[0].id)

    assert store.get(task.id).images == task.images
    assert len(files(blobs)) == 4
    purger.delete_task(ADMIN, task.id)  # an admin may
    assert files(blobs) == set()


def test_deleting_a_running_task_cancels_it_and_the_worker_result_is_dropped(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    created = store.create(a_task(owner=EDITOR.key_id))
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None

    purger.delete_task(EDITOR, created.id)

    with pytest.raises(TaskNotFound):
        store.heartbeat(created.id, "worker-1", claimed.attempts, 1, 8, LEASE)
    with pytest.raises(TaskNotFound):
        store.get(created.id)


def test_deleting_one_image_keeps_the_rest_and_ends_cache_hits(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    created = store.create(a_task(owner=EDITOR.key_id, cache_key="c" * 64))
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None
    blobs.put(new := new_image_key(created.id, 0, "png", datetime.now(UTC)), b"x", "image/png")
    record = NewImage(index=0, key=new, thumbnail_key=None, format="png",
                      content_type="image/png", width=8, height=8, seed=1,
                      size_bytes=1)  # fmt: skip
    task = store.complete(created.id, "worker-1", claimed.attempts, [record])
    assert store.find_cached("c" * 64) is not None

    purger.delete_image(EDITOR, task.images[0].id)

    assert store.get(task.id).images == []
    assert store.find_cached("c" * 64) is None
    assert not blobs.exists(new)


def test_bytes_shared_with_a_cache_copy_stay_until_the_last_record_goes(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    original = finished(store, blobs, images=1)
    copy = store.create_completed(a_task(owner=EDITOR.key_id), [
        NewImage(index=0, key=original.images[0].key,
                 thumbnail_key=original.images[0].thumbnail_key, format="png",
                 content_type="image/png", width=64, height=64, seed=0, size_bytes=5)
    ])  # fmt: skip

    purger.delete_task(EDITOR, original.id)
    assert blobs.exists(original.images[0].key)

    purger.delete_task(EDITOR, copy.id)
    assert files(blobs) == set()


def test_retention_deletes_only_tasks_finished_before_the_cutoff(
    store: TaskStore, blobs: LocalBlobStore
) -> None:
    old = finished(store, blobs, images=1)
    fresh = finished(store, blobs, images=1)
    assert old.finished_at is not None and fresh.finished_at is not None
    # A day after the second finished: the first is past a one-day retention, it is not.
    day_later = fresh.finished_at + timedelta(days=1)
    later = Purger(store, blobs, retention_days=1, clock=lambda: day_later)

    report = later.expire()

    assert report.tasks == 1
    with pytest.raises(TaskNotFound):
        store.get(old.id)
    assert store.get(fresh.id).images
    assert files(blobs) == {fresh.images[0].key, fresh.images[0].thumbnail_key}


def test_purging_a_keys_data_deletes_all_of_its_tasks(
    store: TaskStore, blobs: LocalBlobStore, purger: Purger
) -> None:
    for _ in range(3):
        finished(store, blobs, owner=OTHER.key_id, images=1)
    mine = finished(store, blobs, images=1)

    report = purger.delete_owner(OTHER.key_id, ADMIN)

    assert (report.tasks, report.blobs) == (3, 6)
    assert [task.id for task in store.list()[0]] == [mine.id]


@pytest.mark.parametrize(
    ("policy", "preset", "setting", "wanted"),
    [
        (None, None, False, False),
        (None, None, True, True),
        (None, True, False, True),  # a preset that must be reviewed
        (False, True, True, False),  # a key the policy exempts
        (True, False, False, True),
    ],
)
def test_the_most_specific_review_flag_that_is_set_wins(
    policy: bool | None, preset: bool | None, setting: bool, wanted: bool
) -> None:
    assert review_wanted(policy, preset, setting) is wanted
