"""Stopping as systemd, docker stop or Ctrl-C do: drain, lose nothing, exit 0.

Before, SIGTERM to the process group aborted the worker, the supervisor logged an ERROR and
restarted it during shutdown, and the running task waited for its lease to expire.
The worker is held with SIGSTOP where a test needs it busy: nothing here relies on the tiny
model being slow.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from huajia.jobs import open_store
from tests.e2e.flows import wait_for
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e

DRAIN = {"HUAJIA_DRAIN_SECONDS": "1", "HUAJIA_LEASE_SECONDS": "300"}
# Large enough that the tiny model is usually still denoising when the signal comes; the
# tests pass whether it finished or was handed back.
BIG = {"prompt": "a harbour", "width": 256, "height": 256, "steps": 30, "seed": 9}


def start_running_task(server: ServerProcess, client: httpx.Client) -> str:
    task_id = str(client.post("/api/v1/generate", json=BIG).json()["task_id"])
    wait_for(client, task_id, {"processing", "completed"})
    return task_id


def stored_task(server: ServerProcess, task_id: str) -> Any:
    store = open_store(f"sqlite:///{server.data_dir / 'huajia.db'}")
    try:
        return store.get(task_id)
    finally:
        store.close()


def test_sigterm_to_the_whole_group_drains_and_exits_0(tiny_model_dir: Path, tmp_path: Path
                                                       ) -> None:  # fmt: skip
    server = start_huajia(tmp_path, tiny_model_dir, DRAIN)
    assert server.process is not None
    with httpx.Client(base_url=server.url, timeout=30) as client:
        task_id = start_running_task(server, client)
    started = time.monotonic()
    os.killpg(server.process.pid, signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0, server.log()
    assert time.monotonic() - started < 45
    log = server.log()
    assert not [r for r in server.log_records() if r["level"] == "ERROR"], log
    assert "restarting" not in log, log
    assert "draining" in log and "stopped" in log
    task = stored_task(server, task_id)
    assert task.state.value in {"pending", "completed"}, "handed back at once, or finished"
    if task.state.value == "pending":
        assert task.attempts == 0 and task.lease_owner is None, "the attempt does not count"
    restarted = server.start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as client:
            done = wait_for(client, task_id, {"completed"}, timeout=120)
        assert done["status"] == "completed", "no lease expiry (300 s) was waited for"
    finally:
        restarted.stop()


def test_while_draining_status_and_streams_answer_but_new_work_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    server = start_huajia(tmp_path, tiny_model_dir, DRAIN)
    assert server.process is not None
    client = httpx.Client(base_url=server.url, timeout=30)
    task_id = start_running_task(server, client)
    events: list[str] = []
    follower = threading.Thread(target=_follow, args=(server.url, task_id, events), daemon=True)
    follower.start()
    time.sleep(0.5)
    held = server.workers()
    held.hold()  # the worker is busy for as long as the test needs
    try:
        os.kill(server.process.pid, signal.SIGTERM)  # the main process alone, like Ctrl-C
        _wait_until(lambda: client.get("/api/v1/health").json()["draining"])
        refused = client.post("/api/v1/generate", json={"prompt": "one more"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "draining"
        assert int(refused.headers["retry-after"]) > 0
        assert client.get("/api/v1/ready").status_code == 503, "load balancers move away"
        assert client.get(f"/api/v1/tasks/{task_id}/status").status_code == 200
    finally:
        held.release()
        client.close()
    assert server.process.wait(timeout=60) == 0, server.log()
    follower.join(timeout=10)
    assert events and events[-1] in {"reconnect", "completed"}, events
    assert not [r for r in server.log_records() if r["level"] == "ERROR"], server.log()


def test_a_second_sigterm_stops_at_once_and_logs_no_uncaught_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-C twice: the second stops the HTTP server while the first's drain still waits
    for the worker. Before, the drain then handed a task to the closed event loop and logged
    an uncaught RuntimeError, and the application's background tasks were cancelled mid-wait
    (a lifespan traceback)."""
    server = start_huajia(tmp_path, tiny_model_dir, DRAIN)
    assert server.process is not None
    client = httpx.Client(base_url=server.url, timeout=30)
    start_running_task(server, client)
    held = server.workers()
    held.hold()  # the drain waits on the worker
    try:
        os.kill(server.process.pid, signal.SIGTERM)
        _wait_until(lambda: client.get("/api/v1/health").json()["draining"])
        os.kill(server.process.pid, signal.SIGTERM)
        _wait_until(lambda: "stopping now" in server.log())
    finally:
        held.release()
        client.close()
    server.process.wait(timeout=60)
    records = server.log_records()
    assert any("stopping now" in r["message"] for r in records)
    assert not [r for r in records if r["level"] == "ERROR" or "exception" in r], server.log()


def _follow(url: str, task_id: str, events: list[str]) -> None:
    try:
        with httpx.stream("GET", f"{url}/api/v1/tasks/{task_id}/events", timeout=90) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
    except httpx.HTTPError:
        events.append("broken")


def _wait_until(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition never held")


def test_sse_reconnect_event_is_valid_json() -> None:
    from huajia.api.routes.events import reconnect_event

    text = reconnect_event("a" * 32)
    assert text.startswith("retry: 1000\nevent: reconnect\n")
    payload = json.loads(text.split("data: ", 1)[1])
    assert payload["task_id"] == "a" * 32
