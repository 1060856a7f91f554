"""Small store reads a submit needs, kept for a moment instead of read per request.

A submit reads what rarely changes: the key's policy rules (and which models live workers
hold). Rules are kept at most `FRESH_SECONDS` and dropped as soon as a notice says they
changed (sent after the change commits, and heard at once by the process that made it), so
a change made here applies to the very next request, and one made on another API process
within a notice's travel (or, where a pooler drops notices, a second).

The model's revision and the LoRA list are not kept: a reload promises that every task
submitted after it returns uses what it loaded, also when `huajia reload` ran elsewhere and
its notice has not arrived yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from huajia.jobs.notify import POLICY, RESYNC, Notice, Notifier

FRESH_SECONDS = 1.0
TOPICS = frozenset({POLICY})  # each drops the values kept under it
LIVE_WORKERS = "live-workers"  # what live workers hold: kept FRESH_SECONDS, no notice

T = TypeVar("T")


class Recent:
    """Values by (topic, key), each kept until a notice on its topic or FRESH_SECONDS."""

    def __init__(self, notifier: Notifier, seconds: float = FRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._notifier = notifier
        self.keep_seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], tuple[float, Any]] = {}
        self._generation = 0  # bumped by every notice: a read racing one is not kept
        self._listening = False

    def read(self, topic: str, key: str, load: Callable[[], T]) -> T:
        self._listen()
        now = self._clock()
        with self._lock:
            kept = self._values.get((topic, key))
            generation = self._generation
        if kept is not None and now - kept[0] < self.keep_seconds:
            value: T = kept[1]
            return value
        value = load()
        with self._lock:
            if generation == self._generation:
                self._values[(topic, key)] = (now, value)
        return value

    def heard(self, notice: Notice) -> None:
        if notice.topic != RESYNC and notice.topic not in TOPICS:
            return
        with self._lock:
            self._generation += 1
            if notice.topic == RESYNC:
                self._values.clear()
            else:  # a policy changed: drop every value of the topic
                self._values = {k: v for k, v in self._values.items() if k[0] != notice.topic}

    def _listen(self) -> None:
        # Subscribing starts the notifier's listener: done at the first read, not when the
        # service is built (a CLI command that never submits should not start one).
        if self._listening:
            return
        with self._lock:
            if self._listening:
                return
            self._listening = True
        self._notifier.subscribe(self.heard, TOPICS)
