"""A Hypothesis state machine drives the real store (SQLite) through random task lives.

The test keeps its own small model of what every task should be, and after each step checks
the store agrees and that every state change it saw is one the rules allow.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from huajia.errors import LeaseLost
from huajia.jobs import open_store
from huajia.jobs.model import Priority, TaskState
from tests.jobs.helpers import LEASE, a_task, an_image, later
from tests.jobs.test_model import LEGAL

P, R = TaskState.PENDING, TaskState.PROCESSING
MAX_ATTEMPTS = 2


@dataclass
class Expected:
    state: TaskState = P
    attempts: int = 0
    holder: str | None = None
    cancel_requested: bool = False


class StoreLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.store = open_store(f"sqlite:///{Path(self.folder.name) / 'huajia.db'}")
        self.expected: dict[str, Expected] = {}
        self.seen: dict[str, TaskState] = {}

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    def _pick(self, data: st.DataObject, state: TaskState | None = None) -> str:
        # In creation order (not by the random ids) so Hypothesis can replay a failing run.
        ids = [i for i, e in self.expected.items() if state is None or e.state is state]
        return data.draw(st.sampled_from(ids))

    def _has(self, state: TaskState) -> bool:
        return any(e.state is state for e in self.expected.values())

    @rule(priority=st.sampled_from(list(Priority)))
    def submit(self, priority: Priority) -> None:
        task = self.store.create(a_task(priority=priority, max_attempts=MAX_ATTEMPTS))
        self.expected[task.id] = Expected()

    @rule(worker=st.sampled_from(["w1", "w2"]))
    def claim(self, worker: str) -> None:
        task = self.store.claim(worker, LEASE)
        if not self._has(P):
            assert task is None
            return
        assert task is not None
        assert self.expected[task.id].state is P
        expected = self.expected[task.id]
        expected.state, expected.attempts = R, expected.attempts + 1
        expected.holder = worker
        assert task.attempts == expected.attempts

    @precondition(lambda self: self._has(R))
    @rule(data=st.data(), ending=st.sampled_from(["complete", "fail", "cancel"]))
    def finish(self, data: st.DataObject, ending: str) -> None:
        task_id = self._pick(data, R)
        expected = self.expected[task_id]
        assert expected.holder is not None
        self._end(task_id, expected.holder, expected.attempts, ending)
        expected.state = {"complete": TaskState.COMPLETED, "fail": TaskState.FAILED,
                          "cancel": TaskState.CANCELED}[ending]  # fmt: skip

    @precondition(lambda self: bool(self.expected))
    @rule(data=st.data(), ending=st.sampled_from(["complete", "fail", "cancel", "beat"]))
    def stale_attempt_is_refused(self, data: st.DataObject, ending: str) -> None:
        task_id = self._pick(data)
        expected = self.expected[task_id]
        with pytest.raises(LeaseLost):
            self._end(task_id, "w1", expected.attempts - 1, ending)

    @precondition(lambda self: bool(self.expected))
    @rule(data=st.data())
    def request_cancel(self, data: st.DataObject) -> None:
        task_id = self._pick(data)
        expected = self.expected[task_id]
        self.store.request_cancel(task_id)
        if expected.state is P:
            expected.state = TaskState.CANCELED
        elif expected.state is R:
            expected.cancel_requested = True

    @precondition(lambda self: self._has(R))
    @rule(data=st.data())
    def heartbeat_reports_cancel(self, data: st.DataObject) -> None:
        task_id = self._pick(data, R)
        expected = self.expected[task_id]
        assert expected.holder is not None
        wanted = self.store.heartbeat(task_id, expected.holder, expected.attempts, 1, 8, LEASE)
        assert wanted is expected.cancel_requested

    @rule()
    def workers_die(self) -> None:
        moved: set[str] = set(self.store.requeue_expired(later(3600)))
        assert moved == {i for i, e in self.expected.items() if e.state is R}
        for task_id in moved:
            expected = self.expected[task_id]
            if expected.cancel_requested:
                expected.state = TaskState.CANCELED
            elif expected.attempts < MAX_ATTEMPTS:
                expected.state, expected.holder = P, None
            else:
                expected.state = TaskState.FAILED

    def _end(self, task_id: str, worker: str, attempt: int, ending: str) -> None:
        if ending == "complete":
            self.store.complete(task_id, worker, attempt, [an_image()])
        elif ending == "fail":
            self.store.fail(task_id, worker, attempt, "generation_failed", "boom")
        elif ending == "cancel":
            self.store.finish_canceled(task_id, worker, attempt)
        else:
            self.store.heartbeat(task_id, worker, attempt, 1, 8, LEASE)

    @invariant()
    def store_agrees_and_moves_are_legal(self) -> None:
        tasks, total = self.store.list(limit=1000)
        assert total == len(self.expected)
        for task in tasks:
            assert task.state is self.expected[task.id].state
            before = self.seen.get(task.id, P)
            assert before == task.state or (before, task.state) in LEGAL
            self.seen[task.id] = task.state
            assert (len(task.images) == 1) is (task.state is TaskState.COMPLETED)


StoreLife.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
TestStoreLife = StoreLife.TestCase
