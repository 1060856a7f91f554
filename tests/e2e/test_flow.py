"""The CMS's flows through real HTTP against a real `huajia serve` on the tiny model."""

from __future__ import annotations

import base64
import io
import time

import httpx
import pytest
from PIL import Image

from huajia.images.encode import is_ai_generated, read_parameters, read_xmp
from huajia.images.labels import read_label
from tests.e2e.flows import SMALL, follow_while_held, read_events, submit, wait_for
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_submit_follow_sse_then_fetch_the_images(
    server: ServerProcess, client: httpx.Client
) -> None:
    accepted, (events,), _ = follow_while_held(
        client, server.workers(), num_images=2, seed=1234, steps=4, prompt="一只红色的狐狸"
    )
    assert accepted["status"] == "pending"
    assert accepted["check_status_url"] == f"/api/v1/tasks/{accepted['task_id']}/status"
    assert isinstance(accepted["queue_position"], int)
    names = [name for name, _ in events]
    assert names[0] == "status"
    assert names[-1] == "completed"
    steps = [data["current_step"] for name, data in events if name == "progress"]
    assert steps[-1] == 4 and steps == sorted(steps), f"progress per step: {steps}"
    result = events[-1][1]
    assert result["count"] == 2
    assert [image["seed"] for image in result["images"]] == [1234, 1235]
    for image in result["images"]:
        response = client.get(image["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert "immutable" in response.headers["cache-control"]
        assert Image.open(io.BytesIO(response.content)).size == (64, 64)
        parameters = read_parameters(response.content)
        assert parameters["prompt"] == "一只红色的狐狸"
        assert parameters["seed"] == image["seed"]
        assert is_ai_generated(response.content)
        assert client.get(image["thumbnail_url"]).headers["content-type"] == "image/webp"
        saved = client.get(image["url"], params={"download": "1"})
        assert saved.headers["content-disposition"].startswith("attachment; filename=")


def test_seed_poll_flow(client: httpx.Client) -> None:
    accepted = submit(client, num_images=1)
    early = client.get(f"/api/v1/tasks/{accepted['task_id']}/result")
    if early.status_code != 200:
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "task_not_completed"
    wait_for(client, accepted["task_id"], {"completed"})
    result = client.get(f"/api/v1/tasks/{accepted['task_id']}/result").json()
    assert result["count"] == 1
    assert len(result["image_urls"]) == 1
    assert set(result["images"][0]) >= {"url", "width", "height", "seed", "format"}
    record = client.get(f"/api/v1/tasks/{accepted['task_id']}").json()
    assert record["status"] == "completed"
    assert record["attempts"] == 1


def test_cancel_pending_and_processing_tasks(server: ServerProcess, client: httpx.Client) -> None:
    workers = server.workers()
    with workers.held():  # nothing is claimed until the pending one is canceled
        long = submit(client, steps=50, width=256, height=256, num_images=2)
        pending = submit(client)
        canceled = client.post(f"/api/v1/tasks/{pending['task_id']}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    wait_for(client, long["task_id"], {"processing"})
    with workers.held():  # held mid-run: the cancel arrives while it is processing
        t0 = time.monotonic()
        client.post(f"/api/v1/tasks/{long['task_id']}/cancel")
    final = wait_for(client, long["task_id"], {"canceled", "completed", "failed"})
    assert final["status"] == "canceled"
    assert final["current_step"] < 50
    assert time.monotonic() - t0 < 10
    again = client.post(f"/api/v1/tasks/{long['task_id']}/cancel")
    assert again.status_code == 200
    assert again.json()["status"] == "canceled"
    events = read_events(client, long["task_id"], timeout=5)
    assert events[-1][0] == "canceled", "a late subscriber gets the terminal event at once"
    # The worker goes on with the next task.
    after = submit(client)
    assert wait_for(client, after["task_id"], {"completed", "failed"})["status"] == "completed"


def test_idempotency_key_returns_the_same_task(client: httpx.Client) -> None:
    body = {"prompt": "a kite", **SMALL}
    headers = {"Idempotency-Key": "cms-article-42-cover"}
    first = client.post("/api/v1/generate", json=body, headers=headers).json()
    second = client.post("/api/v1/generate", json=body, headers=headers).json()
    assert first["task_id"] == second["task_id"]
    other = client.post("/api/v1/generate", json=body, headers={"Idempotency-Key": "x"}).json()
    assert other["task_id"] != first["task_id"]


def test_an_idempotency_key_reused_for_another_request_is_refused(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "cms-article-43"}
    client.post("/api/v1/generate", json={"prompt": "a cat", **SMALL}, headers=headers)
    other = client.post("/api/v1/generate", json={"prompt": "a dog", **SMALL}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    empty = client.post(
        "/api/v1/generate", json={"prompt": "a cat"}, headers={"Idempotency-Key": ""}
    )
    assert empty.status_code == 422


def test_result_cache_for_explicit_seeds_only(client: httpx.Client) -> None:
    first = submit(client, seed=77, num_images=2)
    wait_for(client, first["task_id"], {"completed"})
    again = submit(client, seed=77, num_images=2)
    assert again["status"] == "completed", "same seed and parameters come from the cache"
    urls = lambda task_id: client.get(f"/api/v1/tasks/{task_id}/result").json()["image_urls"]  # noqa: E731
    assert urls(again["task_id"]) == urls(first["task_id"])
    assert submit(client, seed=77, num_images=1)["status"] == "pending", "count is in the key"
    assert submit(client, seed=77, num_images=2, style_preset="anime")["status"] == "pending"
    random_seed = submit(client, num_images=2)
    wait_for(client, random_seed["task_id"], {"completed"})
    assert submit(client, num_images=2)["status"] == "pending", "random seeds never hit the cache"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "num_images": 10}, "num_images"),
        ({"prompt": "x", "width": 100}, "multiple of 16"),
        ({"prompt": "x", "width": 4000}, "width"),
        ({"prompt": "x", "steps": 0}, "steps"),
        ({"prompt": "x", "style_preset": "vaporwave"}, "photorealistic"),
        ({"prompt": "x", "priority": "urgent"}, "priority"),
        ({"prompt": "x", "promt": "typo"}, "unknown field"),
        ({"prompt": "a" * 600}, "tokens"),
        ({"prompt": "x", "model": "sdxl"}, "'sdxl' is not served here; available models: tiny"),
        ({"prompt": "x", "webhook_url": "http://cms.local/hook"}, "HUAJIA_WEBHOOK_SECRET"),
        ({"prompt": "x", "webhook_url": "ftp://cms.local/hook"}, "webhook_url"),
    ],
)
def test_invalid_inputs_get_422_with_a_clear_message(
    client: httpx.Client, body: dict[str, object], needle: str
) -> None:
    response = client.post("/api/v1/generate", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in {
        "invalid_request",
        "prompt_too_long",
        "unknown_preset",
        "model_not_available",
    }
    assert needle in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/images/generations", {"prompt": "x", "size": "0x0"}),
        ("post", "/v1/images/generations", {"prompt": "x", "size": "²x16"}),
        ("post", "/v1/images/generations", {"prompt": "x", "size": "99999999999999999999x16"}),
        ("post", "/v1/images/generations", {"prompt": "x", "model": "m" * 300}),
        ("post", "/api/v1/generate", {"prompt": "x\u0000y"}),
        ("get", "/api/v1/tasks?offset=9223372036854775808", None),
        ("get", "/api/v1/images?offset=9223372036854775808", None),
        ("get", "/api/v1/tasks?since=0001-01-01T00:00:00%2B14:00", None),
        ("get", "/api/v1/images?q=%00", None),
        ("get", "/api/v1/tasks/%00/status", None),
        ("post", "/api/v1/images/%00/favourite", {"favourite": True}),
        ("get", "/static/" + "a" * 300, None),
        ("get", "/vendor/ckeditor5/" + "a" * 300, None),
        ("get", "/vendor/tinymce/" + "a" * 300, None),
        ("get", "/integrations/tinymce/src/%2e%2e/package.json", None),
    ],
)
def test_odd_input_gets_a_clear_4xx_never_a_500(
    client: httpx.Client, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"]


def test_times_without_an_offset_are_utc(client: httpx.Client) -> None:
    response = client.get("/api/v1/tasks", params={"since": "2024-01-01T00:00:00"})
    assert response.status_code == 200


def test_health_shows_no_file_paths(client: httpx.Client, server: object) -> None:
    health = client.get("/api/v1/health").text
    assert "/tmp" not in health and '"source"' not in health


def test_not_json_and_unknown_task_are_clear_errors(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/generate", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    missing = client.get("/api/v1/tasks/does-not-exist/status")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "task_not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/generated-images/../huajia.db",
        "/generated-images/..%2fhuajia.db",
        "/generated-images/%2e%2e/%2e%2e/etc/passwd",
        "/generated-images/20250101/../../huajia.db",
        "/generated-images//etc/passwd",
        "/generated-images/20250101/nothing-here.png",
    ],
)
def test_path_traversal_on_the_image_route_is_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"SQLite" not in response.content
    assert b"root:" not in response.content


