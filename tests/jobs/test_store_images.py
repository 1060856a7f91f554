"""Task store behaviour: image records, the result cache, favourites and the gallery (ImageRecords).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from huajia.errors import NotFound
from huajia.jobs import TaskStore
from huajia.jobs.model import TaskState
from tests.jobs.helpers import LEASE, a_task, an_image, claim_all, run_to_completion


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


def test_an_images_children_are_the_images_made_from_it(store: TaskStore) -> None:
    parent = run_to_completion(store, a_task(), images=1).images[0]
    first = replace(an_image(0), parent_id=parent.id, origin="variation")
    second = replace(an_image(1), parent_id=parent.id, origin="variation")
    edit = store.create_completed(a_task(), [first, second])
    store.create_completed(a_task(), [an_image(0)])  # unrelated

    children = store.image_children(parent.id)

    assert [item.image.id for item in children] == [image.id for image in edit.images]
    assert all(item.task.id == edit.id and item.image.parent_id == parent.id for item in children)
    assert store.image_children(edit.images[0].id) == []
