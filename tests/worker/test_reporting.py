"""The reporter and the finishing stage, with the real tiny engine and a real SQLite store:
a database hiccup never fails a GPU batch, every step reaches the progress log, and the
images of one batch are stored while the next one generates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from huajia.engine.types import BatchItem, ResolvedRequest
from huajia.engine.zimage import ZImageEngine
from huajia.jobs import TaskStore
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import TaskState
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker
from huajia.worker.reporter import Lease, Reporter
from tests.worker.test_loop import LEASE, queue


class PausedAtFirstStep:
    """The real engine, pausing after step 1 until `until()` holds (the reporter has acted
    on it): what follows happens after the reporter's first try, whatever the machine's
    speed."""

    def __init__(self, engine: ZImageEngine, until: Callable[[], bool]) -> None:
        self.engine, self.until = engine, until

    def check_prompts(self, request: ResolvedRequest) -> None:
        self.engine.check_prompts(request)

    def generate_batch(self, items: Sequence[BatchItem]) -> list[Any]:
        return self.engine.generate_batch([replace(item, on_progress=self._paused(item))
                                           for item in items])  # fmt: skip

    def _paused(self, item: BatchItem) -> Any:
        def on_progress(step: int, total: int) -> None:
            assert item.on_progress is not None
            item.on_progress(step, total)
            if step == 1:
                _wait_for(self.until)

        return on_progress


def test_a_database_hiccup_during_the_batch_does_not_fail_it(
    store: TaskStore,
    tiny_engine: ZImageEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database refuses every renewal while the batch runs (a restart, a full pool):
    the steps wait in memory and reach the progress log with the completions, every one of
    them, in order."""
    refused: list[int] = []

    def down(beats: list[Beat], lease_seconds: float) -> dict[str, BeatAnswer]:
        refused.append(len(beats))
        raise OperationalError("UPDATE tasks", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "heartbeat_many", down)
    first, second = queue(store, tiny_engine, prompt="first"), queue(store, tiny_engine)
    engine = PausedAtFirstStep(tiny_engine, lambda: bool(refused))
    worker = Worker(store, engine, LocalBlobStore(tmp_path / "images"), "w", LEASE)  # type: ignore[arg-type]
    assert worker.run_once()
    assert refused and refused[0] == 2, "the store refused the batch's renewals"
    for task_id in (first, second):
        task = store.get(task_id)
        assert task.state is TaskState.COMPLETED and len(task.images) == 1
        assert [(e.step, e.total) for e in store.progress_since(task_id)] == [(1, 3), (2, 3),
                                                                             (3, 3)]  # fmt: skip


