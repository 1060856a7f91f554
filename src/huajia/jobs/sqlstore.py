"""The task store on SQLAlchemy: one implementation for SQLite and PostgreSQL.

Every state change reads the task's row under a write lock (`BEGIN IMMEDIATE` on SQLite,
`FOR UPDATE` on PostgreSQL), checks the transition table, then writes; the worker's writes
are also fenced by (worker id, attempt), so a stale attempt can neither renew nor finish.
On PostgreSQL a worker's claim, renewal and final write make the same decisions in one
statement each (pg_leases.py): those run for every task, and a round trip saved there is
saved a thousand times a minute on a busy fleet.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from huajia.errors import LeaseLost, NotFound, TaskNotFound
from huajia.jobs import admission, audit, pg_leases, queue
from huajia.jobs.admission import Admission
from huajia.jobs.batch_store import BatchStore, SqlBatchStore
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.database import Pool, connect, migrate, transaction
from huajia.jobs.filters import gallery_filters, task_filters
from huajia.jobs.keys import SqlApiKeyStore
from huajia.jobs.leases import (
    CLAIMED,
    after_lost_lease,
    drop_previews,
    handed_back,
    held_row,
    locked_row,
    renew_all,
)
from huajia.jobs.lora_store import LoraStore, SqlLoraStore
from huajia.jobs.model import (
    AuditEvent,
    AuditNote,
    GalleryItem,
    Holding,
    ImageRecord,
    NewImage,
    NewTask,
    Task,
    TaskState,
    check_transition,
)
from huajia.jobs.notify import (
    ASKED,
    MOVED,
    QUEUED,
    TASK,
    Notice,
    Notifier,
    PostgresNotifier,
    notifier_for,
)
from huajia.jobs.outbox import OutboxStore, SqlOutboxStore
from huajia.jobs.policy_store import PolicyStore
from huajia.jobs.prefs_store import PrefsStore, SqlPrefsStore
from huajia.jobs.preset_store import PresetStore, SqlPresetStore
from huajia.jobs.purge import PurgeStore, SqlPurgeStore
from huajia.jobs.review import BlobDeletions, ReviewStore, SqlReviewStore
from huajia.jobs.revisions import RevisionStore, SqlRevisionStore
from huajia.jobs.rows import (
    group_images,
    image_from_row,
    image_values,
    task_from_row,
    task_from_values,
    task_values,
)
from huajia.jobs.side_records import SqlSideRecords
from huajia.jobs.sqlite_leases import SqliteWrites
from huajia.jobs.sqlpolicy import SqlPolicyStore
from huajia.jobs.stats import queue_stats
from huajia.jobs.store import ApiKeyStore, TaskStore
from huajia.jobs.tables import images, task_progress, tasks

PENDING, PROCESSING = TaskState.PENDING.value, TaskState.PROCESSING.value
COMPLETED = TaskState.COMPLETED.value
_NOTICES = "huajia_notices"  # a transaction's notices to send once it commits

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


# Progress rows only matter while someone may still be following the task; older ones are
# swept by a process at most this often (an idle worker looks at expired leases every few
# seconds, and needs no DELETE each time).
PROGRESS_KEPT = timedelta(hours=1)
PROGRESS_SWEPT_EVERY = timedelta(minutes=5)


# Pending → processing for the ids given, answering the rows as they now are.
_CLAIM = (
    update(tasks)
    .where(tasks.c.id.in_(bindparam("ids", expanding=True)))
    .values(CLAIMED)
    .returning(*tasks.c)
)


# A new task's row, as written (every column bound from the values given).
_INSERT_TASK = insert(tasks).returning(*tasks.c)
# A held task's final write (the columns set are those of the values given).
_FINISH = update(tasks).where(tasks.c.id == bindparam("finished_id")).returning(*tasks.c)
_INSERT_IMAGES = insert(images).returning(*images.c, sort_by_parameter_order=True)
# Read by every status read and every watcher tick.
_TASKS_BY_ID = select(tasks).where(tasks.c.id.in_(bindparam("ids", expanding=True)))
_IMAGES_OF = select(images).where(images.c.task_id.in_(bindparam("ids", expanding=True)))


class SqlTaskStore(SqlSideRecords, TaskStore):
    """Tasks, leases and image records in one SQL database (migrated by `open_store`)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now,
                 notifier: Notifier | None = None, single_statements: bool = True,
                 ) -> None:  # fmt: skip
        self.engine = engine
        self.clock = clock
        self._swept_at: datetime | None = None  # when old progress rows were last deleted
        self.notifier = notifier or notifier_for(engine.url.render_as_string(hide_password=False))
        # PostgreSQL sending its notices: a worker's claim, renewal and final write are one
        # statement each, alone in its transaction (see pg_leases.py).
        # (`single_statements=False`: the portable transactions there too, for comparison.)
        # SQLite: each is one short transaction run straight on the driver's connection
        # (sqlite_leases.py).
        self._direct: pg_leases.DirectWrites | SqliteWrites | None = None
        dialect = engine.dialect.name
        if single_statements and dialect == "postgresql":
            if isinstance(self.notifier, PostgresNotifier):
                self._direct = pg_leases.DirectWrites(engine)
        elif single_statements and dialect == "sqlite":
            self._direct = SqliteWrites(engine, self._send)
        self._keys = SqlApiKeyStore(engine, clock)
        self._review = SqlReviewStore(engine, clock)
        self._purge = SqlPurgeStore(engine, clock)
        self._outbox = SqlOutboxStore(engine, clock)
        self._policy = SqlPolicyStore(engine, clock, self._announce)
        self._presets = SqlPresetStore(engine, clock)
        self._revisions = SqlRevisionStore(engine, clock)
        self._batches = SqlBatchStore(engine, clock)
        self._prefs = SqlPrefsStore(engine, clock)
        self._loras = SqlLoraStore(engine, clock)

    @property
    def keys(self) -> ApiKeyStore:
        return self._keys

    @property
    def review(self) -> ReviewStore:
        return self._review

    @property
    def deletions(self) -> BlobDeletions:
        return self._review

    @property
    def purge(self) -> PurgeStore:
        return self._purge

    @property
    def outbox(self) -> OutboxStore:
        return self._outbox

    @property
    def policy(self) -> PolicyStore:
        return self._policy

    @property
    def presets(self) -> PresetStore:
        return self._presets

    @property
    def batches(self) -> BatchStore:
        return self._batches

    @property
    def prefs(self) -> PrefsStore:
        return self._prefs

    @property
    def revisions(self) -> RevisionStore:
        return self._revisions

    @property
    def loras(self) -> LoraStore:
        return self._loras

    def _read(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, write=False)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; the notices it told are sent once it commits."""
        with transaction(self.engine, write=True) as connection:
            try:
                yield connection
            finally:
                # (A connection found dead has no notices to send, nor info to read.)
                later: builtins.list[Notice] = (
                    [] if connection.invalidated else connection.info.pop(_NOTICES, [])
                )
        self._send(later)

    def _send(self, notices: builtins.list[Notice]) -> None:
        """Send the notices of a committed change."""
        if notices:
            try:
                self.notifier.send(notices)
            except Exception:  # the change is stored; followers catch up by their slow check
                log.warning("could not send %d notice(s)", len(notices), exc_info=True)

    def _announce(self, topic: str, key: str) -> None:
        """A committed change others keep a moment (policy rules): say so now."""
        try:
            self.notifier.announce(topic, key)
        except Exception:  # the change is stored; others notice within their keeping time
            log.warning("could not announce a %s change", topic, exc_info=True)

    def _tell(self, connection: Connection, *notices: Notice) -> None:
        """Announce what this transaction changes (sent with it, or right after it commits)."""
        later = self.notifier.within(connection, notices)
        if later:
            connection.info.setdefault(_NOTICES, []).extend(later)

    # Submitting and reading

    def create(self, new: NewTask, limits: Admission | None = None,
               note: AuditNote | None = None) -> Task:  # fmt: skip
        values = task_values(new, TaskState.PENDING, self.clock())
        return self._insert_once(new, values, [], limits, note)

    def check_admission(self, owner: str, limits: Admission, wanted: int) -> None:
        with self._read() as connection:
            admission.check(connection, limits, owner, wanted)

    def create_completed(self, new: NewTask, images: builtins.list[NewImage],
                         note: AuditNote | None = None) -> Task:  # fmt: skip
        values = task_values(new, TaskState.COMPLETED, self.clock())
        return self._insert_once(new, values, images, None, note)

    def _insert_once(
        self, new: NewTask, values: dict[str, Any], new_images: Sequence[NewImage],
        limits: Admission | None = None, note: AuditNote | None = None,
    ) -> Task:  # fmt: skip
        try:
            with self._write() as connection:
                if limits is not None:
                    admission.admit(connection, limits, new.owner, new.image_count)
                if note is not None:  # with the task or not at all: one commit for both
                    audit.append(connection, _audited(note, values))
                values |= queue.fair_key(connection, new.owner, new.priority)
                # As created (pending), not as a worker woken by the notice may already have
                # it by the time a second read ran; and no read at all.
                row = connection.execute(_INSERT_TASK, values).one()
                records = self._insert_images(
                    connection, values["id"], new_images, values["created_at"]
                )
                self._tell(connection, *_created(values))
                # Its place: counted no further than queue.PLACES_COUNTED, so cheap enough
                # to count while holding SQLite's write lock.
                place = None
                if row.state == PENDING:  # (a result from the cache is not waiting)
                    place = queue.place(connection, [getattr(row, c.name) for c in queue.ORDER])
        except IntegrityError:
            # Lost a race on (owner, idempotency key): the other request's task is the answer.
            existing = None
            if new.idempotency_key is not None:
                existing = self.find_by_idempotency_key(new.owner, new.idempotency_key)
            if existing is None:
                raise
            return existing
        return task_from_row(row, records, place)

    def get(self, task_id: str) -> Task:
        with self._read() as connection:
            return self._load_one(connection, task_id)

    def find_by_idempotency_key(self, owner: str, idempotency_key: str) -> Task | None:
        query = select(tasks).where(
            tasks.c.owner == owner, tasks.c.idempotency_key == idempotency_key
        )
        with self._read() as connection:
            found = self._load(connection, query)
        return found[0] if found else None

    def list(
        self,
        owner: str | None = None,
        states: Collection[TaskState] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[Task], int]:
        where = task_filters(owner, states, since, until)
        page = (
            select(tasks)
            .where(*where)
            .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._read() as connection:
            total = connection.execute(
                select(func.count()).select_from(tasks).where(*where)
            ).scalar_one()
            return self._load(connection, page), total

    def pending_count(self) -> int:
        with self._read() as connection:
            return admission.pending_count(connection)

    def has_pending(self) -> bool:
        with self._read() as connection:
            return queue.any_pending(connection)

    def images_requested_since(self, owner: str, since: datetime) -> int:
        with self._read() as connection:
            return admission.images_requested_since(connection, owner, since)

    def queue_positions(self, task_ids: Collection[str]) -> dict[str, int]:
        if not task_ids:
            return {}
        with self._read() as connection:
            return queue.positions(connection, task_ids)

    # The worker's side

    def claim(self, worker_id: str, lease_seconds: float, model: str | None = None,
              revision: int | None = None) -> Task | None:  # fmt: skip
        claimed = self.claim_batch(worker_id, lease_seconds, 1, model, revision)
        return claimed[0] if claimed else None

    def claim_batch(
        self, worker_id: str, lease_seconds: float, max_images: int, model: str | None = None,
        revision: int | None = None, holdings: Sequence[Holding] | None = None,
    ) -> builtins.list[Task]:  # fmt: skip
        if holdings is not None and not holdings:
            return []
        held = tuple(holdings) if holdings is not None else None
        if self._direct is not None:
            return self._claim_in_one(worker_id, lease_seconds, max_images, model, revision, held)
        now = self.clock()
        with self._write() as connection:
            first = connection.execute(queue.next_to_claim(model, revision, held)).first()
            if first is None:
                return []
            ids = [first.id, *self._batch_mates(connection, first, max_images, revision, holdings)]
            return self._claim_ids(connection, ids, worker_id, now, lease_seconds)

    def _claim_ids(self, connection: Connection, ids: builtins.list[str], worker_id: str,
                   now: datetime, lease_seconds: float) -> builtins.list[Task]:  # fmt: skip
        """Pending tasks `ids` (locked) → processing for the worker, in the order given."""
        check_transition(TaskState.PENDING, TaskState.PROCESSING)
        # A pending task has no images yet: the rows the update returns are the answer.
        expires = now + timedelta(seconds=lease_seconds)
        claimed = connection.execute(
            _CLAIM, {"ids": ids, "worker": worker_id, "now": now, "expires": expires}
        ).all()
        self._tell(connection, Notice(MOVED), *(Notice(TASK, task_id) for task_id in ids))
        by_id = {row.id: task_from_row(row) for row in claimed}
        return [by_id[task_id] for task_id in ids]

    def _claim_in_one(
        self, worker_id: str, lease_seconds: float, max_images: int, model: str | None,
        revision: int | None, holdings: tuple[Holding, ...] | None,
    ) -> builtins.list[Task]:  # fmt: skip
        """The first task claimed in one statement (on SQLite, in its own short transaction);
        batch mates, when there is room beside it, in a second transaction (no one else holds
        the first meanwhile)."""
        assert self._direct is not None
        now = self.clock()  # one batch: its tasks start together, under one lease
        row = self._direct.claim(model, revision, holdings, worker_id, now, lease_seconds)
        if row is None:
            return []
        first = task_from_values(row)
        if first.batch_key is None or max_images <= first.image_count:
            return [first]
        try:
            mates = self._claim_mates(first, worker_id, now, lease_seconds, max_images,
                                      revision, holdings)  # fmt: skip
        except Exception:  # the first is claimed: run it alone rather than lose its attempt
            log.warning("task %s: could not claim batch mates beside it", first.id,
                        exc_info=True)  # fmt: skip
            return [first]
        return [first, *mates]

    def _claim_mates(self, first: Any, worker_id: str, now: datetime, lease_seconds: float,
                     max_images: int, revision: int | None, holdings: Sequence[Holding] | None,
                     ) -> builtins.list[Task]:  # fmt: skip
        with self._write() as connection:
            ids = self._batch_mates(connection, first, max_images, revision, holdings)
            if not ids:
                return []
            return self._claim_ids(connection, ids, worker_id, now, lease_seconds)

    def _batch_mates(self, connection: Connection, row: Any, max_images: int,
                     revision: int | None, holdings: Sequence[Holding] | None = None,
                     ) -> builtins.list[str]:  # fmt: skip
        """Compatible pending tasks that fit beside the first (`row`) within max_images."""
        first_id = row.id
        if holdings is not None:  # mates share the first's model: its revision held applies
            revision = next((h.revision for h in holdings if h.model == row.model), None)
        room = max_images - row.image_count
        if row.batch_key is None or room <= 0:
            return []
        mates = []
        for mate_id, count in connection.execute(
            queue.compatible_pending(first_id, row.batch_key, max_images, revision)
        ).all():
            if count <= room:
                mates.append(mate_id)
                room -= count
        return mates

    def heartbeat(
        self, task_id: str, worker_id: str, attempt: int, step: int, total: int,
        lease_seconds: float,
    ) -> bool:  # fmt: skip
        now = self.clock()
        with self._write() as connection:
            held = held_row(connection, task_id, worker_id, attempt)
            # Step 0 is a lease renewal before the first step, not progress to report.
            if step > 0 and (step, total) != (held.progress_step, held.progress_total):
                connection.execute(
                    insert(task_progress).values(
                        task_id=task_id, attempt=attempt, step=step, total=total, created_at=now
                    )
                )
            connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(
                    progress_step=step,
                    progress_total=total,
                    updated_at=now,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                )
            )
            self._tell(connection, Notice(TASK, task_id))
            return bool(held.cancel_requested)

    def heartbeat_many(
        self, beats: builtins.list[Beat], lease_seconds: float
    ) -> dict[str, BeatAnswer]:
        if not beats:
            return {}
        if isinstance(self._direct, SqliteWrites) and not any(beat.previews for beat in beats):
            return self._direct.renew_all(beats, self.clock(), lease_seconds)
        if self._direct is not None and not any(beat.previews for beat in beats):
            now = self.clock()  # a statement (and a lock) per beat
            return {beat.task_id: self._direct.renew(beat, now, lease_seconds)
                    for beat in beats}  # fmt: skip
        with self._write() as connection:
            answers = renew_all(connection, beats, self.clock(), lease_seconds)
            held = [task_id for task_id, answer in answers.items() if answer is not BeatAnswer.LOST]
            self._tell(connection, *(Notice(TASK, task_id) for task_id in held))
            return answers

    def complete(
        self, task_id: str, worker_id: str, attempt: int, images: builtins.list[NewImage],
        steps: Sequence[int] = (), total: int = 0,
    ) -> Task:  # fmt: skip
        return self._finish(task_id, worker_id, attempt, TaskState.COMPLETED, {"error_code": None},
                            images, (steps, total))  # fmt: skip

    def fail(self, task_id: str, worker_id: str, attempt: int, code: str, message: str) -> Task:
        failure = {"error_code": code, "error_message": message}
        return self._finish(task_id, worker_id, attempt, TaskState.FAILED, failure)

    def finish_canceled(self, task_id: str, worker_id: str, attempt: int) -> Task:
        return self._finish(task_id, worker_id, attempt, TaskState.CANCELED, {})

    def _finish(
        self, task_id: str, worker_id: str, attempt: int, target: TaskState,
        values: dict[str, Any], new_images: Sequence[NewImage] = (),
        last_steps: tuple[Sequence[int], int] = ((), 0),
    ) -> Task:  # fmt: skip
        """The held attempt's final write; tried once more on a new connection when the
        pooled one turns out dead (the server restarted since its last use): a GPU's work is
        not failed for that."""
        try:
            return self._finish_once(task_id, worker_id, attempt, target, values, new_images,
                                     last_steps)  # fmt: skip
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("task %s: its database connection was dead; finishing on a new one",
                        task_id)  # fmt: skip
        return self._finish_once(task_id, worker_id, attempt, target, values, new_images,
                                 last_steps)  # fmt: skip

    def _finish_once(
        self, task_id: str, worker_id: str, attempt: int, target: TaskState,
        values: dict[str, Any], new_images: Sequence[NewImage],
        last_steps: tuple[Sequence[int], int],
    ) -> Task:  # fmt: skip
        if self._direct is not None:
            return self._finish_in_one(task_id, worker_id, attempt, target, values, new_images,
                                       last_steps)  # fmt: skip
        now = self.clock()
        with self._write() as connection:
            held = held_row(connection, task_id, worker_id, attempt)
            check_transition(TaskState(held.state), target)
            steps, total = last_steps
            fresh = [step for step in steps if step > held.progress_step]  # never twice
            if fresh:  # before the task finishes: followers read them, then the end
                connection.execute(insert(task_progress), [
                    {"task_id": task_id, "attempt": attempt, "step": step, "total": total,
                     "created_at": now} for step in fresh
                ])  # fmt: skip
                values = {**values, "progress_total": total}
            if target is TaskState.COMPLETED:  # every step taken
                values = {"progress_step": values.get("progress_total", held.progress_total),
                          **values}  # fmt: skip
            ran = (now - held.started_at).total_seconds() if held.started_at else None
            row = connection.execute(_FINISH, {
                "finished_id": task_id, "state": target.value, "finished_at": now,
                "run_seconds": ran, "updated_at": now, "lease_expires_at": None, **values,
            }).one()  # fmt: skip
            # A running task has no images before this: the ones added now are all of them.
            records = self._insert_images(connection, task_id, new_images, now)
            if held.previews_wanted:
                drop_previews(connection, [task_id])
            self._tell(connection, Notice(TASK, task_id))
        return task_from_row(row, records)

    def _finish_in_one(
        self, task_id: str, worker_id: str, attempt: int, target: TaskState,
        values: dict[str, Any], new_images: Sequence[NewImage],
        last_steps: tuple[Sequence[int], int],
    ) -> Task:  # fmt: skip
        """The final write in one statement (PostgreSQL) or one short transaction (SQLite),
        with the images' records in the same transaction when there are any."""
        assert self._direct is not None
        check_transition(TaskState.PROCESSING, target)  # the statement finishes held tasks only
        now = self.clock()
        steps, total = last_steps
        if isinstance(self._direct, SqliteWrites) or (new_images and pg_leases.DIRECT):
            done = self._direct.finish_with_images(
                task_id, worker_id, attempt, target, values, steps, total, now,
                [image_values(task_id, image, now) for image in new_images],
            )  # fmt: skip
            if done is None:
                with self._read() as connection:
                    self._lost(connection, task_id, worker_id, attempt)
            assert done is not None
            finished, stored = done
            records = sorted((ImageRecord(**image) for image in stored),
                             key=lambda record: record.index)  # fmt: skip
            return task_from_values(finished, records)
        if new_images:
            with self._write() as connection:
                row = pg_leases.finish_held(connection, task_id, worker_id, attempt, target,
                                            values, steps, total, now)  # fmt: skip
                if row is None:
                    self._lost(connection, task_id, worker_id, attempt)
                records = self._insert_images(connection, task_id, new_images, now)
            assert row is not None
            return task_from_row(row, records)
        written = self._direct.finish(task_id, worker_id, attempt, target, values, steps, total,
                                      now)  # fmt: skip
        if written is None:
            with self._read() as connection:
                self._lost(connection, task_id, worker_id, attempt)
        assert written is not None
        return task_from_values(written)

    @staticmethod
    def _lost(connection: Connection, task_id: str, worker_id: str, attempt: int) -> None:
        """Raise why the attempt's write matched no row: TaskNotFound, or LeaseLost."""
        held_row(connection, task_id, worker_id, attempt)  # raises, saying what the task is
        raise LeaseLost(f"task {task_id} is no longer held by worker {worker_id} "
                        f"attempt {attempt}")  # fmt: skip

    def release(self, task_id: str, worker_id: str, attempt: int) -> Task:
        now = self.clock()
        with self._write() as connection:
            held = held_row(connection, task_id, worker_id, attempt)
            target, values = handed_back(held, now)
            check_transition(TaskState.PROCESSING, target)
            connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(state=target.value, updated_at=now, lease_expires_at=None, **values)
            )
            if held.previews_wanted:
                drop_previews(connection, [task_id])
            self._tell(connection, *_changed(task_id, target, held.model))
            return self._load_one(connection, task_id)

    def request_cancel(self, task_id: str) -> Task:
        now = self.clock()
        with self._write() as connection:
            state = TaskState(locked_row(connection, task_id).state)
            change: dict[str, Any] = {}
            if state is TaskState.PENDING:
                check_transition(state, TaskState.CANCELED)
                change = {"state": TaskState.CANCELED.value, "finished_at": now}
            elif state is TaskState.PROCESSING:
                change = {"cancel_requested": True}
            if change:
                connection.execute(
                    update(tasks).where(tasks.c.id == task_id).values(updated_at=now, **change)
                )
                self._tell(connection, Notice(TASK, task_id), Notice(MOVED))
                if state is TaskState.PROCESSING:  # its worker hears it now, not at a renewal
                    self._tell(connection, Notice(ASKED, task_id))
            return self._load_one(connection, task_id)

    def requeue_expired(self, now: datetime | None = None) -> builtins.list[str]:
        now = now or self.clock()
        expired = (
            select(tasks)
            .where(tasks.c.state == PROCESSING, tasks.c.lease_expires_at < now)
            .order_by(tasks.c.lease_expires_at)
            .with_for_update(skip_locked=True)
        )
        sweep = self._swept_at is None or not now - PROGRESS_SWEPT_EVERY < self._swept_at <= now
        with self._write() as connection:
            if sweep:
                connection.execute(
                    delete(task_progress).where(task_progress.c.created_at < now - PROGRESS_KEPT)
                )
                self._swept_at = now
            rows = connection.execute(expired).all()
            for row in rows:
                target, values = after_lost_lease(row, now)
                check_transition(TaskState.PROCESSING, target)
                connection.execute(
                    update(tasks)
                    .where(tasks.c.id == row.id, tasks.c.state == PROCESSING)
                    .values(state=target.value, updated_at=now, lease_expires_at=None, **values)
                )
                self._tell(connection, *_changed(row.id, target, row.model))
            drop_previews(connection, [row.id for row in rows])
        return [row.id for row in rows]

    # Results and gallery

    def find_cached(self, cache_key: str) -> Task | None:
        query = (
            select(tasks)
            .where(tasks.c.cache_key == cache_key, tasks.c.state == TaskState.COMPLETED.value)
            .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
            .limit(1)
        )
        with self._read() as connection:
            found = self._load(connection, query)
        return found[0] if found else None

    def get_image(self, image_id: str) -> GalleryItem:
        with self._read() as connection:
            row = connection.execute(select(images).where(images.c.id == image_id)).one_or_none()
            if row is None:
                raise NotFound(f"no image {image_id}")
            image = image_from_row(row)
            return GalleryItem(image, self._load_one(connection, image.task_id))

    def image_children(self, image_id: str) -> builtins.list[GalleryItem]:
        query = select(images).where(images.c.parent_id == image_id)
        with self._read() as connection:
            ordered = query.order_by(images.c.created_at, images.c.task_id, images.c.index)
            rows = connection.execute(ordered).all()
            found = [image_from_row(row) for row in rows]
            makers = select(tasks).where(tasks.c.id.in_({image.task_id for image in found}))
            by_id = {task.id: task for task in self._load(connection, makers)}
        return [GalleryItem(image, by_id[image.task_id]) for image in found]

    def set_favourite(self, image_id: str, owner: str | None, value: bool) -> ImageRecord:
        mine = [images.c.id == image_id] + ([tasks.c.owner == owner] if owner else [])
        query = select(images.c.id).join(tasks, tasks.c.id == images.c.task_id).where(*mine)
        with self._write() as connection:
            if connection.execute(query).scalar_one_or_none() is None:
                raise NotFound(f"no image {image_id}")
            connection.execute(
                update(images).where(images.c.id == image_id).values(favourite=value)
            )
            row = connection.execute(select(images).where(images.c.id == image_id)).one()
        return image_from_row(row)

    def search_images(
        self,
        owner: str | None = None,
        text: str | None = None,
        preset: str | None = None,
        favourites_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[GalleryItem], int]:
        where = gallery_filters(owner, text, preset, favourites_only)
        joined = images.join(tasks, tasks.c.id == images.c.task_id)
        page = (
            select(images)
            .select_from(joined)
            .where(*where)
            .order_by(images.c.created_at.desc(), images.c.task_id, images.c.index)
            .limit(limit)
            .offset(offset)
        )
        with self._read() as connection:
            total = connection.execute(
                select(func.count()).select_from(joined).where(*where)
            ).scalar_one()
            found = [image_from_row(row) for row in connection.execute(page)]
            makers = select(tasks).where(tasks.c.id.in_({image.task_id for image in found}))
            by_id = {task.id: task for task in self._load(connection, makers)}
        return [GalleryItem(image, by_id[image.task_id]) for image in found], total

    def stats(self) -> dict[str, Any]:
        with self._read() as connection:
            return queue_stats(connection, self.clock())

    def close(self) -> None:
        self.notifier.close()
        self.engine.dispose()

    # Loading rows

    def _load_one(self, connection: Connection, task_id: str) -> Task:
        found = self._load(connection, _TASKS_BY_ID, {"ids": [task_id]})
        if not found:
            raise TaskNotFound(f"no task {task_id}")
        return found[0]

    def _load(self, connection: Connection, query: Select[Any],
              params: dict[str, Any] | None = None) -> builtins.list[Task]:  # fmt: skip
        """Tasks for the query, in its order, with their images and queue positions."""
        rows = connection.execute(query, params).all()
        # Only a completed task has images: they are inserted with its final write (or with
        # a cache hit's row), and a completed task changes state no more.
        done = [row.id for row in rows if row.state == COMPLETED]
        by_task = group_images(_images_of(connection, done))
        waiting = [row.id for row in rows if row.state == PENDING]
        places = queue.positions(connection, waiting)
        return [task_from_row(row, by_task.get(row.id, []), places.get(row.id)) for row in rows]

    def _insert_images(
        self, connection: Connection, task_id: str, new_images: Sequence[NewImage],
        now: datetime,
    ) -> builtins.list[ImageRecord]:  # fmt: skip
        """Store the images' records; returns them as a read would."""
        if not new_images:
            return []
        rows = [image_values(task_id, image, now) for image in new_images]
        records = [image_from_row(row) for row in connection.execute(_INSERT_IMAGES, rows)]
        return sorted(records, key=lambda record: record.index)


