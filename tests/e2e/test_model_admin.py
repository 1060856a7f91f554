"""Two models behind one real `huajia serve`, as an operator and a client meet them: each model
has its own form (defaults, limits, size presets) and requests are checked against the model
they name; an admin reloads one model by name and only that one moves to a new revision; the
OpenAI-compatible routes list the models and route to the one named."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from safetensors.torch import load_file, save_file

from huajia.images.encode import read_parameters
from tests.e2e.flows import wait_for
from tests.support.server import ServerProcess, StartServer, huajia_command
from tests.support.two_models import (
    SECOND,
    SECOND_DEFAULTS,
    SECOND_MAX_SIZE,
    SECOND_MAX_STEPS,
    two_models_settings,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    return start_server(*two_models_settings(tmp_path_factory.mktemp("models")))


def models_by_name(client: httpx.Client) -> dict[str, dict[str, Any]]:
    listed = client.get("/api/v1/models")
    assert listed.status_code == 200, listed.text
    return {model["name"]: model for model in listed.json()["models"]}


def generate(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/api/v1/generate", json={"prompt": "a paper lantern", **fields})


def test_each_model_lists_its_own_defaults_limits_and_sizes(client: httpx.Client) -> None:
    models = models_by_name(client)
    first, second = models["tiny"], models[SECOND]
    assert second["limits"]["max_size"] == SECOND_MAX_SIZE
    assert second["limits"]["max_steps"] == SECOND_MAX_STEPS
    assert (second["defaults"]["width"], second["defaults"]["steps"]) == (
        SECOND_DEFAULTS["width"], SECOND_DEFAULTS["steps"],
    )  # fmt: skip
    assert first["limits"]["max_size"] == 1024, "the default keeps its own"
    assert second["sizes"] and first["sizes"]
    assert all(max(s["width"], s["height"]) <= SECOND_MAX_SIZE for s in second["sizes"])
    assert max(s["width"] for s in first["sizes"]) > SECOND_MAX_SIZE

    presets = client.get("/api/v1/presets", params={"model": SECOND}).json()
    assert presets["sizes"] == second["sizes"], "the panel's catalog for that model"
    assert client.get("/api/v1/presets").json()["sizes"] == first["sizes"]
    unknown = client.get("/api/v1/presets", params={"model": "sdxl"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "model_not_available"


def test_a_request_is_checked_against_the_model_it_names(client: httpx.Client) -> None:
    too_big = generate(client, model=SECOND, width=256, height=256, steps=2)
    assert too_big.status_code == 422, too_big.text
    assert str(SECOND_MAX_SIZE) in too_big.json()["error"]["message"]
    too_many_steps = generate(client, model=SECOND, steps=SECOND_MAX_STEPS + 2)
    assert too_many_steps.status_code == 422, too_many_steps.text

    fine_on_default = generate(client, width=256, height=256, steps=SECOND_MAX_STEPS + 2)
    assert fine_on_default.status_code == 202, "the default model allows both"
    own_defaults = generate(client, model=SECOND, seed=3)
    assert own_defaults.status_code == 202, own_defaults.text
    task_id = own_defaults.json()["task_id"]
    assert wait_for(client, task_id, {"completed", "failed"}, timeout=90)["status"] == "completed"
    parameters = client.get(f"/api/v1/tasks/{task_id}/result").json()["parameters"]
    assert parameters["model"] == SECOND
    ran = parameters["resolved"]
    assert (ran["width"], ran["steps"]) == (
        SECOND_DEFAULTS["width"], SECOND_DEFAULTS["steps"],
    ), "a request naming tiny-b and no size gets tiny-b's defaults"  # fmt: skip
    wait_for(client, fine_on_default.json()["task_id"], {"completed"}, timeout=90)


def test_openai_routes_list_the_models_and_generate_on_the_one_named(
    client: httpx.Client,
) -> None:
    listed = client.get("/v1/models")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["tiny", SECOND], "the default first"
    for model in body["data"]:
        assert (model["object"], model["owned_by"]) == ("model", "huajia")
        assert isinstance(model["created"], int) and model["created"] > 0
    one = client.get(f"/v1/models/{SECOND}")
    assert one.status_code == 200 and one.json()["id"] == SECOND
    missing = client.get("/v1/models/gpt-image-1")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"

    made = client.post("/v1/images/generations",
                       json={"prompt": "a kite", "model": SECOND, "size": "64x64"})  # fmt: skip
    assert made.status_code == 200, made.text
    image = client.get(made.json()["data"][0]["url"])
    assert read_parameters(image.content)["model"] == SECOND
    wide = {"prompt": "a kite", "model": SECOND, "size": "256x256"}
    too_big = client.post("/v1/images/generations", json=wide)
    assert too_big.status_code == 422, "tiny-b's limits, not the default's"
    unknown = client.post("/v1/images/generations", json={"prompt": "a kite", "model": "sdxl"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "model_not_available"


def a_fine_tune(server: ServerProcess) -> Path:
    """tiny-b's transformer, nudged: new weights for it, inside data_dir/weights (the folder
    the admin API may reload from by default)."""
    source = Path(second_model_folder(server)) / "transformer"
    base = load_file(str(source / "diffusion_pytorch_model.safetensors"))
    generator = torch.Generator().manual_seed(7)
    tuned = {k: (v + 0.2 * torch.randn(v.shape, generator=generator)).contiguous()
             for k, v in base.items()}  # fmt: skip
    folder = server.data_dir / "weights"
    folder.mkdir(exist_ok=True)
    path = folder / "tiny-b-tuned.safetensors"
    save_file(tuned, str(path))
    return path


def second_model_folder(server: ServerProcess) -> str:
    """Where the test put tiny-b (the server never shows paths: the test's settings say)."""
    specs = json.loads(server.env["HUAJIA_MODELS"])
    return str(specs[0]["source"])


def worker_revisions(client: httpx.Client) -> dict[str, int | None]:
    """The revision each model is held at on the (one) worker, as health shows it."""
    workers = [w for w in client.get("/api/v1/health").json()["workers"] if w.get("engine")]
    held = workers[0]["engine"].get("models", {}) if workers else {}
    return {name: (facts.get("revision") or {}).get("revision") for name, facts in held.items()}


def test_an_admin_reloads_one_model_by_name_and_only_that_one_moves(
    server: ServerProcess, client: httpx.Client
) -> None:
    health = client.get("/api/v1/health").json()
    before = {model["name"]: model["revision"]["revision"] for model in health["models"]}
    assert health["model_revision"]["revision"] == before["tiny"]

    refused = client.post("/api/v1/admin/reload", json={"model": "z-image-turbo"})
    assert refused.status_code == 422, "a registry name not served here"
    assert refused.json()["error"]["code"] == "model_not_available"
    assert "tiny, tiny-b" in refused.json()["error"]["message"]
    unknown = client.get("/api/v1/admin/revisions", params={"model": "sdxl"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "model_not_available"

    report = client.post(
        "/api/v1/admin/reload", json={"model": SECOND, "weights": str(a_fine_tune(server))}
    )
    assert report.status_code == 200, report.text
    summary = report.json()
    assert summary["model"] == SECOND and summary["changed"] is True
    new = summary["revision"]["revision"]
    assert "tiny-b-tuned" in summary["revision"]["weights"]

    health = client.get("/api/v1/health").json()
    now = {model["name"]: model["revision"]["revision"] for model in health["models"]}
    assert now == {"tiny": before["tiny"], SECOND: new}, "only the model named moved"
    assert health["model_revision"]["revision"] == before["tiny"]
    history = client.get("/api/v1/admin/revisions", params={"model": SECOND}).json()
    assert history["model"] == SECOND
    assert [r["revision"] for r in history["revisions"]] == [new, before[SECOND]]
    assert [r["source"] for r in history["revisions"]] == ["reload", "settings"]
    default_history = client.get("/api/v1/admin/revisions").json()
    assert default_history["model"] == "tiny"
    assert [r["revision"] for r in default_history["revisions"]] == [before["tiny"]]

    deadline = time.monotonic() + 60
    while worker_revisions(client).get(SECOND) != new and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker_revisions(client) == {"tiny": before["tiny"], SECOND: new}

    task = generate(client, model=SECOND, seed=3).json()["task_id"]
    assert wait_for(client, task, {"completed", "failed"}, timeout=90)["status"] == "completed"
    record = client.get(f"/api/v1/tasks/{task}").json()
    assert record["request"]["model_revision"] == new
    assert record["cached"] is False, "same seed as before the reload: other weights"


def test_v1_models_asks_for_a_key_like_every_v1_route(server: ServerProcess) -> None:
    """Runs last in this module: once a key exists, the service asks every caller for one."""
    created = huajia_command(["keys", "create", "ops", "--role", "admin"], server.data_dir,
                             server.env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    for path in ("/v1/models", f"/v1/models/{SECOND}", "/api/v1/admin/revisions"):
        assert httpx.get(server.url + path).status_code == 401, path
        answer = httpx.get(server.url + path, headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200, (path, answer.text)
