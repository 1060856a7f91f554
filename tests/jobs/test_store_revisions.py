"""Task store behaviour: model revisions and the tasks pinned to them (RevisionStore).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from huajia.errors import NotFound
from huajia.jobs import TaskStore, open_store
from tests.jobs.helpers import LEASE, a_task


def test_the_newest_revision_that_did_not_fail_is_current(store: TaskStore) -> None:
    assert store.revisions.current("z-image-turbo") is None
    first = store.revisions.add("z-image-turbo", "m1", None, None, "settings", "settings")
    second = store.revisions.add("z-image-turbo", "m1", "/w/b.safetensors", "b:1:2", "reload",
                                 "k-admin")  # fmt: skip
    store.revisions.add("other-model", "m9", None, None, "settings", "settings")

    assert store.revisions.current("z-image-turbo") == second
    assert store.revisions.newest("z-image-turbo", source="settings") == first
    assert [r.id for r in store.revisions.history("z-image-turbo")] == [second.id, first.id]
    assert second.identity == {"revision": second.id, "model_id": "m1", "weights": "b:1:2",
                               "failed": None}  # fmt: skip
    with pytest.raises(NotFound):
        store.revisions.get(10_000)


def test_a_worker_claims_only_tasks_of_the_revision_it_holds(store: TaskStore) -> None:
    old = store.revisions.add("z-image-turbo", "m1", None, None, "settings", "settings")
    new = store.revisions.add("z-image-turbo", "m1", "/w/b", "b", "reload", "k-admin")
    for_old = store.create(a_task(model_revision=old.id))
    for_new = store.create(a_task(model_revision=new.id))
    unpinned = store.create(a_task())

    on_old = [store.claim("w-old", LEASE, revision=old.id) for _ in range(3)]
    on_new = store.claim("w-new", LEASE, revision=new.id)

    assert {t.id for t in on_old if t} == {for_old.id, unpinned.id}
    assert on_new is not None and on_new.id == for_new.id


def test_a_revision_that_failed_hands_its_waiting_tasks_back(store: TaskStore) -> None:
    old = store.revisions.add("z-image-turbo", "m1", None, None, "settings", "settings")
    broken = store.revisions.add("z-image-turbo", "m1", "/w/x", "x", "reload", "k-admin")
    waiting = store.create(a_task(model_revision=broken.id))

    moved = store.revisions.failed(broken.id, "matches 0 of 40 keys", old.id)

    assert moved == [waiting.id]
    assert store.get(waiting.id).model_revision == old.id
    assert store.revisions.current("z-image-turbo") == old
    failed = store.revisions.get(broken.id)
    assert failed.failed_at is not None and failed.error == "matches 0 of 40 keys"
    claimed = store.claim("w-old", LEASE, revision=old.id)
    assert claimed is not None and claimed.id == waiting.id


def test_seeding_keeps_the_current_revision_until_the_settings_change(store: TaskStore) -> None:
    first = store.revisions.seed("z-image-turbo", "m1", None, None)
    assert store.revisions.seed("z-image-turbo", "m1", None, None) == first
    reloaded = store.revisions.add("z-image-turbo", "m1", "/w/b.safetensors", "b:1:2", "reload",
                                   "k-admin")  # fmt: skip
    assert store.revisions.seed("z-image-turbo", "m1", None, None) == reloaded, "a reload stays"

    changed = store.revisions.seed("z-image-turbo", "m1", "/w/c.safetensors", "c:1:2")
    assert (changed.source, changed.weights_id) == ("settings", "c:1:2")
    assert store.revisions.current("z-image-turbo") == changed


def test_processes_starting_together_seed_one_revision(store_url: str) -> None:
    """The API and its workers start at once and each seed the models they serve."""
    stores = [open_store(store_url) for _ in range(4)]
    together = threading.Barrier(len(stores))

    def seed(opened: TaskStore) -> int:
        together.wait()
        return opened.revisions.seed("z-image-turbo", "m1", None, None).id

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            seeded = set(pool.map(seed, stores))
        assert len(seeded) == 1, f"one revision for all, not {sorted(seeded)}"
        assert [r.id for r in stores[0].revisions.history("z-image-turbo")] == list(seeded)
    finally:
        for opened in stores:
            opened.close()
