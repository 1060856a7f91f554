"""A rolling restart of a two-API, two-worker deployment on PostgreSQL while tasks stream.

Each process gets SIGTERM in turn (as systemd or Kubernetes send it), drains and is started
again, with five new tasks submitted before each step. Every task completes, none fails, and
every SSE follower sees its task's terminal event, reconnecting to the other API process when
the one it follows stops (as the panel does on the `reconnect` event).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hold import Workers
from tests.support.server import ServerProcess, free_port, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

TERMINAL = {"completed", "failed", "canceled"}
WAVE = {"prompt": "a lighthouse", "width": 128, "height": 128, "steps": 6}


class WorkerProcess:
    """`huajia worker` on its own, as on a GPU machine."""

    def __init__(self, data_dir: Path, model_dir: Path, env: dict[str, str], name: str) -> None:
        self.command = [sys.executable, "-m", "huajia", "worker", "--model", str(model_dir),
                        "--data-dir", str(data_dir)]  # fmt: skip
        self.env = env
        self.log_path = data_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)  # fmt: skip

    def restart(self) -> int:
        """SIGTERM, wait for the drain, start again; the exit status of the stop."""
        assert self.process is not None
        self.process.terminate()
        status = self.process.wait(timeout=60)
        self.start()
        return status


def follow(urls: list[str], task_id: str, seen: dict[str, list[str]]) -> None:
    """Follow one task's events to its end, moving to the other API when told or cut off."""
    events = seen.setdefault(task_id, [])
    deadline = time.monotonic() + 180
    turn = 0
    while time.monotonic() < deadline:
        url = urls[turn % len(urls)]
        turn += 1
        try:
            with httpx.stream("GET", f"{url}/api/v1/tasks/{task_id}/events", timeout=30) as stream:
                name = None
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                        events.append(name)
                        if name in TERMINAL:
                            return
                        if name == "reconnect":
                            break
        except httpx.HTTPError:
            events.append("connection-lost")
        time.sleep(0.2)


@pytest.fixture
def deployment(tiny_model_dir: Path, tmp_path: Path, postgres_schema_url: str
               ) -> Iterator[tuple[list[ServerProcess], list[WorkerProcess]]]:  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()
    # Leases outlast the pauses below, so a held worker's task is not run twice.
    env = server_env({"HUAJIA_DATABASE_URL": postgres_schema_url, "HUAJIA_LEASE_SECONDS": "60"})
    apis = [ServerProcess(data, tiny_model_dir, free_port(), env, ["--no-worker"])
            for _ in range(2)]  # fmt: skip
    workers = [WorkerProcess(data, tiny_model_dir, env, f"worker-{n}") for n in range(2)]
    apis[0].start(wait_for_model=False)  # one migrates the database first
    apis[1].start(wait_for_model=False)
    for worker in workers:
        worker.start()
    apis[0].wait_ready()
    yield apis, workers
    for worker in workers:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.terminate()
            worker.process.wait(timeout=30)
    for api in apis:
        api.stop()


def test_restarting_every_process_in_turn_loses_and_fails_nothing(
    deployment: tuple[list[ServerProcess], list[WorkerProcess]],
) -> None:
    apis, workers = deployment
    urls = [api.url for api in apis]
    seen: dict[str, list[str]] = {}
    followers: list[threading.Thread] = []
    task_ids: list[str] = []

    def wave(round_: int) -> None:
        for n in range(5):
            api = urls[(round_ + n) % 2]
            answer = httpx.post(f"{api}/api/v1/generate", json={**WAVE, "seed": round_ * 10 + n},
                                timeout=30)  # fmt: skip
            assert answer.status_code == 202, answer.text
            task_id = answer.json()["task_id"]
            task_ids.append(task_id)
            order = [api, *[url for url in urls if url != api]]
            thread = threading.Thread(target=follow, args=(order, task_id, seen), daemon=True)
            thread.start()
            followers.append(thread)

    stops = []
    for round_, step in enumerate(("api-0", "worker-0", "api-1", "worker-1")):
        kind, index = step.split("-")
        if kind == "api":
            # Workers held first: this wave's tasks wait, so their followers are still
            # streaming when their API stops, however fast the model draws.
            held(workers).hold()
        wave(round_)
        until_streaming(seen, task_ids[-5:])
        if kind == "api":
            api = apis[int(index)]
            api.stop()
            stops.append(api.process.returncode if api.process else None)
            held(workers).release()
            api.start(wait_for_model=False)
        else:
            stops.append(workers[int(index)].restart())
    for thread in followers:
        thread.join(timeout=180)

    assert stops == [0, 0, 0, 0]  # every process drained and exited cleanly
    states = {}
    for task_id in task_ids:
        states[task_id] = httpx.get(f"{urls[0]}/api/v1/tasks/{task_id}/status").json()["status"]
    assert list(states.values()) == ["completed"] * 20, json.dumps(states)
    ends = {task_id: [e for e in events if e in TERMINAL] for task_id, events in seen.items()}
    assert ends == {task_id: ["completed"] for task_id in task_ids}
    moved = [task_id for task_id in task_ids[:5] if "reconnect" in seen[task_id]]
    assert moved, "the followers of the first API were told to reconnect, and did"


def until_streaming(seen: dict[str, list[str]], task_ids: list[str]) -> None:
    """Until every one of these tasks' followers has its stream's first event."""
    deadline = time.monotonic() + 30
    while not all(seen.get(task_id) for task_id in task_ids):
        assert time.monotonic() < deadline, f"followers never started streaming: {seen}"
        time.sleep(0.02)


def held(workers: list[WorkerProcess]) -> Workers:
    """The workers as one group to hold (PostgreSQL: no database-wide lock to avoid)."""
    return Workers([worker.process.pid for worker in workers if worker.process is not None])
