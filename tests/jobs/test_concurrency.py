"""Many workers claiming at once: every task is claimed exactly once, on both backends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from huajia.jobs import TaskStore, open_store
from tests.jobs.helpers import LEASE, a_task

WORKERS = 8
TASKS = 200


@pytest.fixture
def opened(store_url: str) -> Iterator[list[TaskStore]]:
    """Stores the test opens on the same database (each its own engine), closed afterwards."""
    stores: list[TaskStore] = []
    yield stores
    for store in stores:
        store.close()


def run_together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(n)` in `count` threads released at the same moment; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(number: int) -> None:
        try:
            start.wait()
            work(number)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_claimers_never_share_a_task(store_url: str, opened: list[TaskStore]) -> None:
    opened.extend(open_store(store_url) for _ in range(WORKERS + 1))
    seed, workers = opened[0], opened[1:]
    created = {seed.create(a_task(owner=f"owner-{n % 7}")).id for n in range(TASKS)}
    claimed: list[list[str]] = [[] for _ in range(WORKERS)]

    def claim_until_empty(number: int) -> None:
        while (task := workers[number].claim(f"worker-{number}", LEASE)) is not None:
            claimed[number].append(task.id)

    errors = run_together(WORKERS, claim_until_empty)

    everything = [task_id for ids in claimed for task_id in ids]
    assert errors == []
    assert [task_id for task_id, n in Counter(everything).items() if n > 1] == []
    assert set(everything) == created
    assert seed.stats()["by_state"]["processing"] == TASKS


def test_processes_starting_together_migrate_once(store_url: str, opened: list[TaskStore]) -> None:
    errors = run_together(4, lambda _: opened.append(open_store(store_url)))

    assert errors == []
    assert len(opened) == 4
    task = opened[0].create(a_task())
    assert all(store.get(task.id).id == task.id for store in opened)


def test_concurrent_batch_claimers_never_share_a_task(store_url: str, opened: list[TaskStore]
                                                      ) -> None:  # fmt: skip
    opened.extend(open_store(store_url) for _ in range(5))
    for index in range(60):
        opened[0].create(a_task(owner=f"owner-{index % 7}", batch_key=f"k{index % 3}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(number: int) -> None:
        store = opened[number + 1]
        while batch := store.claim_batch(f"worker-{number}", LEASE, max_images=4):
            with lock:
                claimed.extend(task.id for task in batch)

    errors = run_together(4, claimer)
    assert errors == []
    assert len(claimed) == 60 and len(set(claimed)) == 60
