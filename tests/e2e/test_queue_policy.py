"""Priority, fairness, the queue limit and API keys, through real HTTP.

The server starts without its worker so the queue can be filled deterministically; then a
separate `huajia worker` process drains it, as on a multi-machine deployment.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import SMALL, wait_for
from tests.support.server import ServerProcess, huajia_command, server_env, start_huajia

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def idle_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[ServerProcess]:  # fmt: skip
    data = tmp_path_factory.mktemp("queue-data")
    env = {"HUAJIA_QUEUE_MAX": "12", "HUAJIA_CORS_ORIGINS": '["https://cms.example.com"]'}
    server = start_huajia(data, tiny_model_dir, env, ["--no-worker"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys(idle_server: ServerProcess) -> dict[str, str]:
    made = {}
    for name, role in [("alice", "editor"), ("bob", "editor"), ("ops", "admin")]:
        result = huajia_command(["keys", "create", name, "--role", role], idle_server.data_dir)
        assert result.returncode == 0, result.stderr
        made[name] = result.stdout.strip()
    return made


def as_key(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def post(client: httpx.Client, **fields: object) -> httpx.Response:
    return client.post("/api/v1/generate", json={"prompt": "a tree", **SMALL, **fields})


def test_keys_401_without_403_for_another_editors_task(
    idle_server: ServerProcess, keys: dict[str, str]
) -> None:
    anonymous = httpx.post(f"{idle_server.url}/api/v1/generate", json={"prompt": "x"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    wrong = httpx.get(f"{idle_server.url}/api/v1/tasks", headers={"X-API-Key": "hj_wrong"})
    assert wrong.status_code == 401
    assert httpx.get(f"{idle_server.url}/api/v1/health").status_code == 200
    with as_key(idle_server, keys["alice"]) as alice, as_key(idle_server, keys["bob"]) as bob:
        task = post(alice).json()["task_id"]
        assert bob.get(f"/api/v1/tasks/{task}/status").status_code == 403
        assert bob.post(f"/api/v1/tasks/{task}/cancel").status_code == 403
        assert alice.get(f"/api/v1/tasks/{task}/status").status_code == 200
        assert post(bob, priority="high").status_code == 403, "editors may not jump the queue"
        listed = bob.get("/api/v1/tasks").json()
        assert task not in {t["task_id"] for t in listed["tasks"]}
        assert alice.post(f"/api/v1/tasks/{task}/cancel").json()["status"] == "canceled"
    with as_key(idle_server, keys["ops"]) as ops:
        assert ops.get(f"/api/v1/tasks/{task}").status_code == 200, "admins see every task"
        assert ops.get("/metrics").status_code == 200
    assert httpx.get(f"{idle_server.url}/metrics").status_code == 401
    with as_key(idle_server, keys["bob"]) as bob:
        assert bob.get("/metrics").status_code == 403, "metrics are for admins"
        assert bob.get("/api/v1/audit").status_code == 403, "so is the audit trail"
    with as_key(idle_server, keys["ops"]) as ops:
        trail = ops.get("/api/v1/audit").json()
    actions = [(event["action"], event["actor_name"]) for event in trail["events"]]
    assert ("task.cancel", "alice") in actions
    assert ("task.create", "alice") in actions
    assert actions.count(("key.create", "huajia keys")) == 3
    assert "a tree" not in str(trail), "no prompt text in the audit trail"


def test_priority_and_fairness_then_429_at_the_limit(
    idle_server: ServerProcess, keys: dict[str, str], tiny_model_dir: Path
) -> None:
    with as_key(idle_server, keys["alice"]) as alice, as_key(idle_server, keys["bob"]) as bob, \
            as_key(idle_server, keys["ops"]) as ops:  # fmt: skip
        alice_tasks = [post(alice).json()["task_id"] for _ in range(5)]
        bob_task = post(bob).json()["task_id"]
        urgent = post(ops, priority="high").json()
        assert urgent["queue_position"] == 1
        positions = {t: alice.get(f"/api/v1/tasks/{t}/status").json()["queue_position"]
                     for t in alice_tasks}  # fmt: skip
        assert bob.get(f"/api/v1/tasks/{bob_task}/status").json()["queue_position"] == 3
        assert sorted(positions.values()) == [2, 4, 5, 6, 7]
        filler = [post(alice) for _ in range(6)]
        assert [r.status_code for r in filler[:5]] == [202] * 5
        full = filler[5]
        assert full.status_code == 429, full.text
        assert full.json()["error"]["code"] == "queue_full"
        assert int(full.headers["Retry-After"]) > 0

        order = _drain_with_a_worker(idle_server, tiny_model_dir, ops, 12)
        assert order[0] == urgent["task_id"], "high priority runs first"
        assert order.index(bob_task) == 2, "bob's one task is not starved by alice's five"


def _drain_with_a_worker(server: ServerProcess, model: Path, ops: httpx.Client, count: int
                         ) -> list[str]:  # fmt: skip
    # One task per claim, so the claim order shows in started_at (batching is tested apart).
    env = server_env({"HUAJIA_DATA_DIR": str(server.data_dir), "HUAJIA_BATCH_MAX_IMAGES": "1"})
    worker = subprocess.Popen(
        [sys.executable, "-m", "huajia", "worker", "--model", str(model)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        tasks = ops.get("/api/v1/tasks", params={"limit": 50}).json()["tasks"]
        pending = [t["task_id"] for t in tasks if t["status"] == "pending"]
        assert len(pending) == count
        for task_id in pending:
            wait_for(ops, task_id, {"completed"}, timeout=120)
        done = ops.get("/api/v1/tasks", params={"limit": 50, "status": "completed"}).json()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    started = sorted(done["tasks"], key=lambda t: t["started_at"])
    return [t["task_id"] for t in started]


def test_cors_admits_the_configured_cms_origin_only(idle_server: ServerProcess) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{idle_server.url}/api/v1/generate",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )

    allowed = preflight("https://cms.example.com")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://cms.example.com"
    refused = preflight("https://evil.example.net")
    assert "access-control-allow-origin" not in refused.headers
