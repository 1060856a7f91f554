"""The task store's interface: the durable queue every API and worker process shares.

One implementation (`huajia.jobs.sqlstore.SqlTaskStore`) serves SQLite and PostgreSQL;
`huajia.jobs.open_store(url)` migrates the database and returns it.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from huajia.jobs.admission import Admission
from huajia.jobs.beats import Beat, BeatAnswer, PreviewImage
from huajia.jobs.lora_store import LoraStore
from huajia.jobs.model import (
    ApiKey,
    AuditEvent,
    AuditNote,
    GalleryItem,
    Holding,
    ImageRecord,
    NewImage,
    NewTask,
    Role,
    Task,
    TaskState,
)
from huajia.jobs.policy_store import PolicyStore
from huajia.jobs.preset_store import PresetStore

if TYPE_CHECKING:
    from huajia.jobs.batch_store import BatchStore
    from huajia.jobs.notify import Notifier
    from huajia.jobs.outbox import OutboxStore
    from huajia.jobs.prefs_store import PrefsStore
    from huajia.jobs.purge import PurgeStore
    from huajia.jobs.review import BlobDeletions, ReviewStore
    from huajia.jobs.revisions import RevisionStore


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One denoising step as a worker reported it; ids grow, so followers resume by id."""

    id: int
    step: int
    total: int


@dataclass(frozen=True, slots=True)
class TaskPreview(PreviewImage):
    """A stored preview (the newest of one image of a running task), with the attempt that
    made it: (attempt, step) orders them."""

    attempt: int


