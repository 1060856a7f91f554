"""Task store behaviour, part 1: submitting, reading, idempotency, cache, gallery, API keys.

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from huajia.errors import InvalidRequest, NotFound, TaskNotFound
from huajia.jobs import TaskStore
from huajia.jobs.model import Role, TaskState
from tests.jobs.helpers import LEASE, a_task, an_image, claim_all, run_to_completion


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


def test_workers_report_their_presence(store: TaskStore) -> None:
    store.report_worker("gpu-0", "z-image-turbo", "loading", {})
    store.report_worker("gpu-1", "z-image-turbo", "ready", {"device": "cuda:1"})
    store.report_worker("gpu-0", "z-image-turbo", "ready", {"device": "cuda:0", "vram": 1})
    store.remove_worker("gpu-1")

    live = store.live_workers()

    assert [(w["worker_id"], w["state"], w["engine"]) for w in live] == [
        ("gpu-0", "ready", {"device": "cuda:0", "vram": 1})
    ]
    assert live[0]["seen_at"].tzinfo is not None


def test_cache_lookup_finds_the_newest_completed_task_with_its_images(store: TaskStore) -> None:
    assert store.find_cached("same-seed") is None
    run_to_completion(store, a_task(cache_key="same-seed"), images=2)
    newer = run_to_completion(store, a_task(cache_key="same-seed"), images=2)
    failed = store.create(a_task(cache_key="same-seed"))
    held = store.claim("worker-1", LEASE)
    assert held is not None
    store.fail(failed.id, "worker-1", held.attempts, "out_of_memory", "too big")

    found = store.find_cached("same-seed")

    assert found is not None
    assert found.id == newer.id
    assert [image.key for image in found.images] == [f"{newer.id}/0.png", f"{newer.id}/1.png"]
    assert store.find_cached("other") is None


def test_cache_hit_task_is_born_completed_with_copied_image_records(store: TaskStore) -> None:
    original = run_to_completion(store, a_task(cache_key="k"), images=2)
    copies = [an_image(image.index, image.key) for image in original.images]

    hit = store.create_completed(a_task(owner="bob", cache_key="k"), copies)

    assert hit.state is TaskState.COMPLETED
    assert hit.id != original.id
    assert hit.owner == "bob"
    assert hit.attempts == 0
    assert hit.finished_at is not None
    assert [image.key for image in hit.images] == [image.key for image in original.images]
    assert {image.id for image in hit.images}.isdisjoint(image.id for image in original.images)
    assert all(image.task_id == hit.id for image in hit.images)
    assert store.pending_count() == 0
    assert claim_all(store) == []


def test_an_image_id_chosen_by_the_writer_is_kept(store: TaskStore) -> None:
    """The worker names the record in the file's label before the record exists."""
    chosen = replace(an_image(0), id="0f" * 16)
    task = store.create_completed(a_task(), [chosen, an_image(1)])
    assert task.images[0].id == "0f" * 16
    assert task.images[1].id not in {"", None, "0f" * 16}, "the store picks one otherwise"
    assert store.get_image("0f" * 16).task.id == task.id


def test_favourites_belong_to_the_owner(store: TaskStore) -> None:
    task = run_to_completion(store, a_task(owner="alice"))
    image = task.images[0]

    marked = store.set_favourite(image.id, "alice", True)
    with pytest.raises(NotFound):
        store.set_favourite(image.id, "bob", True)
    with pytest.raises(NotFound):
        store.set_favourite("f" * 32, None, True)

    assert marked.favourite
    assert marked.id == image.id
    assert store.get(task.id).images[0].favourite
    assert not store.set_favourite(image.id, None, False).favourite


def test_gallery_search_by_prompt_preset_owner_and_favourite(store: TaskStore) -> None:
    kite = run_to_completion(store, a_task(owner="alice", prompt="A Red Kite", preset="poster"))
    boat = run_to_completion(store, a_task(owner="alice", prompt="a boat at 100% zoom"))
    bobs = run_to_completion(store, a_task(owner="bob", prompt="red kite, night", preset="poster"))
    store.set_favourite(boat.images[0].id, "alice", True)

    def found(**filters: object) -> list[str]:
        items, total = store.search_images(**filters)  # type: ignore[arg-type]
        assert total == len(items)
        return [item.task.id for item in items]

    assert found() == [bobs.id, boat.id, kite.id]
    assert found(text="red KITE") == [bobs.id, kite.id]
    assert found(text="red kite", owner="alice") == [kite.id]
    assert found(preset="poster") == [bobs.id, kite.id]
    assert found(favourites_only=True) == [boat.id]
    assert found(text="100%") == [boat.id]
    assert found(text="1_0") == []
    items, total = store.search_images(limit=1, offset=1)
    assert total == 3
    assert [item.image.id for item in items] == [boat.images[0].id]
    assert items[0].task.request.prompt == "a boat at 100% zoom"


def test_api_keys_are_stored_by_hash_and_revocable(store: TaskStore) -> None:
    keys = store.keys
    editor = keys.create("CMS newsroom", Role.EDITOR, key_hash="h-editor", prefix="hj_ab12")
    admin = keys.create("ops", Role.ADMIN, key_hash="h-admin", prefix="hj_cd34")

    assert keys.find_by_hash("h-editor") == editor
    assert editor.role is Role.EDITOR
    assert editor.active
    assert editor.last_used_at is None
    assert keys.find_by_hash("unknown") is None
    assert [key.id for key in keys.list()] == [editor.id, admin.id]

    used_at = datetime(2025, 11, 25, 9, 30, tzinfo=UTC)
    keys.touch(editor.id, used_at)
    revoked = keys.revoke(editor.id)

    assert revoked.revoked_at is not None
    assert not revoked.active
    assert revoked.last_used_at == used_at
    assert keys.revoke(editor.id).revoked_at == revoked.revoked_at
    assert keys.find_by_hash("h-editor") is None
    assert keys.find_by_hash("h-editor", include_revoked=True) == revoked
    assert [key.id for key in keys.list()] == [admin.id]
    assert len(keys.list(include_revoked=True)) == 2
    with pytest.raises(NotFound):
        keys.revoke("0" * 32)
    with pytest.raises(InvalidRequest):
        keys.create("intern", "superuser", key_hash="h-3", prefix="hj_ef56")
