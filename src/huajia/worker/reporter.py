"""Leases and their reporter: the GPU records steps in memory; one thread writes them.

The pipeline's step callback only appends the step to its lease (no database round trip
inside a step). The worker's reporter thread wakes on a new step, or every third of a lease
when none comes, and renews every watched lease with its new steps in one transaction
(`TaskStore.heartbeat_many`): a task's first step (and first preview) at once, later ones at
most every `interval`, together; a completion writes the task's last steps itself
(`with_last_steps`). A cancel or a preview request for a running task (an `asked` notice)
renews it at once. A database hiccup costs a tick, never a GPU batch: the steps
stay unsent and go with the next tick. Cancel requests come back in the answer and stop the
task at the next step boundary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from huajia.engine.types import CancelToken, PreviewFeed
from huajia.errors import LeaseLost, TaskNotFound
from huajia.jobs.beats import Beat, BeatAnswer
from huajia.jobs.model import Task
from huajia.jobs.store import TaskStore
from huajia.worker.previews import PreviewSlots

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(eq=False)  # leases compare by identity
class Lease:
    """One attempt's hold on a task: steps reached, and whether it still holds the task.

    A cancel request finishes the task at once, even while it shares a GPU batch with
    others that go on: the caller sees `canceled` at the next step either way.
    """

    task: Task
    worker_id: str
    cancel: CancelToken = field(default_factory=CancelToken)
    lost: bool = False
    finished: bool = False
    handing_back: bool = False  # the worker is stopping: give the task back, don't cancel it
    step: int = 0
    total: int = 0
    wake: threading.Event | None = None
    # Whether a step, and a preview, of this lease was written: the first of each never waits.
    reported: bool = False
    previewed: bool = False
    asked: bool = False  # someone asked something of the task (cancel, previews): renew now
    previews: PreviewSlots = field(default_factory=PreviewSlots)
    _unsent: list[int] = field(default_factory=list)
    _steps_lock: threading.Lock = field(default_factory=threading.Lock)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Asked for while the task waited: previews from the first due step.
        self.previews.wanted = self.task.previews_wanted

    def record(self, step: int, total: int) -> None:
        """The step callback: note the step in memory and wake the reporter; nothing more."""
        with self._steps_lock:
            if step <= self.step:
                return
            self.step, self.total = step, total
            self._unsent.append(step)
        if self.wake is not None:
            self.wake.set()

    def preview_feed(self, every: int) -> PreviewFeed | None:
        """Frames every `every` steps once a follower asked for them (None: never; 0 steps)."""
        if every <= 0:
            return None
        return PreviewFeed(every, lambda: self.previews.wanted, self.previews.put)

    @property
    def held(self) -> tuple[str, str, int]:
        return self.task.id, self.worker_id, self.task.attempts

    @property
    def active(self) -> bool:
        return not (self.finished or self.lost)

    def take_beat(self) -> Beat:
        """The beat to send: the steps not sent yet (handed back by `unsent` on failure) and
        the newest previews, encoded."""
        with self._steps_lock:
            steps, self._unsent = tuple(self._unsent), []
            total = self.total
            self.reported = self.reported or bool(steps)
        previews = self.previews.take()
        self.previewed = self.previewed or bool(previews)
        self.asked = False
        return Beat(*self.held, steps, total, previews)

    @property
    def first_news_waiting(self) -> bool:
        """A step (or a preview) is kept, and none of this lease's was written yet; or
        someone asked something of the task (its answer comes with a renewal)."""
        return self.active and (
            self.asked
            or (not self.reported and bool(self._unsent))
            or (not self.previewed and self.previews.waiting)
        )

    def unsent(self, beat: Beat) -> None:
        """A beat that did not reach the store: its steps go first in the next one."""
        with self._steps_lock:
            self._unsent[:0] = beat.steps

    def answer(self, answer: BeatAnswer, store: TaskStore) -> None:
        """Act on the store's reply: finish a task someone canceled, stop one we lost."""
        if answer is BeatAnswer.HELD:
            return
        if answer is BeatAnswer.PREVIEWS_WANTED:
            self.previews.wanted = True
            return
        with self._lock:
            if answer is BeatAnswer.LOST:
                self.lost = not self.finished
            elif self.active:
                self._finish_canceled(store)
        self.cancel.cancel()

    def _finish_canceled(self, store: TaskStore) -> None:
        try:
            store.finish_canceled(*self.held)
            self.finished = True
        except (LeaseLost, TaskNotFound):
            self.lost = True
        except Exception:  # the loop finishes it canceled once the engine stops
            log.warning("task %s: could not record the cancel yet", self.task.id, exc_info=True)

    def settle(self, finish: Callable[[], object]) -> None:
        """Finish the task unless a cancel or another attempt already did."""
        with self._lock:
            if not self.active:
                return
            try:
                finish()
            except (LeaseLost, TaskNotFound) as lost:
                self.lost = True
                log.warning("task %s: result dropped (%s)", self.task.id, lost.message)
            self.finished = True


