"""A worker announces itself in the store: loading, ready, and what its engine reports."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from huajia.jobs.store import WorkerRegistry

log = logging.getLogger(__name__)

BEAT_SECONDS = 5.0  # three beats fit in workers.LIVE_SECONDS


class Presence:
    """Keeps the worker's row fresh; stops the worker if its supervising parent is gone."""

    def __init__(
        self, store: WorkerRegistry, worker_id: str, model: str, parent_pid: int | None,
        models: list[str] | None = None,
    ) -> None:  # fmt: skip
        self._store = store
        self._worker_id = worker_id
        self._model = model
        self._models = models or [model]  # every model held, declared from the start
        self._parent_pid = parent_pid
        self._state = "loading"
        self._describe: Callable[[], dict[str, Any]] | None = None
        self._done = threading.Event()

    def start(self, stop: threading.Event) -> None:
        self._beat()
        thread = threading.Thread(target=self._run, args=(stop,), name="presence", daemon=True)
        thread.start()

    def ready(self, describe: Callable[[], dict[str, Any]]) -> None:
        self._describe, self._state = describe, "ready"
        self._beat()

    def failed(self, code: str) -> None:
        """The engine could not start: say so (the supervisor retries with back-off)."""
        self._state, self._describe = "failed", lambda: {"error_code": code}
        self._beat()

    def stop(self) -> None:
        self._done.set()
        self._store.remove_worker(self._worker_id)

    def _run(self, stop: threading.Event) -> None:
        while not self._done.wait(BEAT_SECONDS):
            if self._parent_pid is not None and os.getppid() != self._parent_pid:
                log.error("the supervising huajia serve is gone; stopping")
                stop.set()
                return
            self._beat()

    def _beat(self) -> None:
        engine = self._describe() if self._describe else {}
        try:
            self._store.report_worker(
                self._worker_id, self._model, self._state, engine, self._models
            )
        except Exception:  # a missed beat is retried; the worker keeps generating meanwhile
            log.exception("could not report worker presence")