class ApiKeyStore(ABC):
    """API key records; hashing the secret is the caller's job."""

    @abstractmethod
    def create(self, name: str, role: Role | str, key_hash: str, prefix: str) -> ApiKey:
        """Record a new key (the hash must be unique)."""

    @abstractmethod
    def list(self, include_revoked: bool = False) -> builtins.list[ApiKey]:
        """Keys, oldest first."""

    @abstractmethod
    def find_by_hash(self, key_hash: str, include_revoked: bool = False) -> ApiKey | None:
        """The key with this hash; revoked keys only when asked for."""

    @abstractmethod
    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (revoking twice keeps the first time); NotFound if unknown."""

    @abstractmethod
    def touch(self, key_id: str, when: datetime | None = None) -> None:
        """Record that the key was just used."""

    @abstractmethod
    def ever_created(self) -> bool:
        """Whether any key was ever created here (revoked keys count)."""


class TaskQueue(ABC):
    """Tasks and the queue: submit and read, claim under a lease, finish (fenced by worker
    id and attempt), cancel, and requeue what dead workers left."""

    @abstractmethod
    def create(self, new: NewTask, limits: Admission | None = None,
               note: AuditNote | None = None) -> Task:  # fmt: skip
        """Queue a pending task; an (owner, idempotency key) seen before returns that task.

        `limits` are checked in the same transaction as the insert (QueueFull, QuotaExceeded),
        and `note` is written to the audit trail in it (not for a task seen before).
        """

    @abstractmethod
    def check_admission(self, owner: str, limits: Admission, wanted: int) -> None:
        """QueueFull or QuotaExceeded if a task of `wanted` images would not fit now: a look
        ahead before work that a refusal would waste (`create` checks again, atomically)."""

    @abstractmethod
    def create_completed(self, new: NewTask, images: list[NewImage],
                         note: AuditNote | None = None) -> Task:  # fmt: skip
        """A task born completed, with copies of cached image records (same blob keys)."""

    @abstractmethod
    def get(self, task_id: str) -> Task:
        """The task with its images and queue position; TaskNotFound if unknown."""

    @abstractmethod
    def find_by_idempotency_key(self, owner: str, idempotency_key: str) -> Task | None:
        """The owner's task created under this idempotency key, if any."""

    @abstractmethod
    def list(
        self,
        owner: str | None = None,
        states: Collection[TaskState] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[Task], int]:
        """A page of tasks, newest first, and the total matching the filters."""

    @abstractmethod
    def pending_count(self) -> int:
        """How many tasks wait in the queue."""

    def has_pending(self) -> bool:
        """Whether any task waits (cheaper than counting a deep queue)."""
        return self.pending_count() > 0

    @abstractmethod
    def images_requested_since(self, owner: str, since: datetime) -> int:
        """Images the owner asked for since then that cost GPU time (for quotas)."""

    @abstractmethod
    def queue_positions(self, task_ids: Collection[str]) -> dict[str, int]:
        """1-based places in the claim order for those ids still pending."""

    @abstractmethod
    def claim(self, worker_id: str, lease_seconds: float, model: str | None = None,
              revision: int | None = None) -> Task | None:  # fmt: skip
        """Atomically take the next pending task (priority, then fair between owners), of
        that model and revision when given."""

    @abstractmethod
    def claim_batch(
        self, worker_id: str, lease_seconds: float, max_images: int, model: str | None = None,
        revision: int | None = None, holdings: Sequence[Holding] | None = None,
    ) -> builtins.list[Task]:  # fmt: skip
        """The next task plus compatible ones (same batch key) up to max_images in all; with
        `holdings`, only tasks of those models at those revisions (`model` is then ignored)."""

    @abstractmethod
    def heartbeat(
        self, task_id: str, worker_id: str, attempt: int, step: int, total: int,
        lease_seconds: float,
    ) -> bool:  # fmt: skip
        """Renew the lease and record progress; True when cancel was requested."""

    @abstractmethod
    def heartbeat_many(
        self, beats: builtins.list[Beat], lease_seconds: float
    ) -> dict[str, BeatAnswer]:
        """Renew many held leases and append their new steps (step > 0, each once, in order)
        in one transaction; one answer per task id, LOST for an attempt no longer held."""

    @abstractmethod
    def complete(
        self, task_id: str, worker_id: str, attempt: int, images: builtins.list[NewImage],
        steps: Sequence[int] = (), total: int = 0,
    ) -> Task:  # fmt: skip
        """Finish the held attempt with its image records, and its last `steps` (of `total`)
        not written yet, in the same transaction; LeaseLost if not held."""

    @abstractmethod
    def fail(self, task_id: str, worker_id: str, attempt: int, code: str, message: str) -> Task:
        """Finish the held attempt as failed; LeaseLost if not held."""

    @abstractmethod
    def finish_canceled(self, task_id: str, worker_id: str, attempt: int) -> Task:
        """Finish the held attempt as canceled; LeaseLost if not held."""

    @abstractmethod
    def release(self, task_id: str, worker_id: str, attempt: int) -> Task:
        """Give a held task back to the queue now (a stopping worker), the attempt uncounted."""

    @abstractmethod
    def request_cancel(self, task_id: str) -> Task:
        """Cancel pending at once, ask the worker to stop a processing one; terminal unchanged."""

    @abstractmethod
    def requeue_expired(self, now: datetime | None = None) -> builtins.list[str]:
        """Tasks whose lease ran out: re-queued, or failed (worker_lost) after max attempts."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Figures for /metrics and health: `by_state` (and each state's count as its own key),
        `pending_depth`, `oldest_pending_seconds`, `errors_by_code`, `images_total` (generated,
        not cache copies) and `generation_seconds` (run-time histogram: count, sum,
        cumulative buckets)."""


class ProgressLog(ABC):
    """Denoising steps as workers report them, for event-stream followers."""

    @abstractmethod
    def watch(
        self, after: Mapping[str, int]
    ) -> tuple[builtins.list[Task], dict[str, builtins.list[ProgressEvent]]]:
        """For SSE followers, in one read: the tasks named, and their steps after the ids given."""

    @abstractmethod
    def progress_since(self, task_id: str, after_id: int = 0) -> builtins.list[ProgressEvent]:
        """Steps reported for the task after the event `after_id`, oldest first."""

    @abstractmethod
    def want_previews(self, task_id: str) -> bool:
        """A follower asks for live previews: the worker hears it at its next renewal. False
        when the task has finished (no previews will come)."""

    @abstractmethod
    def previews_after(
        self, after: Mapping[str, tuple[int, int]]
    ) -> dict[str, builtins.list[TaskPreview]]:
        """Per task named, its images' previews newer than the (attempt, step) given."""