class Reporter:
    """One per worker: writes the watched leases' steps and renews them, batched."""

    def __init__(self, store: TaskStore, lease_seconds: float, interval: float = 0.0) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        # The least time between two writes: later steps wait and go together. A task's
        # first step never waits (a follower sees it start at once), and no lease waits past
        # its renewal.
        self._renew_every = lease_seconds / 3
        self.interval = min(interval, self._renew_every)
        self._leases: list[Lease] = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, leases: Sequence[Lease]) -> None:
        """Renew these leases (and write their steps) until `unwatch`."""
        with self._lock:
            for lease in leases:
                lease.wake = self._wake
            self._leases.extend(leases)
            if self._thread is None:  # it stops by itself once nothing is watched
                self._thread = threading.Thread(target=self._run, name="reporter", daemon=True)
                self._thread.start()

    def unwatch(self, leases: Sequence[Lease]) -> None:
        with self._lock:
            self._leases = [lease for lease in self._leases if lease not in leases]
        self._wake.set()

    def flush(self, leases: Sequence[Lease]) -> bool:
        """Send these leases' steps now, before their tasks finish: a finished task takes no
        more steps, so a refused write is tried again for up to a third of a lease (the
        tasks' leases are still held meanwhile). False if it never went through."""
        deadline = time.monotonic() + self._renew_every
        pause = 0.02
        while not self._send(leases, steps_only=True):
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        return True

    def asked(self, task_id: str) -> None:
        """Someone asked something of this task (a cancel, previews): renew it without
        waiting for the interval; the store's answer says what."""
        with self._lock:
            found = [lease for lease in self._leases if lease.task.id == task_id]
        for lease in found:
            lease.asked = True
        if found:
            self._wake.set()

    def with_last_steps(self, lease: Lease, finish: Callable[[tuple[int, ...], int], T]) -> T:
        """`finish(steps, total)` with the lease's steps not written yet, for the task's final
        write to record with it (one transaction instead of two). Nothing of this lease is
        sent meanwhile; if `finish` fails, the steps go back to the lease."""
        with self._sending:
            beat = lease.take_beat()
            try:
                return finish(beat.steps, beat.total)
            except BaseException:
                lease.unsent(beat)
                raise

    def _run(self) -> None:
        try:
            self._beat_until_unwatched()
        finally:  # whatever ended it (a bug included), the next watch starts a new thread
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _beat_until_unwatched(self) -> None:
        last = 0.0
        while True:
            self._wake.wait(self._renew_every)
            self._wake.clear()
            watched = self._watched()
            if watched is None:
                return
            # Within `interval` of the last write, steps wait, unless one is a task's first (or
            # its first preview).
            while (held := last + self.interval - time.monotonic()) > 0 and not any(
                lease.first_news_waiting for lease in watched
            ):
                if self._wake.wait(held):
                    self._wake.clear()
                watched = self._watched()
                if watched is None:
                    return
            last = time.monotonic()
            self._send(watched)

    def _watched(self) -> list[Lease] | None:
        """The leases watched now; None (and the thread is done) when there are none."""
        with self._lock:
            if not self._leases:
                self._thread = None
                return None
            return list(self._leases)

    def _send(self, leases: Sequence[Lease], steps_only: bool = False) -> bool:
        """Write the leases' new steps and renew them; with `steps_only`, nothing at all when
        no step is new (a flush right before the tasks finish needs no renewal)."""
        with self._sending:  # the thread and a flush never interleave one lease's steps
            leases = [lease for lease in leases if lease.active]
            beats = [lease.take_beat() for lease in leases]
            if not beats or (steps_only and not any(beat.steps for beat in beats)):
                return True
            try:
                answers = self.store.heartbeat_many(beats, self.lease_seconds)
            except Exception:  # a busy or restarting database: the next tick sends them
                log.warning("could not renew %d lease(s); retrying", len(beats), exc_info=True)
                for lease, beat in zip(leases, beats, strict=True):
                    lease.unsent(beat)
                return False
        for lease in leases:
            lease.answer(answers.get(lease.task.id, BeatAnswer.LOST), self.store)
        return True