def test_steps_refused_right_before_the_finish_are_written_before_it(
    store: TaskStore, tiny_engine: ZImageEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last write before a task completes is refused twice: it is tried again, so the
    progress log still holds every step (a completed task takes no more)."""
    task_id = queue(store, tiny_engine)
    (task,) = store.claim_batch("w", LEASE, 4)
    lease = Lease(task, "w")
    for step in (1, 2, 3):
        lease.record(step, 3)
    real = store.heartbeat_many
    refused: list[int] = []

    def flaky(beats: list[Beat], lease_seconds: float) -> dict[str, BeatAnswer]:
        if len(refused) < 2:
            refused.append(len(beats))
            raise OperationalError("UPDATE tasks", {}, Exception("database is locked"))
        return real(beats, lease_seconds)

    monkeypatch.setattr(store, "heartbeat_many", flaky)
    assert Reporter(store, LEASE).flush([lease]) is True
    assert refused == [1, 1]
    assert [(e.step, e.total) for e in store.progress_since(task_id)] == [(1, 3), (2, 3), (3, 3)]


class WatchedEngine:
    """The real engine, telling when each batch starts."""

    def __init__(self, engine: ZImageEngine) -> None:
        self.engine = engine
        self.second_started = threading.Event()
        self.batches = 0

    def check_prompts(self, request: ResolvedRequest) -> None:
        self.engine.check_prompts(request)

    def generate_batch(self, items: Sequence[BatchItem]) -> list[Any]:
        self.batches += 1
        if self.batches == 2:
            self.second_started.set()
        return self.engine.generate_batch(items)


class SlowUpload(LocalBlobStore):
    """A real local store whose first upload lasts until the next batch has started."""

    def __init__(self, root: Path, engine: WatchedEngine) -> None:
        super().__init__(root)
        self.engine = engine
        self.overlapped: bool | None = None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.overlapped is None:
            self.overlapped = self.engine.second_started.wait(10)
        super().put(key, data, content_type)


def test_one_batch_is_stored_while_the_next_one_generates(
    store: TaskStore,
    tiny_engine: ZImageEngine,
    tmp_path: Path,
) -> None:
    engine = WatchedEngine(tiny_engine)
    disk = SlowUpload(tmp_path / "images", engine)
    first, second = queue(store, tiny_engine, prompt="first"), queue(store, tiny_engine)
    worker = Worker(store, engine, disk, "w", LEASE, batch_max_images=1)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run_forever, args=(stop,))
    runner.start()
    try:
        assert engine.second_started.wait(30), "the second batch started"
    finally:
        stop.set()
        runner.join(60)
    assert disk.overlapped is True, "the first batch's upload overlapped the second's steps"
    for task_id in (first, second):
        task = store.get(task_id)
        assert task.state is TaskState.COMPLETED, "a stopping worker finishes what it made"
        assert all(disk.get(image.key) for image in task.images), "completed after the bytes"


def test_a_first_step_is_written_at_once_and_later_ones_wait_for_the_interval(
    store: TaskStore,
) -> None:
    """With a long interval, a task's first step still goes at once, and so does a new task's
    right after; the steps in between wait and go with the next write, together, each its own
    progress entry; a flush before the finish sends the rest without waiting."""
    from tests.jobs.helpers import a_task

    writes: list[tuple[str, tuple[int, ...]]] = []
    real = store.heartbeat_many

    def counted(beats: list[Beat], lease_seconds: float) -> dict[str, BeatAnswer]:
        writes.extend((beat.task_id, beat.steps) for beat in beats if beat.steps)
        return real(beats, lease_seconds)

    store.heartbeat_many = counted  # type: ignore[method-assign]
    reporter = Reporter(store, LEASE, interval=60.0)
    first_id, second_id = store.create(a_task()).id, store.create(a_task(owner="bob")).id
    first = Lease(store.claim("w", LEASE), "w")  # type: ignore[arg-type]
    reporter.watch([first])
    first.record(1, 8)
    _wait_for(lambda: _steps(store, first_id) == [1])
    first.record(2, 8)
    first.record(3, 8)
    time.sleep(0.3)
    assert _steps(store, first_id) == [1], "steps 2 and 3 wait for the interval"
    second = Lease(store.claim("w", LEASE), "w")  # type: ignore[arg-type]
    reporter.watch([second])
    second.record(1, 8)
    _wait_for(lambda: _steps(store, second_id) == [1])
    assert _steps(store, first_id) == [1, 2, 3], "they went with the new task's first step"
    first.record(4, 8)
    assert reporter.flush([first])
    assert _steps(store, first_id) == [1, 2, 3, 4]
    assert [steps for task_id, steps in writes if task_id == first_id] == [(1,), (2, 3), (4,)]
    reporter.unwatch([first, second])


def test_a_tasks_first_preview_is_not_held_back_by_the_interval(store: TaskStore) -> None:
    from huajia.engine.types import PreviewFrame
    from tests.jobs.helpers import a_task

    reporter = Reporter(store, LEASE, interval=60.0)
    task = store.create(a_task())
    store.want_previews(task.id)
    lease = Lease(store.claim("w", LEASE), "w")  # type: ignore[arg-type]
    assert lease.previews.wanted
    reporter.watch([lease])
    lease.record(1, 8)
    _wait_for(lambda: _steps(store, task.id) == [1])
    lease.previews.put(PreviewFrame(0, 2, 8, 8, 8, bytes(8 * 8 * 3)))
    lease.record(2, 8)

    _wait_for(lambda: bool(store.previews_after({task.id: (0, 0)})))
    assert _steps(store, task.id) == [1, 2], "the step went with it"
    lease.previews.put(PreviewFrame(0, 4, 8, 8, 8, bytes(8 * 8 * 3)))
    lease.record(4, 8)
    time.sleep(0.3)
    assert _steps(store, task.id) == [1, 2], "later ones wait for the interval"
    reporter.unwatch([lease])


def test_a_cancel_asked_of_a_running_task_reaches_it_without_waiting_for_the_interval(
    store: TaskStore,
) -> None:
    """The store says ASKED when a running task is canceled; the worker hands that to its
    reporter, which renews the lease at once and so hears the cancel."""
    from huajia.jobs.notify import ASKED, Notice
    from tests.jobs.helpers import a_task

    heard: list[Notice] = []
    unsubscribe = store.notifier.subscribe(heard.append)
    reporter = Reporter(store, LEASE, interval=60.0)
    task = store.create(a_task())
    lease = Lease(store.claim("w", LEASE), "w")  # type: ignore[arg-type]
    reporter.watch([lease])
    lease.record(1, 8)
    _wait_for(lambda: _steps(store, task.id) == [1])
    try:
        store.request_cancel(task.id)
        _wait_for(lambda: Notice(ASKED, task.id) in heard)
        reporter.asked(task.id)  # what the worker does with that notice
        _wait_for(lambda: lease.cancel.canceled)
        assert store.get(task.id).state is TaskState.CANCELED
    finally:
        unsubscribe()
        reporter.unwatch([lease])


def _steps(store: TaskStore, task_id: str) -> list[int]:
    return [event.step for event in store.progress_since(task_id)]


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not written"
        time.sleep(0.01)


def test_a_completed_tasks_last_steps_go_with_its_completion(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path
) -> None:
    """Steps held back by the interval get no transaction of their own before the task
    completes: its completion records them, and the progress log has every step."""
    sent: list[tuple[int, ...]] = []
    real = store.heartbeat_many

    def counted(beats: list[Beat], lease_seconds: float) -> dict[str, BeatAnswer]:
        sent.extend(beat.steps for beat in beats if beat.steps)
        return real(beats, lease_seconds)

    store.heartbeat_many = counted  # type: ignore[method-assign]
    task_id = queue(store, tiny_engine)
    engine = PausedAtFirstStep(tiny_engine, lambda: bool(store.progress_since(task_id)))
    worker = Worker(store, engine, LocalBlobStore(tmp_path / "images"), "w", LEASE,  # type: ignore[arg-type]
                    report_interval=60.0)  # fmt: skip
    assert worker.run_once()
    task = store.get(task_id)
    assert task.state is TaskState.COMPLETED and (task.progress_step, task.progress_total) == (3, 3)
    assert [(e.step, e.total) for e in store.progress_since(task_id)] == [(1, 3), (2, 3), (3, 3)]
    assert sent == [(1,)], "only the first step had a write of its own"
