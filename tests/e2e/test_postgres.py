"""The whole service on PostgreSQL (the multi-machine store): submit, follow, cancel, results."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import follow_while_held, submit, wait_for
from tests.support.server import start_huajia

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_the_service_runs_on_postgresql(
    tiny_model_dir: Path, tmp_path: Path, postgres_schema_url: str
) -> None:
    env = {"HUAJIA_DATABASE_URL": postgres_schema_url}
    server = start_huajia(tmp_path / "data", tiny_model_dir, env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            _, (events,), _ = follow_while_held(
                client, server.workers(), seed=11, num_images=2, steps=3, prompt="港口的清晨"
            )
            assert [data["current_step"] for name, data in events if name == "progress"] == [
                1, 2, 3,
            ]  # fmt: skip
            assert events[-1][0] == "completed"
            for url in events[-1][1]["image_urls"]:
                assert client.get(url).status_code == 200
            long = submit(client, steps=50, width=256, height=256)
            wait_for(client, long["task_id"], {"processing"})
            client.post(f"/api/v1/tasks/{long['task_id']}/cancel")
            assert wait_for(client, long["task_id"], {"canceled", "completed"})["status"] == (
                "canceled"
            )
            again = submit(client, seed=11, num_images=2, steps=3, prompt="港口的清晨")
            assert again["status"] == "completed", "the result cache works on PostgreSQL too"
            odd = client.post("/api/v1/generate", json={"prompt": "x\u0000y"})
            assert odd.status_code == 422
            gallery = client.get("/api/v1/images", params={"q": "港口"}).json()
            assert gallery["total"] >= 2
            assert "huajia_tasks{" in client.get("/metrics").text
    finally:
        server.stop()
