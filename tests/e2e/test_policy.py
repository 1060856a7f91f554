"""Per-key policy through a real server: rules edited over the API apply to the next request,
blocked prompts queue nothing, and one key over its quota or rate leaves the others alone.

The server runs without a worker, so accepted tasks stay pending and the queue can be read.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.flows import SMALL
from tests.e2e.test_auth import create_key, key_id
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e

NAMES = [("alice", "editor"), ("bob", "editor"), ("carol", "editor"), ("ops", "admin")]


@pytest.fixture(scope="module")
def policed(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[ServerProcess, dict[str, httpx.Client]]]:  # fmt: skip
    data = tmp_path_factory.mktemp("policy")
    secrets = {name: create_key(data, name, role) for name, role in NAMES}
    server = start_huajia(data, tiny_model_dir, None, ["--no-worker"])
    clients = {name: httpx.Client(base_url=server.url, headers={"X-API-Key": secret}, timeout=30)
               for name, secret in secrets.items()}  # fmt: skip
    yield server, clients
    for client in clients.values():
        client.close()
    server.stop()


def pending(admin: httpx.Client) -> int:
    return int(admin.get("/api/v1/tasks", params={"status": "pending"}).json()["total"])


def generate(client: httpx.Client, prompt: str, **fields: Any) -> httpx.Response:
    return client.post("/api/v1/generate", json={"prompt": prompt, **SMALL, **fields})


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_policy_saved_over_the_api_blocks_the_next_prompt_on_every_route(
    policed: tuple[ServerProcess, dict[str, httpx.Client]],
) -> None:
    _, clients = policed
    admin, alice = clients["ops"], clients["alice"]
    prompt = "一双耐克运动鞋 on a marble plinth, studio light"
    assert generate(alice, prompt).status_code == 202, "nothing blocked yet"
    rules = {"blocked_terms": ["耐克"], "blocked_patterns": [r"air\s*jordan"],
             "negative_prompt": "watermark, brand logo"}  # fmt: skip
    saved = admin.put("/api/v1/policy", json=rules)
    assert saved.status_code == 200, saved.text
    before = pending(admin)

    refused = generate(alice, prompt)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "prompt_blocked" and "'耐克'" in error["message"]
    assert "marble plinth" not in refused.text, "the prompt is not echoed"
    openai = alice.post("/v1/images/generations", json={"prompt": "ＡＩＲ  Jordan 1 in red"})
    assert openai.status_code == 422 and openai.json()["error"]["code"] == "prompt_blocked"
    edit = alice.post("/v1/images/edits", data={"prompt": "add Air Jordans"},
                      files={"image": ("shoe.png", png(), "image/png")})  # fmt: skip
    assert edit.status_code == 422 and edit.json()["error"]["code"] == "prompt_blocked"
    assert pending(admin) == before, "nothing was queued"

    accepted = generate(alice, "a lantern", negative_prompt="blur")
    assert accepted.status_code == 202
    record = alice.get(f"/api/v1/tasks/{accepted.json()['task_id']}").json()
    assert record["request"]["resolved"]["negative_prompt"] == "blur, watermark, brand logo"
    trail = admin.get("/api/v1/audit", params={"action": "prompt.blocked"}).json()["events"]
    assert len(trail) == 3 and all("prompt" not in event["detail"] for event in trail)
    assert trail[-1]["detail"]["rule"] == "耐克"


def test_a_malformed_pattern_is_refused_and_nothing_changes(
    policed: tuple[ServerProcess, dict[str, httpx.Client]],
) -> None:
    admin = policed[1]["ops"]
    before = admin.get("/api/v1/policy").json()
    refused = admin.put("/api/v1/policy", json={"blocked_patterns": ["ok", "(unclosed"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_policy"
    assert "'(unclosed'" in refused.json()["error"]["message"]
    assert admin.get("/api/v1/policy").json() == before
    editor = policed[1]["bob"].put("/api/v1/policy", json={})
    assert editor.status_code == 403


def test_one_key_over_its_quota_or_rate_gets_429_while_another_key_is_served(
    policed: tuple[ServerProcess, dict[str, httpx.Client]],
) -> None:
    server, clients = policed
    admin, alice, bob, carol = (clients[name] for name in ("ops", "alice", "bob", "carol"))
    alice_id, carol_id = (key_id(server.data_dir, name) for name in ("alice", "carol"))
    used = int(alice.get("/api/v1/tasks").json()["total"])  # earlier tests' images (1 each)
    quota = admin.put(f"/api/v1/keys/{alice_id}/policy", json={"daily_image_quota": used + 2})
    assert quota.status_code == 200 and quota.json()["effective"]["daily_image_quota"] == used + 2
    assert alice.get("/api/v1/policy/me").json()["daily_image_quota"] == used + 2
    assert generate(alice, "a kite", num_images=2).status_code == 202
    over = generate(alice, "a kite")
    assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded"
    assert int(over.headers["retry-after"]) > 0
    assert generate(bob, "a kite").status_code == 202

    if datetime.now(UTC).second >= 50:  # keep the three requests inside one minute
        time.sleep(61 - datetime.now(UTC).second)
    assert admin.put(f"/api/v1/keys/{carol_id}/policy", json={"rate_per_minute": 2}).is_success
    assert [generate(carol, f"a boat {i}").status_code for i in range(2)] == [202, 202]
    limited = generate(carol, "a boat 3")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert generate(bob, "a boat").status_code == 202, "other keys are not affected"

    assert admin.delete(f"/api/v1/keys/{alice_id}/policy").status_code == 204
    assert generate(alice, "a kite").status_code == 202, "the override is gone at once"
