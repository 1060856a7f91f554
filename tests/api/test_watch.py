"""The SSE watcher ticks when a notice names a followed task, not on a timer.

A real store (SQLite) with its real notifier; the fallback check is set to an hour, so any
snapshot that arrives was carried by a notice. Store reads are counted to show that notices
about tasks nobody follows cost no query, and that a burst of notices is read once or twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from huajia.api.watch import TaskWatcher
from huajia.jobs import TaskStore, open_store
from huajia.jobs.beats import Beat
from huajia.jobs.notify import TASK
from tests.jobs.helpers import LEASE, a_task

HOUR = 3600.0
WAIT = 10.0


async def _settled(reads: Any, quiet: float = 0.5) -> int:
    """The read count once no read has happened for `quiet` seconds (late notices heard)."""
    count = reads.reads
    while True:
        await asyncio.sleep(quiet)
        if reads.reads == count:
            return int(count)
        count = reads.reads


class CountingReads:
    """The store's progress log, with its `watch` calls counted."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self.reads = 0

    def watch(self, after: Mapping[str, int]) -> Any:
        self.reads += 1
        return self.store.watch(after)

    def progress_since(self, task_id: str, after_id: int = 0) -> Any:
        return self.store.progress_since(task_id, after_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TaskStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'huajia.db'}")
    yield opened
    opened.close()


async def _next(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), WAIT)


def test_a_followed_task_is_read_when_a_notice_names_it(store: TaskStore) -> None:
    async def scenario() -> None:
        reads = CountingReads(store)
        watcher = TaskWatcher(reads, store.notifier, fallback_seconds=HOUR)  # type: ignore[arg-type]
        stop = asyncio.Event()
        running = asyncio.create_task(watcher.run(stop))
        task = store.create(a_task())
        with watcher.follow(task.id) as snapshots:
            assert (await _next(snapshots)).task.state.value == "pending"  # at once, no wait
            claimed = store.claim("w", LEASE)
            assert claimed is not None
            assert (await _next(snapshots)).task.state.value == "processing"
            await asyncio.to_thread(
                store.heartbeat_many, [Beat(task.id, "w", claimed.attempts, (1,), 4)], LEASE
            )
            snapshot = await _next(snapshots)
            while not snapshot.steps:  # a claim's notices may still be arriving
                snapshot = await _next(snapshots)
            assert [event.step for event in snapshot.steps] == [1]

            before = await _settled(reads)  # our own claim's and beat's notices all heard
            for _ in range(3):  # notices about tasks nobody here follows
                store.notifier.notify(TASK, "someone-elses-task")
            await asyncio.sleep(0.5)
            assert reads.reads == before

            for _ in range(50):  # a burst about ours: coalesced into a read or two
                store.notifier.notify(TASK, task.id)
            await _next(snapshots)
            await asyncio.sleep(0.5)
            assert 1 <= reads.reads - before <= 5
        stop.set()
        await asyncio.wait_for(running, WAIT)

    asyncio.run(scenario())


def test_claims_elsewhere_re_read_a_waiting_tasks_place_once_per_interval(
    store: TaskStore,
) -> None:
    async def scenario() -> None:
        reads = CountingReads(store)
        watcher = TaskWatcher(reads, store.notifier, fallback_seconds=HOUR,  # type: ignore[arg-type]
                              places_seconds=HOUR)  # fmt: skip
        stop = asyncio.Event()
        running = asyncio.create_task(watcher.run(stop))
        queued = [store.create(a_task()) for _ in range(20)]
        last = queued[-1]
        with watcher.follow(last.id) as snapshots:
            assert (await _next(snapshots)).task.queue_position == 20
            before = await _settled(reads)

            assert store.claim("w", LEASE) is not None  # its place moves: read at once
            assert (await _next(snapshots)).task.queue_position == 19
            after_first = await _settled(reads)
            assert after_first - before == 1

            for _ in range(10):  # a burst of claims: its place is not read again this hour
                claimed = store.claim("w", LEASE)
                assert claimed is not None and claimed.id != last.id
            assert await _settled(reads) == after_first
            assert store.get(last.id).queue_position == 9  # it did move meanwhile
        stop.set()
        await asyncio.wait_for(running, WAIT)

    asyncio.run(scenario())
