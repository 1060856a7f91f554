"""Deleting people's tasks and images for good, by request, by retention rule or with a key.

Rows go first, in one transaction that also owes their bytes a deletion; then the bytes are
deleted and each owed deletion is struck off. A purge killed at any moment leaves only owed
deletions behind, and the next purge (at start-up, on its schedule, or `huajia purge`)
finishes them: no orphan bytes, no rows pointing at missing bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from huajia.auth.keys import Principal
from huajia.auth.policy import can_view
from huajia.errors import Forbidden, NotFound, TaskNotFound
from huajia.jobs.model import is_record_id
from huajia.jobs.store import TaskStore
from huajia.storage.base import BlobStore

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class PurgeReport:
    tasks: int = 0
    blobs: int = 0


class Purger:
    def __init__(self, store: TaskStore, blobs: BlobStore, retention_days: float | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.store = store
        self.blobs = blobs
        self.retention_days = retention_days
        self._clock = clock or (lambda: datetime.now(UTC))

    def delete_task(self, who: Principal, task_id: str) -> None:
        """The owner's (or an admin's) task, its images and their bytes; a running task is
        canceled first (its worker drops the result)."""
        if not is_record_id(task_id):
            raise TaskNotFound(f"no task {task_id!r}")
        task = self.store.get(task_id)
        if not can_view(who, task.owner):
            raise Forbidden("this task belongs to another API key")
        if not task.state.terminal:
            self.store.request_cancel(task_id)
        self.store.purge.delete_task(task_id)
        detail = {"images": len(task.images), "was": task.state.value}
        self.store.audit(who.key_id, who.name, "task.delete", task_id, detail)
        self.purge_due()

    def delete_image(self, who: Principal, image_id: str) -> None:
        if not is_record_id(image_id):
            raise NotFound(f"no image {image_id!r}")
        item = self.store.get_image(image_id)
        if not can_view(who, item.task.owner):  # as on every read: others' images do not exist
            raise NotFound(f"no image {image_id}")
        self.store.purge.delete_image(image_id)
        self.store.audit(who.key_id, who.name, "image.delete", image_id, {"task": item.task.id})
        self.purge_due()

    def discard(self, task_ids: list[str]) -> None:
        """Tasks a refused request made on its way (its uploads), rows and bytes: nothing of
        a request that was not accepted stays stored."""
        for task_id in task_ids:
            try:
                self.store.purge.delete_task(task_id)
            except TaskNotFound:
                continue
        self.purge_due()

    def delete_owner(self, owner: str, actor: Principal, pause_s: float = 0.0) -> PurgeReport:
        """Every task of one key (its images and bytes): `huajia keys revoke --purge`."""
        removed = self._delete_all(lambda: self.store.purge.tasks_of(owner, BATCH), pause_s)
        self.store.audit(actor.key_id, actor.name, "key.purge", owner, {"tasks": removed})
        return PurgeReport(removed, self.purge_due(pause_s))

    def expire(self, pause_s: float = 0.0) -> PurgeReport:
        """Tasks finished more than `retention_days` ago, then every deletion owed."""
        removed = 0
        if self.retention_days is not None:
            cutoff = self._clock() - timedelta(days=self.retention_days)
            removed = self._delete_all(
                lambda: self.store.purge.finished_before(cutoff, BATCH), pause_s
            )
            if removed:
                log.info("retention: deleted %d tasks finished before %s", removed, cutoff)
        return PurgeReport(removed, self.purge_due(pause_s))

    def purge_due(self, pause_s: float = 0.0) -> int:
        """Delete every blob owed a deletion now; how many. Safe to run anywhere, any time."""
        deleted = 0
        while keys := self.store.deletions.due(BATCH):
            for key in keys:
                self.blobs.delete(key)
                self.store.deletions.done([key])
                deleted += 1
                if pause_s:
                    time.sleep(pause_s)
            if len(keys) < BATCH:
                break
        return deleted

    def _delete_all(self, next_ids: Callable[[], list[str]], pause_s: float) -> int:
        removed = 0
        while ids := next_ids():
            for task_id in ids:
                try:
                    self.store.purge.delete_task(task_id)
                except TaskNotFound:  # another purge got there first
                    continue
                removed += 1
                if pause_s:
                    time.sleep(pause_s)
        return removed