def test_openai_compatible_route_with_the_openai_sdk(server: object, client: httpx.Client) -> None:
    openai = pytest.importorskip("openai")
    with openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="unused-on-localhost") as sdk:
        result = sdk.images.generate(model="dall-e-3", prompt="a paper boat", n=2, size="64x64")
        encoded = sdk.images.generate(prompt="a boat", size="64x64", response_format="b64_json")
    assert len(result.data) == 2
    for datum in result.data:
        assert datum.url is not None
        image = client.get(datum.url)
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
    assert encoded.data is not None and encoded.data[0].b64_json
    assert base64.b64decode(encoded.data[0].b64_json).startswith(b"\x89PNG")


def test_an_openai_caller_that_leaves_cancels_its_waiting_task(
    server: ServerProcess, client: httpx.Client
) -> None:
    """The synchronous route waits on the task watcher; a client that hangs up while its task
    still waits (the worker is held) gets the task canceled, not generated for nobody."""
    with server.workers().held():
        with pytest.raises(httpx.TimeoutException):
            client.post("/v1/images/generations", json={"prompt": "a lonely kite",
                        "size": "64x64"}, timeout=1.5)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            (latest,) = client.get("/api/v1/tasks", params={"limit": 1}).json()["tasks"]
            if latest["status"] == "canceled":
                break
            time.sleep(0.2)
    assert latest["request"]["prompt"] == "a lonely kite", latest
    assert latest["status"] == "canceled", "the task of a caller that left is canceled"


