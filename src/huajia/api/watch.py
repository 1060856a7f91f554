"""One poller per API process for every SSE follower: a query per tick, however many watch.

Followers subscribe to a task and receive a snapshot each tick: the task as it is now and
the denoising steps reported since the previous tick (from the store's progress log, so
no step is skipped however fast the GPU is). For tasks a follower watches with previews,
the tick also reads the previews newer than the last ones read (a second query, made only
while someone asked).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool

from huajia.jobs.model import Task
from huajia.jobs.store import ProgressEvent, ProgressLog, TaskPreview

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
BACKLOG = 200  # snapshots a slow follower may fall behind before it misses some


@dataclass(frozen=True)
class Snapshot:
    task: Task
    steps: list[ProgressEvent]
    previews: list[TaskPreview] = field(default_factory=list)


class TaskWatcher:
    def __init__(self, store: ProgressLog, poll_seconds: float = POLL_SECONDS) -> None:
        self._store = store
        self._poll_seconds = poll_seconds
        self._followers: dict[str, set[asyncio.Queue[Snapshot | None]]] = {}
        self._after: dict[str, int] = {}
        self.closed = asyncio.Event()  # for streams that wait on it rather than on snapshots
        self._previewed: Counter[str] = Counter()  # followers asking for previews, per task
        self._preview_after: dict[str, tuple[int, int]] = {}  # (attempt, step) read last

    def close(self) -> None:
        """The server is stopping: every follower gets None (reconnect elsewhere), at once.

        Call it on the event loop's thread (`loop.call_soon_threadsafe(watcher.close)`).
        """
        self.closed.set()
        for followers in self._followers.values():
            for queue in followers:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    @contextlib.contextmanager
    def follow(
        self, task_id: str, previews: bool = False
    ) -> Iterator[asyncio.Queue[Snapshot | None]]:
        """A queue of snapshots of the task for as long as the `with` block lasts (None: the
        server is stopping); with `previews`, snapshots carry the task's new previews."""
        queue: asyncio.Queue[Snapshot | None] = asyncio.Queue(BACKLOG)
        self._followers.setdefault(task_id, set()).add(queue)
        self._after.setdefault(task_id, 0)
        if previews:  # a newcomer gets the newest previews too (followers skip repeats)
            self._previewed[task_id] += 1
            self._preview_after[task_id] = (0, 0)
        try:
            yield queue
        finally:
            if previews:
                self._previewed[task_id] -= 1
                if self._previewed[task_id] <= 0:
                    del self._previewed[task_id], self._preview_after[task_id]
            followers = self._followers[task_id]
            followers.discard(queue)
            if not followers:
                del self._followers[task_id]
                del self._after[task_id]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._followers:
                try:
                    await self.tick()
                except Exception:  # a database hiccup: followers wait for the next tick
                    log.exception("watching tasks failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_seconds)

    async def tick(self) -> None:
        tasks, steps = await run_in_threadpool(self._store.watch, dict(self._after))
        previews = await self._new_previews()
        for task in tasks:
            mine = steps.get(task.id, [])
            if task.id not in self._followers:
                continue  # everyone left while the query ran
            if mine:
                self._after[task.id] = mine[-1].id
            snapshot = Snapshot(task, mine, previews.get(task.id, []))
            for queue in self._followers[task.id]:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(snapshot)

    async def _new_previews(self) -> dict[str, list[TaskPreview]]:
        if not self._preview_after:
            return {}
        found = await run_in_threadpool(self._store.previews_after, dict(self._preview_after))
        for task_id, previews in found.items():
            if task_id in self._preview_after:  # not left while the query ran
                self._preview_after[task_id] = max((p.attempt, p.step) for p in previews)
        return found