def _images_of(connection: Connection, task_ids: builtins.list[str]) -> builtins.list[ImageRecord]:
    if not task_ids:
        return []
    return [image_from_row(row) for row in connection.execute(_IMAGES_OF, {"ids": task_ids})]


def _audited(note: AuditNote, values: dict[str, Any]) -> AuditEvent:
    """The audit entry of the task being inserted (`values`)."""
    return AuditEvent(values["created_at"], note.actor, note.actor_name, note.action,
                      values["id"], note.detail)  # fmt: skip


def _created(values: dict[str, Any]) -> builtins.list[Notice]:
    told = [Notice(TASK, values["id"])]
    if values["state"] == PENDING:
        told += [Notice(QUEUED, values.get("model") or ""), Notice(MOVED)]
    return told


def _changed(task_id: str, state: TaskState, model: str | None) -> builtins.list[Notice]:
    """A task left its worker: back in the queue (say so to idle workers), or finished."""
    told = [Notice(TASK, task_id)]
    if state is TaskState.PENDING:
        told += [Notice(QUEUED, model or ""), Notice(MOVED)]
    return told


def open_store(url: str, pool: Pool | None = None, notifier: Notifier | None = None,
               single_statements: bool = True) -> SqlTaskStore:  # fmt: skip
    """Connect to a SQLite or PostgreSQL URL, migrate it to the newest schema, return the store
    (announcing its changes on `notifier`, by default the one that fits the URL)."""
    engine = connect(url, pool)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlTaskStore(engine, notifier=notifier or notifier_for(url),
                        single_statements=single_statements)  # fmt: skip
