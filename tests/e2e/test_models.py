"""Two models behind one real `huajia serve --model A --model B` (its worker keeps one loaded,
lru): requests for each complete on their own model; one for a model nobody holds is
refused at submit on every route that queues work."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from huajia.engine.tiny import create_tiny_model
from huajia.images.encode import read_parameters
from tests.e2e.flows import submit, wait_for
from tests.support.server import ServerProcess, StartServer


@pytest.fixture(scope="module")
def server(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    """Two models, one of them resident at a time."""
    second = create_tiny_model(tmp_path_factory.mktemp("models") / "b", seed=1, name="tiny-b")
    return start_server(
        extra_env={"HUAJIA_MODEL_RESIDENCY": "lru", "HUAJIA_RESIDENT_MODELS": "1"},
        extra_args=["--model", str(second)],
    )


def test_requests_for_each_model_complete_on_that_model(client: httpx.Client) -> None:
    listed = client.get("/api/v1/models").json()
    assert listed["default"] == "tiny"
    assert [(m["name"], m["available"]) for m in listed["models"]] == [
        ("tiny", True), ("tiny-b", True),
    ]  # fmt: skip

    tasks = {
        "tiny-b": submit(client, model="tiny-b", seed=5)["task_id"],
        "tiny": submit(client, seed=5)["task_id"],  # no model named: the default
    }
    for model, task_id in tasks.items():
        done = wait_for(client, task_id, {"completed", "failed"})
        assert done["status"] == "completed", done
        result = client.get(f"/api/v1/tasks/{task_id}/result").json()
        assert result["parameters"]["model"] == model
        image = client.get(result["images"][0]["url"])
        assert image.status_code == 200
        assert read_parameters(image.content)["model"] == model, "the file says which model"

    health = settled_health(client)
    assert [(m["name"], m["held"], m["workers"]) for m in health["models"]] == [
        ("tiny", True, 1), ("tiny-b", True, 1),
    ]  # fmt: skip
    assert sum(m["loaded_on"] for m in health["models"]) == 1, "lru: one model loaded"


def settled_health(client: httpx.Client, timeout: float = 30) -> dict[str, Any]:
    """Health once the worker's presence shows a model loaded (it beats every 2 s, and a
    beat taken while it swaps models shows none)."""
    deadline = time.monotonic() + timeout
    while True:
        health: dict[str, Any] = client.get("/api/v1/health").json()
        if any(m["loaded_on"] for m in health["models"]) or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


def test_a_model_nobody_holds_is_refused_at_submit_on_every_route(client: httpx.Client) -> None:
    refusals = [
        client.post("/api/v1/generate", json={"prompt": "x", "model": "sdxl"}),
        client.post("/v1/images/generations", json={"prompt": "x", "model": "sdxl"}),
        client.post("/v1/images/edits", data={"prompt": "x", "model": "sdxl"},
                    files={"image": ("kite.png", a_png(), "image/png")}),
        client.post("/api/v1/batches", json={"lines": "a kite", "model": "sdxl"}),
    ]  # fmt: skip
    for response in refusals:
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "model_not_available"
        assert "'sdxl'" in error["message"] and "tiny, tiny-b" in error["message"]
    assert client.get("/api/v1/health").json()["queue_depth"] == 0, "nothing was queued"


def a_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()
