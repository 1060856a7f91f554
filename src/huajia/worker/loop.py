"""The worker's loop: claim a task → run the engine → store the images → report.

Only the attempt that holds a task's lease may finish it: every write below is fenced by
(task id, worker id, attempt), and a worker that lost its lease drops what it made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from huajia.engine.types import CancelToken, GenerationResult, ResolvedRequest
from huajia.errors import GenerationCanceled, HuajiaError, LeaseLost
from huajia.generation.service import resolved_from_dict
from huajia.images.encode import encode_image, make_thumbnail
from huajia.jobs.model import NewImage, Task
from huajia.jobs.store import TaskStore
from huajia.storage.base import BlobStore, new_image_key, thumbnail_key

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What the loop needs of an engine (ZImageEngine in production)."""

    def generate(
        self,
        request: ResolvedRequest,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult: ...


@dataclass
class Lease:
    """One attempt's hold on a task; heartbeats renew it and carry progress and cancel."""

    store: TaskStore
    task: Task
    worker_id: str
    seconds: float
    cancel: CancelToken = field(default_factory=CancelToken)
    lost: bool = False
    step: int = 0
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self, step: int | None = None, total: int | None = None) -> None:
        with self._lock:
            self.step = self.step if step is None else step
            self.total = self.total if total is None else total
            try:
                wanted = self.store.heartbeat(
                    self.task.id, self.worker_id, self.task.attempts,
                    self.step, self.total, self.seconds,
                )  # fmt: skip
            except LeaseLost:
                self.lost = True
                wanted = True
        if wanted:
            self.cancel.cancel()


class Worker:
    """Claims and runs tasks until told to stop."""

    def __init__(self, store: TaskStore, engine: Engine, blobs: BlobStore, worker_id: str,
                 lease_seconds: float, poll_seconds: float = 0.05,
                 requeue_seconds: float = 1.0) -> None:  # fmt: skip
        self.store = store
        self.engine = engine
        self.blobs = blobs
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.requeue_seconds = requeue_seconds
        self._next_requeue = 0.0

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.run_once():
                stop.wait(self.poll_seconds)

    def run_once(self) -> bool:
        """Re-queue dead workers' tasks now and then, claim and run one; False when idle."""
        if time.monotonic() >= self._next_requeue:
            self.store.requeue_expired()
            self._next_requeue = time.monotonic() + self.requeue_seconds
        # A read first: idle polling must not take SQLite's write lock 20 times a second.
        if self.store.pending_count() == 0:
            return False
        task = self.store.claim(self.worker_id, self.lease_seconds)
        if task is None:
            return False
        self.run_task(task)
        return True

    def run_task(self, task: Task) -> None:
        lease = Lease(self.store, task, self.worker_id, self.lease_seconds)
        request = resolved_from_dict(task.request["resolved"])
        lease.total = request.steps
        stop_renewing = _keep_renewing(lease, self.lease_seconds / 3)
        try:
            self._generate_and_store(task, request, lease)
        except LeaseLost:
            log.warning("task %s: lease lost to another attempt; result dropped", task.id)
        finally:
            stop_renewing.set()

    def _generate_and_store(self, task: Task, request: ResolvedRequest, lease: Lease) -> None:
        try:
            result = self.engine.generate(request, on_progress=lease.beat, cancel=lease.cancel)
        except GenerationCanceled:
            if not lease.lost:
                self.store.finish_canceled(task.id, self.worker_id, task.attempts)
            return
        except HuajiaError as error:
            self.store.fail(task.id, self.worker_id, task.attempts, error.code, error.message)
            return
        except Exception as error:  # the engine's unexpected failures fail the task, not the worker
            log.exception("task %s failed", task.id)
            message = f"generation failed: {type(error).__name__}: {error}"
            self.store.fail(task.id, self.worker_id, task.attempts, "generation_failed", message)
            return
        if lease.lost:
            return
        self._store_images(task, result)

    def _store_images(self, task: Task, result: GenerationResult) -> None:
        fmt = str(task.request.get("output_format", "png"))
        written: list[str] = []
        records: list[NewImage] = []
        try:
            for image in result.images:
                record = self._put_image(task, result, image, fmt, written)
                records.append(record)
            self.store.complete(task.id, self.worker_id, task.attempts, records)
        except BaseException:
            for key in written:  # no orphan bytes from an attempt that did not complete
                self.blobs.delete(key)
            raise

    def _put_image(self, task: Task, result: GenerationResult, image: Any, fmt: str,
                   written: list[str]) -> NewImage:  # fmt: skip
        parameters = {**result.parameters_for(image), "task_id": task.id}
        encoded = encode_image(image.image, fmt, parameters)  # type: ignore[arg-type]
        now = datetime.now(UTC)
        key = new_image_key(task.id, image.index, encoded.extension, now)
        self.blobs.put(key, encoded.data, encoded.content_type)
        written.append(key)
        thumb = make_thumbnail(image.image)
        thumb_key = thumbnail_key(key)
        self.blobs.put(thumb_key, thumb.data, thumb.content_type)
        written.append(thumb_key)
        return NewImage(
            index=image.index, key=key, thumbnail_key=thumb_key, format=fmt,
            content_type=encoded.content_type, width=encoded.width, height=encoded.height,
            seed=image.seed, size_bytes=len(encoded.data),
        )  # fmt: skip


def _keep_renewing(lease: Lease, every: float) -> threading.Event:
    """Renew the lease between steps too (text encoding, VAE decode can outlast a step)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(every):
            lease.beat()

    threading.Thread(target=renew, name=f"lease-{lease.task.id[:8]}", daemon=True).start()
    return stop
