"""An idle worker sleeps until a task is queued for its model: no polling tick.

The fallback check and the requeue period are set to an hour, so only the store's notice can
wake the worker (real SQLite, its local channel, the real tiny engine).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from huajia.engine.zimage import ZImageEngine
from huajia.jobs import SqlTaskStore, TaskStore
from huajia.jobs.model import TaskState
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker
from tests.worker.test_loop import queue

HOUR = 3600.0
WAIT = 60.0


def until_finished(store: TaskStore, task_id: str) -> TaskState:
    deadline = time.monotonic() + WAIT
    while (state := store.get(task_id).state) is not TaskState.COMPLETED:
        assert time.monotonic() < deadline, f"task still {state.value}"
        time.sleep(0.05)
    return state


def test_an_idle_worker_sends_no_query_and_wakes_when_work_is_queued(
    store: SqlTaskStore, tiny_engine: ZImageEngine, tmp_path: Path
) -> None:
    worker = Worker(store, tiny_engine, LocalBlobStore(tmp_path / "images"), "w-1", 30.0,
                    model=tiny_engine.spec.name, poll_seconds=HOUR,
                    requeue_seconds=HOUR)  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    thread.start()
    try:
        assert until_finished(store, queue(store, tiny_engine, "first")) is TaskState.COMPLETED
        time.sleep(0.5)  # the worker finishes the task and goes idle
        event.listen(store.engine, "before_cursor_execute", count)
        time.sleep(2.0)
        event.remove(store.engine, "before_cursor_execute", count)
        assert statements == [], "an idle worker polled the database"

        second = queue(store, tiny_engine, "second")  # only its notice can wake the worker
        assert until_finished(store, second) is TaskState.COMPLETED
    finally:
        stop.set()
        worker.wake()
        thread.join(timeout=WAIT)
    assert not thread.is_alive(), "wake() did not end the idle wait"
