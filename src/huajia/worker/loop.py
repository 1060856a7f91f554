"""The worker's loop: claim a task → run the engine → store the images → report.

Only the attempt that holds a task's lease may finish it: every write below is fenced by
(task id, worker id, attempt), and a worker that lost its lease drops what it made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from huajia.engine.edit_types import EditItem
from huajia.engine.types import BatchItem, GenerationResult, ResolvedRequest
from huajia.errors import GenerationCanceled, HuajiaError, LeaseLost, ModelLoadError, TaskNotFound
from huajia.images.labeler import Labeler
from huajia.jobs.model import Holding, NewImage, Task
from huajia.jobs.notify import ASKED, QUEUED, RESYNC, REVISION, Notice
from huajia.jobs.requests import AiEdit, result_origin
from huajia.jobs.revisions import ModelRevision
from huajia.jobs.rows import new_id
from huajia.jobs.store import TaskStore
from huajia.logs import about_task
from huajia.storage.base import BlobStore, held_key, new_image_key, thumbnail_key
from huajia.worker.edits import edit_job
from huajia.worker.finisher import Finisher
from huajia.worker.reporter import Lease, Reporter
from huajia.worker.revisions import ServedRevision
from huajia.worker.shelf import ModelShelf
from huajia.worker.uploads import BlobFile, Uploads

log = logging.getLogger(__name__)

# The notices a worker acts on: never a task's progress, the bulk of a fleet's notices.
WANTED = frozenset({ASKED, QUEUED, REVISION})

# What a client reads about a failure we did not foresee: the details (paths, bucket names,
# exception text) go to the worker's log, never into the task record.
GENERATION_FAILED = "generation failed unexpectedly; the operator finds the details in the log"
MODEL_LOAD_FAILED = (
    "model {model} could not be loaded on the worker; the operator finds the details in the log"
)
STORAGE_FAILED = (
    "the images were generated but could not be stored; the operator finds the details in the log"
)


class Engine(Protocol):
    """What the loop needs of an engine (ZImageEngine in production)."""

    def generate_batch(
        self, items: Sequence[BatchItem]
    ) -> list[GenerationResult | GenerationCanceled]: ...

    def edit_batch(
        self, items: Sequence[EditItem]
    ) -> list[GenerationResult | GenerationCanceled]: ...

    def check_prompts(self, request: ResolvedRequest) -> None: ...


@runtime_checkable
class LoraLoader(Protocol):
    """An engine that loads LoRAs registered while it runs (ZImageEngine)."""

    def use_lora(self, name: str, path: Path, identity: str) -> None: ...


Outcome = GenerationResult | Exception


class Worker:
    """Claims and runs tasks until told to stop."""

    def __init__(self, store: TaskStore, engine: Engine | None, blobs: BlobStore, worker_id: str,
                 lease_seconds: float, batch_max_images: int = 4, model: str | None = None,
                 poll_seconds: float = 2.0, requeue_seconds: float = 1.0,
                 labeler: Labeler | None = None, served: ServedRevision | None = None,
                 report_interval: float = 0.0, overlap_storing: bool = True,
                 shelf: ModelShelf | None = None,
                 preview_every_steps: int = 0) -> None:  # fmt: skip
        self.store = store
        self._engine = engine  # None only with a shelf (it holds the engines)
        self.served = served  # the model revision held, when revisions are followed
        self.shelf = shelf  # several models held: claims and engines go through it
        self.blobs = blobs
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.batch_max_images = batch_max_images
        self.model = model  # claim only tasks asked of the model this worker holds
        self.poll_seconds = poll_seconds  # idle: the queue is checked this often (fallback)
        self._woken = threading.Event()  # a task was queued for us (or the worker must stop)
        self._queued = threading.Event()  # a notice said so: claim without reading first
        self.requeue_seconds = requeue_seconds
        self.labeler = labeler or Labeler.ephemeral()
        self.preview_every_steps = preview_every_steps  # 0: no previews, whoever asks
        self._next_requeue = 0.0
        self._running: list[Lease] = []
        # Held models whose newer revision waits for the tasks pinned to the one held to end.
        self._switches: dict[str, tuple[ServedRevision, ModelRevision]] = {}
        self.reporter = Reporter(store, lease_seconds, report_interval)
        self.finisher = Finisher(overlap_storing)  # stores batch N while the GPU runs N+1
        self.uploads = Uploads(blobs)  # a task's files are stored together

    @property
    def engine(self) -> Engine:
        if self.shelf is not None:
            return self.shelf.engine_for(self.shelf.default.model)  # type: ignore[no-any-return]
        if self.served is not None and self.served.engine is not None:
            return self.served.engine  # type: ignore[no-any-return]
        if self._engine is None:
            raise ModelLoadError("this worker holds no engine")
        return self._engine

    def hand_back(self) -> None:
        """Stop the running batch at its next step and give its tasks back to the queue
        (a stop that cannot wait for the batch to finish)."""
        for lease in list(self._running):
            lease.handing_back = True
            lease.cancel.cancel()

    def wake(self) -> None:
        """Look at the queue (or the stop signal) now, not at the next fallback check."""
        self._woken.set()

    def run_forever(self, stop: threading.Event) -> None:
        """Claim and run until `stop`; once per worker (its finishing and upload threads
        close when it returns)."""
        unsubscribe = self.store.notifier.subscribe(self._on_notice, WANTED)
        try:
            while not stop.is_set():
                if not self._claim_and_run():
                    self.finisher.wait()  # nothing to overlap with: finish what was made
                    self._idle_wait(stop)
        finally:
            unsubscribe()
            self.finisher.close()
            self.uploads.close()

    def _idle_wait(self, stop: threading.Event) -> None:
        """Until a task is queued for this worker's model, `wake`, or the fallback time."""
        if not stop.is_set():
            self._woken.wait(self.poll_seconds)
        self._woken.clear()  # set again by a notice that comes while we look at the queue

    def _on_notice(self, notice: Notice) -> None:
        if notice.topic == ASKED:  # a cancel or a preview asked of a task: renew it now
            self.reporter.asked(notice.key)
            return
        held = self.shelf.names if self.shelf is not None else [self.model]
        for_me = self.model is None or notice.key == "" or notice.key in held
        if notice.topic == REVISION and for_me:
            for served in self._followed_revisions(notice.key):
                served.check_now()
        if notice.topic == QUEUED and for_me:
            self._queued.set()
        if notice.topic == RESYNC or (notice.topic in (QUEUED, REVISION) and for_me):
            self._woken.set()

    def _followed_revisions(self, model: str) -> list[ServedRevision]:
        if self.shelf is not None:
            names = self.shelf.names if model == "" else [model]
            return [self.shelf.served(name) for name in names if name in self.shelf.names]
        return [self.served] if self.served is not None else []

    def run_once(self) -> bool:
        """Claim and run one batch and store its images; False when idle."""
        busy = self._claim_and_run()
        self.finisher.wait()
        return busy

    def _claim_and_run(self) -> bool:
        """Re-queue dead workers' tasks now and then, claim and run a batch (its images are
        stored in the background); False when idle."""
        if time.monotonic() >= self._next_requeue:
            self.store.requeue_expired()
            self._next_requeue = time.monotonic() + self.requeue_seconds
        for served, target in self._newer():
            self._switches[served.model] = (served, target)
        # A read first, unless a notice said a task was queued for us: idle polling must not
        # take SQLite's write lock each time it looks.
        queued = self._queued.is_set()
        self._queued.clear()
        pending = queued or self.store.has_pending()
        switched = bool(self._switches)
        tasks = self._drain_or_switch(pending)
        tasks = tasks or (self._claim() if pending else [])
        if tasks:
            self._run_batch(tasks)
            return True
        return switched

    def _newer(self) -> list[tuple[ServedRevision, ModelRevision]]:
        if self.shelf is not None:
            return self.shelf.newer()
        target = self.served.newer() if self.served is not None else None
        return [(self.served, target)] if self.served is not None and target is not None else []

    def _drain_or_switch(self, pending: bool) -> list[Task]:
        """Models with a newer revision: a batch still pinned to the revision held, else move
        that model (only that one) to the newer revision. Per model, so that a reload of one
        is taken up while another model's work keeps the worker busy."""
        for model, (served, target) in list(self._switches.items()):
            held = [Holding(model, served.revision_id)]
            tasks = self._claim_holdings(held) if pending else []
            if tasks:
                return tasks
            del self._switches[model]
            served.switch(target)  # nothing of the revision held waits any more
        return []

    def _claim_holdings(self, holdings: list[Holding]) -> list[Task]:
        tasks = self.store.claim_batch(self.worker_id, self.lease_seconds,
                                       self.batch_max_images, holdings=holdings)  # fmt: skip
        if tasks and self.shelf is not None:
            self.shelf.claimed(tasks[0].request.model)
        return tasks

    def _claim(self) -> list[Task]:
        """The next batch: of the model held (any when none is named), or through the shelf
        (loaded models first, within its bound)."""
        if self.shelf is None:
            revision = self.served.revision_id if self.served is not None else None
            return self.store.claim_batch(self.worker_id, self.lease_seconds,
                                          self.batch_max_images, self.model, revision)  # fmt: skip
        for holdings in self.shelf.claim_order():
            tasks = self._claim_holdings(holdings)
            if tasks:
                return tasks
        return []

    def _engine_for(self, task: Task) -> Engine:
        """The engine of the task's model (loaded now, by the shelf's policy, if need be)."""
        if self.shelf is None:
            return self.engine
        try:
            return self.shelf.engine_for(task.request.model)  # type: ignore[no-any-return]
        except HuajiaError as error:
            log.error("model %s could not be loaded: %s", task.request.model, error.message)
        except Exception:
            log.exception("model %s could not be loaded", task.request.model)
        raise ModelLoadError(MODEL_LOAD_FAILED.format(model=task.request.model))

    def _run_batch(self, tasks: list[Task]) -> None:
        """Compatible tasks in one pipeline call; each finishes on its own (fenced) lease."""
        leases = [Lease(task, self.worker_id) for task in tasks]
        self.reporter.watch(leases)  # renewed from now until each task is finished
        started, engine_s = time.monotonic(), 0.0
        try:
            self._running = leases
            engine = self._engine_for(tasks[0])  # a batch's tasks share one model
            runnable = [lease for lease in leases if self._started(lease, engine)]
            for lease in runnable:
                lease.total = lease.task.request.sampled.steps
            with _about_batch([lease.task for lease in runnable]):
                began = time.perf_counter()
                outcomes = self._run(runnable, engine) if runnable else []
                engine_s = time.perf_counter() - began
        except ModelLoadError as error:  # every task of the batch fails with the reason
            runnable, outcomes = leases, [error] * len(leases)
        except BaseException:
            self.reporter.unwatch(leases)
            raise
        finally:
            self._running = []
        self.finisher.submit(
            lambda: self._finish_batch(leases, runnable, outcomes, started, engine_s)
        )

    def _finish_batch(self, leases: list[Lease], runnable: list[Lease], outcomes: list[Outcome],
                      started: float, engine_s: float) -> None:  # fmt: skip
        """Each task stored and finished on its own; a completed task's last steps go in its
        completion's transaction, any other's are written before its final write. Each task's
        line says how long its batch's engine call took (`engine_seconds`), and how long from
        its claim to its final write (`seconds`)."""
        try:
            for lease, outcome in zip(runnable, outcomes, strict=True):
                with _about(lease.task):
                    if not isinstance(outcome, GenerationResult):  # its steps go first
                        self.reporter.flush([lease])
                    try:
                        lease.settle(lambda: self._finish(lease, outcome))  # noqa: B023
                    except Exception:  # e.g. the database is away: the lease expires
                        log.exception("task %s: could not be finished", lease.task.id)
                        continue
                    took = time.monotonic() - started
                    log.info("task %s: %s after %.2f s", lease.task.id, _outcome(lease, outcome),
                             took, extra={"seconds": round(took, 4),
                                          "engine_seconds": round(engine_s, 4)})  # fmt: skip
        finally:
            self.reporter.unwatch(leases)

    def _started(self, lease: Lease, engine: Engine) -> bool:
        task = lease.task
        with _about(task):
            log.info("task %s: %s, attempt %d", task.id, task.request.operation.kind,
                     task.attempts)  # fmt: skip
            return self._checked(lease, engine)

    def _checked(self, lease: Lease, engine: Engine) -> bool:
        """Checks the API may not have made (it cannot always read the tokenizer)."""
        try:
            self._load_loras(lease.task, engine)
            engine.check_prompts(lease.task.request.sampled.to_engine())
        except HuajiaError as error:
            code, message = error.code, error.message
            lease.settle(lambda: self.store.fail(*lease.held, code, message))
            log.info("task %s: failed: %s", lease.task.id, code)
            return False
        return True

    def _load_loras(self, task: Task, engine: Engine) -> None:
        """The task's LoRAs as the registry has them now: new ones load, changed ones reload."""
        if not isinstance(engine, LoraLoader):
            return
        for lora in task.request.sampled.loras:
            record = self.store.loras.get(lora.name)
            if record is not None:
                engine.use_lora(record.name, Path(record.path), record.identity)

    def _run(self, leases: list[Lease], engine: Engine) -> list[Outcome]:
        """One engine call for the batch (its tasks share one operation kind)."""
        try:
            if leases[0].task.request.operation.kind == "text_to_image":
                every = self.preview_every_steps
                batch = [_batch_item(lease, every) for lease in leases]
                return list(engine.generate_batch(batch))
            items = [EditItem(edit_job(lease.task.request, self.blobs), lease.record, lease.cancel)
                     for lease in leases]  # fmt: skip
            return list(engine.edit_batch(items))
        except HuajiaError as error:  # canceled, out of memory...: the same for every task
            return [error] * len(leases)
        except Exception as error:  # the engine's unexpected failures fail tasks, not the worker
            log.exception("generation failed for tasks %s", [lease.task.id for lease in leases])
            return [error] * len(leases)

    def _finish(self, lease: Lease, outcome: Outcome) -> None:
        """The task's final write (its steps are written first: a finished task takes no more;
        a completion writes its last ones itself)."""
        task, held = lease.task, lease.held
        if isinstance(outcome, GenerationCanceled) and lease.handing_back:
            self.store.release(*held)
            log.info("task %s handed back to the queue", task.id)
        elif isinstance(outcome, GenerationCanceled):
            self.store.finish_canceled(*held)
        elif isinstance(outcome, HuajiaError):
            self.store.fail(*held, outcome.code, outcome.message)
        elif isinstance(outcome, Exception):  # logged with its traceback in _generate
            self.store.fail(*held, "generation_failed", GENERATION_FAILED)
        else:
            try:
                self._store_images(lease, outcome)
            except (LeaseLost, TaskNotFound):
                raise
            except Exception:  # a full disk or a bucket outage fails this task only
                log.exception("task %s: could not store its images", task.id)
                self.reporter.flush([lease])
                self.store.fail(*held, "storage_failed", STORAGE_FAILED)

    def _store_images(self, lease: Lease, result: GenerationResult) -> None:
        task = lease.task
        fmt = task.request.output_format
        written: list[str] = []
        records: list[NewImage] = []
        files: list[BlobFile] = []
        try:
            for image in result.images:
                record, labelled = self._label_image(task, result, image, fmt)
                records.append(record)
                files += labelled
            self.uploads.put_all(files, written)
            self.reporter.with_last_steps(lease, lambda steps, total: self.store.complete(
                task.id, self.worker_id, task.attempts, records, steps, total))  # fmt: skip
        except BaseException:
            for key in written:  # no orphan bytes from an attempt that did not complete
                self.blobs.delete(key)
            raise

    def _label_image(self, task: Task, result: GenerationResult, image: Any, fmt: str
                     ) -> tuple[NewImage, list[BlobFile]]:  # fmt: skip
        """The image's record and its files (labelled, with the thumbnail), not stored yet."""
        operation = task.request.operation
        origin = result_origin(operation)
        parameters = {**result.parameters_for(image), "task_id": task.id, "origin": origin}
        image_id = new_id()  # the file's label names the record it will have
        mark = task.request.mark
        labelled = self.labeler.label(image.image, fmt, parameters, image_id, mark)  # type: ignore[arg-type]
        encoded, thumb = labelled.file, labelled.thumbnail
        now = datetime.now(UTC)
        review = task.request.review  # held until a reviewer approves it
        key = new_image_key(task.id, image.index, encoded.extension, now)
        thumb_key = thumbnail_key(key)
        if review:
            key, thumb_key = held_key(key), held_key(thumb_key)
        files = [BlobFile(key, encoded.data, encoded.content_type),
                 BlobFile(thumb_key, thumb.data, thumb.content_type)]  # fmt: skip
        return NewImage(
            index=image.index, key=key, thumbnail_key=thumb_key, format=fmt,
            content_type=encoded.content_type, width=encoded.width, height=encoded.height,
            seed=image.seed, size_bytes=len(encoded.data), origin=origin,
            parent_id=operation.source.image_id if isinstance(operation, AiEdit) else None,
            review_state="pending_review" if review else "none",
            id=image_id,
        ), files  # fmt: skip


def _about(task: Task) -> AbstractContextManager[None]:
    """The worker's log lines inside name this task and the HTTP request that created it."""
    return about_task(task.id, task.request.request_id)


def _about_batch(tasks: list[Task]) -> AbstractContextManager[None]:
    """The engine's lines for a batch of one are about its task; for more, about several."""
    return _about(tasks[0]) if len(tasks) == 1 else nullcontext()


def _outcome(lease: Lease, outcome: Outcome) -> str:
    if lease.lost:
        return "result dropped (lease lost)"
    if isinstance(outcome, GenerationCanceled):
        return "handed back" if lease.handing_back else "canceled"
    if isinstance(outcome, HuajiaError):
        return f"failed: {outcome.code}"
    if isinstance(outcome, Exception):
        return "failed: generation_failed"
    return f"done, {len(outcome.images)} image(s)"


def _batch_item(lease: Lease, preview_every: int) -> BatchItem:
    request = lease.task.request.sampled.to_engine()
    previews = lease.preview_feed(preview_every)
    return BatchItem(request, on_progress=lease.record, cancel=lease.cancel, previews=previews)
