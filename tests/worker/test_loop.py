"""The worker loop with the real tiny engine and a real SQLite store, on its failure paths."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from huajia.engine.checks import resolve_request
from huajia.engine.types import BatchItem, GenerationRequest, ResolvedRequest
from huajia.engine.zimage import ZImageEngine
from huajia.jobs import TaskStore
from huajia.jobs.model import NewTask, TaskState
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker

LEASE = 30.0


def queue(store: TaskStore, engine: ZImageEngine, prompt: str = "a kite", **fields: Any) -> str:
    request = GenerationRequest(prompt, seed=1, steps=3, width=64, height=64, **fields)
    resolved = resolve_request(engine.spec, request)
    request_ = TaskRequest(
        asked=GenerationCommand(prompt=prompt), model=engine.spec.name,
        sampling=Sampling.of(resolved),
    )  # fmt: skip
    new = NewTask(owner="local", request=request_, batch_key="same", image_count=resolved.n)
    return store.create(new).id


class BrokenDisk(LocalBlobStore):
    """A real local store whose disk fills up after `room` writes."""

    def __init__(self, root: Path, room: int) -> None:
        super().__init__(root)
        self.room = room

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.room <= 0:
            raise OSError(28, "No space left on device", str(self.root / key))
        self.room -= 1
        super().put(key, data, content_type)


def test_a_storage_failure_fails_that_task_and_the_worker_goes_on(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    disk = BrokenDisk(tmp_path / "images", room=0)
    worker = Worker(store, tiny_engine, disk, "worker-1", LEASE, batch_max_images=1)
    doomed = queue(store, tiny_engine)
    assert worker.run_once()
    failed = store.get(doomed)
    assert failed.state is TaskState.FAILED
    assert failed.error_code == "storage_failed"
    shown = failed.error_message or ""
    assert "could not be stored" in shown
    assert str(tmp_path) not in shown and "No space left" not in shown, "no server internals"
    assert "No space left" in caplog.text, "the operator's log has the reason"
    disk.room = 10
    fine = queue(store, tiny_engine, prompt="a second kite")
    assert worker.run_once()
    assert store.get(fine).state is TaskState.COMPLETED
    assert len(list((tmp_path / "images").rglob("*.png"))) == 1, "only the good task's image"


def test_an_over_long_prompt_fails_in_the_worker_instead_of_being_cut(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path
) -> None:
    worker = Worker(store, tiny_engine, LocalBlobStore(tmp_path / "images"), "w", LEASE)
    too_long = queue(store, tiny_engine, prompt="a" * 700)
    fine = queue(store, tiny_engine)
    assert worker.run_once()
    assert store.get(too_long).error_code == "prompt_too_long"
    assert store.get(fine).state is TaskState.COMPLETED, "its batch mate still ran"


class CancelMidway:
    """The real engine; at step 2 someone cancels the first task of the batch, and the step
    is held (as a slow GPU step would be) until the worker's reporter has read the cancel."""

    def __init__(self, engine: ZImageEngine, store: TaskStore, victim: str) -> None:
        self.engine, self.store, self.victim = engine, store, victim
        self.victim_state_before_step_3: TaskState | None = None
        self.victim_steps: list[int] = []

    def check_prompts(self, request: ResolvedRequest) -> None:
        self.engine.check_prompts(request)

    def generate_batch(self, items: Sequence[BatchItem]) -> list[Any]:
        first = items[0]
        report, cancel = first.on_progress, first.cancel

        def on_progress(step: int, total: int) -> None:
            assert report is not None and cancel is not None
            report(step, total)
            self.victim_steps.append(step)
            if step == 2:
                self.store.request_cancel(self.victim)
                deadline = time.monotonic() + 10
                while not cancel.canceled and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.victim_state_before_step_3 = self.store.get(self.victim).state

        watched = [BatchItem(first.request, on_progress, first.cancel), *items[1:]]
        return self.engine.generate_batch(watched)


def test_canceling_one_task_of_a_batch_ends_it_within_a_step(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path
) -> None:
    victim = queue(store, tiny_engine, prompt="first")
    mate = queue(store, tiny_engine, prompt="second")
    engine = CancelMidway(tiny_engine, store, victim)
    # A 3 s lease: with no step coming, the reporter still reads the cancel within 1 s.
    worker = Worker(store, engine, LocalBlobStore(tmp_path / "images"), "w", 3.0)
    assert worker.run_once()
    assert engine.victim_state_before_step_3 is TaskState.CANCELED
    assert engine.victim_steps == [1, 2], "the canceled task ran no further step"
    assert store.get(victim).state is TaskState.CANCELED
    assert store.get(victim).images == []
    done = store.get(mate)
    assert done.state is TaskState.COMPLETED and len(done.images) == 1


class StopMidway:
    """The real engine; at step 2 the worker is told to stop without waiting (drain over)."""

    def __init__(self, engine: ZImageEngine) -> None:
        self.engine = engine
        self.worker: Worker | None = None

    def check_prompts(self, request: ResolvedRequest) -> None:
        self.engine.check_prompts(request)

    def generate_batch(self, items: Sequence[BatchItem]) -> list[Any]:
        def stopping(report: Any) -> Any:
            def on_progress(step: int, total: int) -> None:
                report(step, total)
                if step == 2 and self.worker is not None:
                    self.worker.hand_back()

            return on_progress

        watched = [BatchItem(item.request, stopping(item.on_progress), item.cancel)
                   for item in items]  # fmt: skip
        return self.engine.generate_batch(watched)


def test_a_stopping_worker_hands_the_whole_batch_back_to_the_queue(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path
) -> None:
    first = queue(store, tiny_engine, prompt="first")
    second = queue(store, tiny_engine, prompt="second")
    engine = StopMidway(tiny_engine)
    worker = Worker(store, engine, LocalBlobStore(tmp_path / "images"), "w", LEASE)
    engine.worker = worker
    assert worker.run_once()
    for task_id in (first, second):
        task = store.get(task_id)
        assert (task.state, task.attempts, task.images) == (TaskState.PENDING, 0, [])
    assert not list((tmp_path / "images").rglob("*.png")), "nothing half-made was stored"


def test_a_task_queued_notice_is_claimed_without_a_read_first(
    store: TaskStore, tiny_engine: ZImageEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, the worker reads before it claims (no write lock per look); told by a notice
    that a task was queued for its model, it claims at once."""
    from huajia.jobs.notify import QUEUED, Notice

    reads: list[bool] = []
    real = store.has_pending

    def has_pending() -> bool:
        reads.append(True)
        return real()

    monkeypatch.setattr(store, "has_pending", has_pending)
    worker = Worker(store, tiny_engine, LocalBlobStore(tmp_path / "images"), "w", LEASE,
                    model=tiny_engine.spec.name)  # fmt: skip
    assert worker.run_once() is False and len(reads) == 1, "idle: one read, no claim"
    task_id = queue(store, tiny_engine)
    worker._on_notice(Notice(QUEUED, tiny_engine.spec.name))
    assert worker.run_once() is True and len(reads) == 1, "claimed without reading first"
    assert store.get(task_id).state is TaskState.COMPLETED
    worker._on_notice(Notice(QUEUED, "another-model"))
    assert worker.run_once() is False and len(reads) == 2, "not ours: read as usual"
