"""Nothing accepted is lost: kill -9 every Huajia process mid-work, restart, all complete."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import submit, wait_for
from tests.support.server import ServerProcess, free_port, server_env

pytestmark = pytest.mark.e2e


def test_kill_9_of_the_process_group_then_restart_finishes_every_task(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path / "data", tiny_model_dir, free_port(), server_env()).start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        slow = submit(client, steps=40, width=256, height=256, num_images=3, seed=500)
        queued = [submit(client, num_images=2, seed=600 + 10 * i) for i in range(4)]
        wait_for(client, slow["task_id"], {"processing"})
    server.kill_group()

    restarted = ServerProcess(server.data_dir, tiny_model_dir, free_port(), server_env()).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as client:
            for task in [slow, *queued]:
                status = wait_for(client, task["task_id"], {"completed", "failed"}, timeout=120)
                assert status["status"] == "completed", status
            slow_result = client.get(f"/api/v1/tasks/{slow['task_id']}/result").json()
            assert [image["seed"] for image in slow_result["images"]] == [500, 501, 502]
            record = client.get(f"/api/v1/tasks/{slow['task_id']}").json()
            assert record["attempts"] == 2, "the killed attempt was re-run once"
            for task in queued:
                assert client.get(f"/api/v1/tasks/{task['task_id']}/result").json()["count"] == 2
    finally:
        restarted.stop()
    rows = _image_rows(server.data_dir / "huajia.db")
    assert len(rows) == 3 + 4 * 2, "each task has exactly its images, none duplicated"
    assert len({(task, index) for task, index in rows}) == len(rows)


def _image_rows(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute('SELECT task_id, "index" FROM images'))


def test_serve_restarts_its_worker_when_it_dies(tiny_model_dir: Path, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tiny_model_dir, free_port(), server_env()).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            workers = client.get("/api/v1/health").json()["workers"]
            assert len(workers) == 1
            pid = int(workers[0]["worker_id"].split(":")[1])
            os.kill(pid, signal.SIGKILL)
            task = submit(client, num_images=1)
            status = wait_for(client, task["task_id"], {"completed", "failed"}, timeout=60)
            assert status["status"] == "completed"
            assert client.get("/api/v1/health").json()["model_loaded"] is True
    finally:
        server.stop()


def test_a_model_that_fails_to_load_shows_in_health_while_the_api_answers(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "Z-Image-Turbo-broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    process_started = ServerProcess(tmp_path / "data", broken, free_port(), server_env())
    process_started.start(wait_for_model=False)
    server = process_started
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            deadline = time.monotonic() + 60
            workers: list[dict[str, object]] = []
            while time.monotonic() < deadline and not workers:
                health = client.get("/api/v1/health").json()
                workers = [w for w in health["workers"] if w["state"] == "failed"]
                time.sleep(0.3)
            assert workers, "the worker reports that it could not load the model"
            assert workers[0]["engine"] == {"error_code": "model_load_failed"}
            assert health["model_loaded"] is False and health["status"] == "degraded"
            assert client.get("/api/v1/ready").status_code == 503
            accepted = client.post(
                "/api/v1/generate", json={"prompt": "x", "width": 64, "height": 64}
            )
            assert accepted.status_code == 202, "tasks are still accepted and wait for a worker"
    finally:
        process_started.stop()