def test_openai_route_rejects_a_bad_size(client: httpx.Client) -> None:
    response = client.post("/v1/images/generations", json={"prompt": "x", "size": "big"})
    assert response.status_code == 422
    assert "size" in response.json()["error"]["message"]


def test_models_presets_health_metrics_docs(client: httpx.Client) -> None:
    models = client.get("/api/v1/models").json()
    assert models["models"][0]["random_weights"] is True
    assert models["models"][0]["limits"]["max_images"] == 9
    presets = client.get("/api/v1/presets").json()
    names = {preset["name"] for preset in presets["presets"]}
    assert {"photorealistic", "illustration", "anime", "oil_painting"} <= names
    health = client.get("/api/v1/health").json()
    assert health["model_loaded"] is True
    assert health["device"] == "cpu"
    assert {"queue_depth", "active_tasks"} <= set(health)
    metrics = client.get("/metrics").text
    assert "huajia_tasks{" in metrics
    assert "huajia_queue_depth" in metrics
    assert "huajia_generation_seconds_bucket" in metrics
    spec = client.get("/openapi.json").json()
    operation_ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"generate", "getTaskStatus", "getTaskResult", "cancelTask"} <= operation_ids
    assert client.get("/docs").status_code == 200


def test_a_fetched_image_names_its_record_in_its_tc260_label(client: httpx.Client) -> None:
    accepted = submit(client, num_images=2, output_format="webp")
    wait_for(client, accepted["task_id"], {"completed"})
    for image in client.get(f"/api/v1/tasks/{accepted['task_id']}/result").json()["images"]:
        label = read_label(read_xmp(client.get(image["url"]).content) or "")
        assert label is not None and (label.Label, label.ProduceID) == ("1", image["id"])
    assert client.get("/api/v1/health").json()["c2pa"] == "not configured"


def test_a_follower_resuming_with_last_event_id_gets_only_the_steps_it_missed(
    server: ServerProcess, client: httpx.Client
) -> None:
    task, (events,), _ = follow_while_held(
        client, server.workers(), steps=4, seed=77, prompt="resume me"
    )
    ids = [data for name, data in events if name == "progress"]
    assert [step["current_step"] for step in ids] == [1, 2, 3, 4]

    with client.stream(
        "GET", f"/api/v1/tasks/{task['task_id']}/events", headers={"Last-Event-ID": "0"}
    ) as stream:
        raw = "".join(stream.iter_text())
    first_id = int(raw.split("id: ", 1)[1].split("\n", 1)[0])
    with client.stream(
        "GET",
        f"/api/v1/tasks/{task['task_id']}/events",
        headers={"Last-Event-ID": str(first_id)},
    ) as stream:
        resumed = "".join(stream.iter_text())

    steps = [int(part.split('"current_step": ', 1)[1].split(",", 1)[0])
             for part in resumed.split("event: progress")[1:]]  # fmt: skip
    assert steps == [2, 3, 4]
    assert "event: completed" in resumed
    bad = client.get(f"/api/v1/tasks/{task['task_id']}/events",
                     headers={"Last-Event-ID": "yesterday"})  # fmt: skip
    assert bad.status_code == 422
