"""The worker's finishing stage: encode, label, upload and complete one batch while the GPU
runs the next.

One background thread and at most one batch in it: handing over a second waits for the
first, so memory holds two batches of images at most. A task is completed only after its
bytes are stored; a crash in between leaves its lease to expire and the task to run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class Finisher:
    """Runs finishing jobs one at a time, off the GPU thread (or inline when not overlapping)."""

    def __init__(self, overlap: bool = True) -> None:
        self.overlap = overlap
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Hand a batch over; waits while the previous one is still being stored."""
        if not self.overlap:
            _guarded(job)
            return
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="finisher")
        self._pending = self._executor.submit(_guarded, job)

    def wait(self) -> None:
        """Until the batch handed over last is finished."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        self.wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


def _guarded(job: Callable[[], None]) -> None:
    try:
        job()
    except Exception:  # its tasks' leases expire and they run again; the worker goes on
        log.exception("finishing a batch failed")
