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

NAMES = [("alice", "editor"), ("bob", "editor"), ("carol", "editor"), ("dave", "editor"),
         ("ops", "admin")]  # fmt: skip
WRONG_KEY = "hj_this_key_was_never_issued_000000000000"


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


def openai_said(error: Any, status: int, kind: str, code: str, param: str | None) -> str:
    """What an OpenAI SDK exception carries: the status, OpenAI's type, Huajia's stable code,
    the field at fault and the server's message (returned) in its own text."""
    assert (error.status_code, error.type, error.code, error.param) == (status, kind, code, param)
    body = error.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert str(error) == f"Error code: {status} - {body['error']['message']}"
    return str(body["error"]["message"])


def test_an_openai_client_reads_each_refusal_as_openai_would_say_it(
    policed: tuple[ServerProcess, dict[str, httpx.Client]],
) -> None:
    """Errors under /v1 take OpenAI's shape, so the official SDK raises its own exception for
    each, with Huajia's message and code; /api/v1 keeps Huajia's shape."""
    openai = pytest.importorskip("openai")
    server, clients = policed
    admin, dave = clients["ops"], clients["dave"]
    dave_id = key_id(server.data_dir, "dave")
    assert admin.put(f"/api/v1/keys/{dave_id}/policy", json={"daily_image_quota": 0}).is_success

    def sdk(key: str) -> Any:  # no retries: each refusal is read as it first comes
        return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)

    with sdk(WRONG_KEY) as stranger, sdk(dave.headers["X-API-Key"]) as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            stranger.images.generate(prompt="a kite")
        assert "not valid" in openai_said(refused.value, 401, "authentication_error",
                                          "unauthorized", None)  # fmt: skip
        with pytest.raises(openai.RateLimitError) as over:
            client.images.generate(prompt="a kite", size="64x64")
        assert "of its 0 images" in openai_said(over.value, 429, "rate_limit_error",
                                                "quota_exceeded", None)  # fmt: skip
        assert int(over.value.response.headers["retry-after"]) > 0
        with pytest.raises(openai.UnprocessableEntityError) as bad_size:
            client.images.generate(prompt="a kite", size="big")
        assert "size" in openai_said(bad_size.value, 422, "invalid_request_error",
                                     "invalid_request", "size")  # fmt: skip
        with pytest.raises(openai.UnprocessableEntityError) as too_many:
            client.images.generate(prompt="a kite", n=10)
        openai_said(too_many.value, 422, "invalid_request_error", "invalid_request", "n")
        with pytest.raises(openai.UnprocessableEntityError) as unknown:
            client.images.generate(prompt="a kite", model="sdxl")
        assert "'sdxl'" in openai_said(unknown.value, 422, "invalid_request_error",
                                       "model_not_available", "model")  # fmt: skip
        with pytest.raises(openai.NotFoundError) as missing:
            client.models.retrieve("gpt-image-1")
        assert "'gpt-image-1'" in openai_said(missing.value, 404, "invalid_request_error",
                                              "model_not_found", "model")  # fmt: skip
        with pytest.raises(openai.NotFoundError) as no_route:
            client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "hi"}]
            )
        openai_said(no_route.value, 404, "invalid_request_error", "not_found", None)

    huajia = generate(dave, "a kite")
    assert huajia.status_code == 429
    assert set(huajia.json()["error"]) == {"code", "message"}, "/api/v1 keeps Huajia's shape"
    assert huajia.json()["error"]["code"] == "quota_exceeded"