class ImageRecords(ABC):
    """Image records: the result cache, single images, favourites and the gallery."""

    @abstractmethod
    def find_cached(self, cache_key: str) -> Task | None:
        """The newest completed task with this cache key, with its images."""

    @abstractmethod
    def get_image(self, image_id: str) -> GalleryItem:
        """One image record with the task that made it; NotFound if there is none."""

    @abstractmethod
    def image_children(self, image_id: str) -> builtins.list[GalleryItem]:
        """The images made from this one (its edits and variations), oldest first."""

    @abstractmethod
    def set_favourite(self, image_id: str, owner: str | None, value: bool) -> ImageRecord:
        """Mark an image (of this owner's task; None = any owner); NotFound otherwise."""

    @abstractmethod
    def search_images(
        self,
        owner: str | None = None,
        text: str | None = None,
        preset: str | None = None,
        favourites_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[GalleryItem], int]:
        """Images newest first, by prompt text and style preset, and the total matching."""


class AuditLog(ABC):
    """Who did what, append-only."""

    @abstractmethod
    def audit(self, actor: str, actor_name: str, action: str, target: str | None = None,
              detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Append to the audit trail."""

    @abstractmethod
    def audit_trail(self, actor: str | None = None, action: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[builtins.list[AuditEvent], int]:  # fmt: skip
        """Audit events, newest first, and how many match."""


class TaskWebhooks(ABC):
    """Which finished tasks still owe their caller a webhook."""

    @abstractmethod
    def claim_due_webhooks(
        self, hold_seconds: float, max_attempts: int, limit: int = 20
    ) -> builtins.list[Task]:
        """Finished tasks whose webhook is due, held `hold_seconds` for one sender."""

    @abstractmethod
    def record_webhook(self, task_id: str, error: str | None, retry_in_seconds: float | None
                       ) -> None:  # fmt: skip
        """Delivered (error None), or failed: retry after that many seconds, or never (None)."""


class WorkerRegistry(ABC):
    """Which workers are alive, and what they hold."""

    @abstractmethod
    def report_worker(self, worker_id: str, model: str, state: str, engine: dict[str, Any],
                      models: builtins.list[str] | None = None) -> None:  # fmt: skip
        """Record that a worker is alive, its state (loading, ready, busy), engine facts and
        every model it holds (`models`; default: only `model`)."""

    @abstractmethod
    def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that is shutting down."""

    @abstractmethod
    def live_workers(self) -> builtins.list[dict[str, Any]]:
        """Workers seen in the last few seconds: worker_id, model, models (all it holds), state,
        engine, seen_at."""


class TaskStore(TaskQueue, ProgressLog, ImageRecords, AuditLog, TaskWebhooks, WorkerRegistry):
    """The whole store: each focused interface above, plus the side stores kept in the same
    database. Callers that need one part depend on that part's interface."""

    notifier: Notifier  # announces task changes to every process sharing the store

    @property
    @abstractmethod
    def keys(self) -> ApiKeyStore:
        """The API key records kept in the same database."""

    @property
    @abstractmethod
    def review(self) -> ReviewStore:
        """Images' review states and decisions."""

    @property
    @abstractmethod
    def deletions(self) -> BlobDeletions:
        """Bytes owed a deletion."""

    @property
    @abstractmethod
    def purge(self) -> PurgeStore:
        """Removing tasks and images for good."""

    @property
    @abstractmethod
    def outbox(self) -> OutboxStore:
        """Webhook events other than a task's end (review decisions)."""

    @property
    @abstractmethod
    def policy(self) -> PolicyStore:
        """Policy rules (global and per key) and rate-limit windows, in the same database."""

    @property
    @abstractmethod
    def presets(self) -> PresetStore:
        """Versioned style presets kept in the same database."""

    @property
    @abstractmethod
    def prefs(self) -> PrefsStore:
        """What each key's panel remembers, and its prompt history."""

    @property
    @abstractmethod
    def batches(self) -> BatchStore:
        """Campaign batches: sheets of prompts and the tasks their rows became."""

    @property
    @abstractmethod
    def revisions(self) -> RevisionStore:
        """Which model files and weights new work is served with."""

    @property
    @abstractmethod
    def loras(self) -> LoraStore:
        """Registered LoRA files kept in the same database."""

    @abstractmethod
    def close(self) -> None:
        """Release the database connections."""
