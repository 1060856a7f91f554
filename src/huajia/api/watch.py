"""One watcher per API process for every SSE follower: a query per tick, however many watch.

Followers subscribe to a task and receive a snapshot each tick: the task as it is now and
the denoising steps reported since the previous tick (from the store's progress log, so
no step is skipped however fast the GPU is). For tasks a follower watches with previews,
the tick also reads the previews newer than the last ones read (a second query, made only
while someone asked).

The watcher ticks when the store's notifier says a watched task changed (notices that come
while a tick runs are coalesced into the next), and every `fallback_seconds` for all
followers in case a notice was lost; there is no short timer.

Places in the queue move with every claim anywhere (a busy fleet claims hundreds of tasks a
second), and reading a place counts the index up to it: followed waiting tasks re-read their
places at most every `places_seconds` however many claims happen meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool

from huajia.jobs.model import Task, TaskState
from huajia.jobs.notify import MOVED, QUEUED, TASK, InProcessNotifier, Notice, Notifier
from huajia.jobs.store import ProgressEvent, ProgressLog, TaskPreview

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 2.0  # every follower is checked this often even when no notice comes
PLACES_SECONDS = 0.25  # queue places (moved by others' claims) are re-read at most this often
BACKLOG = 200  # snapshots a slow follower may fall behind before it misses some
WANTED = frozenset({TASK, MOVED, QUEUED})  # the notices a watcher acts on (and RESYNC)


@dataclass(frozen=True)
class Snapshot:
    task: Task
    steps: list[ProgressEvent]
    previews: list[TaskPreview] = field(default_factory=list)


class TaskWatcher:
    def __init__(self, store: ProgressLog, notifier: Notifier | None = None,
                 fallback_seconds: float = FALLBACK_SECONDS,
                 places_seconds: float = PLACES_SECONDS) -> None:  # fmt: skip
        self._store = store
        self._notifier = notifier or InProcessNotifier()
        self._fallback_seconds = fallback_seconds
        self._places_seconds = places_seconds
        self._places_at: float | None = None  # when places were last re-read for moves
        self._places_later: asyncio.TimerHandle | None = None  # a re-read already planned
        self._followers: dict[str, set[asyncio.Queue[Snapshot | None]]] = {}
        self._after: dict[str, int] = {}
        self._due: set[str] = set()  # followed tasks with news since the last tick
        self._pending: set[str] = set()  # followed tasks last seen waiting in the queue
        self._wake = asyncio.Event()
        self._previewed: Counter[str] = Counter()  # followers asking for previews, per task
        self._preview_after: dict[str, tuple[int, int]] = {}  # (attempt, step) read last
        self.closed = asyncio.Event()  # for streams that wait on it rather than on snapshots

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
        self._mark_due(task_id)  # what changed before it subscribed comes at once
        try:
            yield queue
        finally:
            followers = self._followers[task_id]
            followers.discard(queue)
            if previews:
                self._previewed[task_id] -= 1
                if self._previewed[task_id] <= 0:
                    del self._previewed[task_id], self._preview_after[task_id]
            if not followers:
                del self._followers[task_id]
                del self._after[task_id]
                self._pending.discard(task_id)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()

        def heard(notice: Notice) -> None:  # on the notifier's thread
            if self._concerns(notice):
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(self._on_notice, notice)

        self._wake = asyncio.Event()  # on this loop (an app may be run more than once)
        self.closed = asyncio.Event()
        if self._due:  # followed before the watcher started
            self._wake.set()
        unsubscribe = await run_in_threadpool(self._notifier.subscribe, heard, WANTED)
        stopping = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                due = await self._next_due()
                if due and not stop.is_set():
                    try:
                        await self.tick(due)
                    except Exception:  # a database hiccup: they are checked again next time
                        log.exception("watching tasks failed; trying again")
                        self._due |= due
        finally:
            unsubscribe()
            stopping.cancel()
            if self._places_later is not None:
                self._places_later.cancel()
                self._places_later = None

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _next_due(self) -> set[str]:
        """The followed tasks to read now: those with news, or all of them when the
        fallback time passed without any."""
        try:
            await asyncio.wait_for(self._wake.wait(), self._fallback_seconds)
        except TimeoutError:
            self._due = set(self._followers)
        self._wake.clear()
        due, self._due = self._due & set(self._followers), set()
        return due

    def _concerns(self, notice: Notice) -> bool:
        """Whether a notice may matter to this process's followers (on the notifier's thread:
        a busy fleet's API hears every task's every step, and most concern nobody here).
        A follower that arrives just after a notice it missed reads its task anyway."""
        if notice.topic == TASK:
            return notice.key in self._followers
        if notice.topic in (MOVED, QUEUED):
            return bool(self._pending)
        return True

    def _on_notice(self, notice: Notice) -> None:
        if notice.topic == TASK:
            self._mark_due(notice.key)
        elif notice.topic in (MOVED, QUEUED):  # places moved: those waiting show theirs
            self._places_moved()
        else:  # RESYNC: notices may have been lost; read everything
            for task_id in self._followers:
                self._mark_due(task_id)

    def _places_moved(self) -> None:
        """Re-read the waiting tasks' places now, or once their interval is over (a burst of
        claims costs one read per interval, not one per claim)."""
        if not self._pending or self._places_later is not None:
            return
        loop = asyncio.get_running_loop()
        since = None if self._places_at is None else loop.time() - self._places_at
        if since is None or since >= self._places_seconds:
            self._places_due()
        else:
            self._places_later = loop.call_later(self._places_seconds - since, self._places_due)

    def _places_due(self) -> None:
        self._places_later = None
        self._places_at = asyncio.get_running_loop().time()
        for task_id in self._pending:
            self._mark_due(task_id)

    def _mark_due(self, task_id: str) -> None:
        if task_id in self._followers:
            self._due.add(task_id)
            self._wake.set()

    async def tick(self, due: set[str] | None = None) -> None:
        """Read the tasks due (all followed ones by default) and hand each follower its
        snapshot."""
        ids = set(self._followers) if due is None else due
        after = {task_id: self._after[task_id] for task_id in ids if task_id in self._after}
        if not after:
            return
        tasks, steps = await run_in_threadpool(self._store.watch, after)
        previews = await self._new_previews(after.keys())
        for task in tasks:
            mine = steps.get(task.id, [])
            if task.id not in self._followers:
                continue  # everyone left while the query ran
            if task.state is TaskState.PENDING:
                self._pending.add(task.id)
            else:
                self._pending.discard(task.id)
            if mine:
                self._after[task.id] = mine[-1].id
            snapshot = Snapshot(task, mine, previews.get(task.id, []))
            for queue in self._followers[task.id]:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(snapshot)

    async def _new_previews(self, due: Collection[str]) -> dict[str, list[TaskPreview]]:
        after = {task_id: self._preview_after[task_id] for task_id in due
                 if task_id in self._preview_after}  # fmt: skip
        if not after:
            return {}
        found = await run_in_threadpool(self._store.previews_after, after)
        for task_id, previews in found.items():
            if task_id in self._preview_after:  # not left while the query ran
                self._preview_after[task_id] = max((p.attempt, p.step) for p in previews)
        return found
