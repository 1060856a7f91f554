"""Events are pushed: with every fallback check set to 30 s, a task is claimed and its SSE
stream delivers progress and the end in far less, so only a notice can have carried them.

PostgreSQL: two API processes (`serve --no-worker`) and two `huajia worker` processes; the
task is submitted to one API and followed on the other. SQLite: one `huajia serve` and its
worker child share the local channel.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.flows import follow_while_held
from tests.support.hold import Workers
from tests.support.server import ServerProcess, free_port, server_env, start_huajia

pytestmark = pytest.mark.e2e

FALLBACK_S = 30.0
SLOW = {"HUAJIA_WATCH_FALLBACK_SECONDS": str(FALLBACK_S),
        "HUAJIA_IDLE_FALLBACK_SECONDS": str(FALLBACK_S)}  # fmt: skip
# Wide margin: a 3-step tiny task takes well under a second; a loaded machine may take a few.
PUSHED_WITHIN_S = FALLBACK_S / 2


def follow_a_fresh_task(submit_to: httpx.Client, follow_on: httpx.Client, prompt: str,
                        workers: Workers) -> tuple[list[tuple[str, Any]], float]:  # fmt: skip
    """Submit to one API, read the task's whole SSE stream on the other (the workers held
    until it is open); its events, and the seconds since the workers went on."""
    _, (events,), seconds = follow_while_held(
        submit_to, workers, follow_on, prompt=prompt, steps=3, timeout=FALLBACK_S * 3
    )  # no seed: never a cached result
    return events, seconds


def assert_pushed(events: list[tuple[str, Any]], seconds: float) -> None:
    names = [name for name, _ in events]
    assert names[-1] == "completed", names
    steps = [data["current_step"] for name, data in events if name == "progress"]
    assert steps == [1, 2, 3]
    assert seconds < PUSHED_WITHIN_S, (
        f"took {seconds:.1f} s with every fallback check at {FALLBACK_S:.0f} s: not pushed"
    )


def until_workers_ready(clients: list[httpx.Client], workers: int) -> None:
    """Until `workers` workers report ready (each looks at the queue once it listens)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        live = clients[0].get("/api/v1/health").json().get("workers", [])
        if sum(worker["state"] == "ready" for worker in live) >= workers:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {workers} workers became ready")


class WorkerProcess:
    """One `huajia worker` on its own (no API), as on a GPU machine of a fleet."""

    def __init__(self, data_dir: Path, model_dir: Path, env: dict[str, str]) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "worker.log"
        command = [sys.executable, "-m", "huajia", "worker", "--model", str(model_dir),
                   "--data-dir", str(data_dir)]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.mark.postgres
def test_two_apis_and_two_workers_on_postgresql_push_every_event(
    tiny_model_dir: Path, tmp_path: Path, postgres_schema_url: str
) -> None:
    env = server_env({"HUAJIA_DATABASE_URL": postgres_schema_url, **SLOW})
    apis = [ServerProcess(tmp_path / f"api-{i}", tiny_model_dir, free_port(), env,
                          ["--no-worker"]) for i in (1, 2)]  # fmt: skip
    workers = [WorkerProcess(tmp_path / f"worker-{i}", tiny_model_dir, env) for i in (1, 2)]
    try:
        for api in apis:
            api.start()
        with (
            httpx.Client(base_url=apis[0].url, timeout=30) as first,
            httpx.Client(base_url=apis[1].url, timeout=30) as second,
        ):
            until_workers_ready([first, second], workers=2)
            for i in range(3):  # each time a worker that sleeps for 30 s must be woken
                held = Workers([worker.process.pid for worker in workers])  # PostgreSQL
                events, seconds = follow_a_fresh_task(first, second, f"a harbour at dawn {i}", held)
                assert_pushed(events, seconds)
    finally:
        for worker in workers:
            worker.stop()
        for api in apis:
            api.stop()


def test_one_machine_on_sqlite_pushes_every_event(tiny_model_dir: Path, tmp_path: Path) -> None:
    server = start_huajia(tmp_path / "data", tiny_model_dir, SLOW)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            until_workers_ready([client], workers=1)
            for i in range(3):
                held = server.workers()
                events, seconds = follow_a_fresh_task(client, client, f"a lighthouse {i}", held)
                assert_pushed(events, seconds)
    finally:
        server.stop()
