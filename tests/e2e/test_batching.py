"""Compatible tasks share one GPU batch; each still ends with exactly its own images."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import submit, wait_for
from tests.support.server import server_env, start_huajia

pytestmark = pytest.mark.e2e


def test_compatible_tasks_run_in_one_batch(tiny_model_dir: Path, tmp_path: Path) -> None:
    server = start_huajia(tmp_path / "data", tiny_model_dir, extra_args=["--no-worker"])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            together = [
                submit(client, prompt=f"tile {i}", seed=100 * i, num_images=n)["task_id"]
                for i, n in enumerate([1, 2, 1], start=1)
            ]
            apart = submit(client, prompt="wide", width=128, seed=7)["task_id"]
            env = server_env({"HUAJIA_DATA_DIR": str(server.data_dir)})
            worker = subprocess.Popen(
                [sys.executable, "-m", "huajia", "worker", "--model", str(tiny_model_dir)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                records = {}
                for task_id in [*together, apart]:
                    wait_for(client, task_id, {"completed"}, timeout=90)
                    records[task_id] = client.get(f"/api/v1/tasks/{task_id}").json()
            finally:
                worker.terminate()
                worker.wait(timeout=20)
    finally:
        server.stop()
    started = {records[task_id]["started_at"] for task_id in together}
    assert len(started) == 1, "the three compatible tasks were claimed as one batch"
    assert records[apart]["started_at"] not in started, "another size runs in its own batch"
    seeds = [[image["seed"] for image in records[task_id]["images"]] for task_id in together]
    assert seeds == [[100], [200, 201], [300]]


def test_serve_starts_one_worker_per_listed_gpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    # No GPU here: the two workers run on the CPU, each with its own CUDA_VISIBLE_DEVICES.
    server = start_huajia(tmp_path / "data", tiny_model_dir, extra_args=["--gpus", "0,1"])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                workers = client.get("/api/v1/health").json()["workers"]
                if sum(worker["state"] == "ready" for worker in workers) == 2:
                    break
                time.sleep(0.3)
            assert sum(worker["state"] == "ready" for worker in workers) == 2
            tasks = [submit(client, prompt=f"p{i}", width=128, height=128, steps=8)["task_id"]
                     for i in range(4)]  # fmt: skip
            for task_id in tasks:
                wait_for(client, task_id, {"completed"}, timeout=90)
    finally:
        server.stop()
