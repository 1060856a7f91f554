"""Live swaps, as an operator does them: new weights and a changed LoRA file are taken up by
`huajia reload` while the service runs. Tasks submitted before keep the old identity, tasks
after use the new one, the result cache never mixes them, and a file that fails to load
leaves the old one serving with the reason in health."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from huajia.images.encode import read_parameters
from tests.e2e.flows import SMALL, wait_for
from tests.engine.conftest import lora_factors, lora_in_layout, write
from tests.support.server import ServerProcess, StartServer, huajia_command

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def files(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two 'fine-tunes' of the tiny model, a broken one, and two versions of one LoRA."""
    folder = tmp_path_factory.mktemp("model-files")
    base = load_file(str(tiny_model_dir / "transformer" / "diffusion_pytorch_model.safetensors"))
    made = {}
    for name, seed in (("brand-a", 1), ("brand-b", 2)):
        generator = torch.Generator().manual_seed(seed)
        tuned = {k: v + 0.2 * torch.randn(v.shape, generator=generator) for k, v in base.items()}
        made[name] = write(tuned, folder / f"{name}.safetensors")
    # Right names, wrong shapes: it passes the quick check and fails to load on the worker.
    wrong = {k: torch.zeros(*(s + 1 for s in v.shape)) for k, v in base.items()}
    made["broken"] = write(wrong, folder / "broken.safetensors")
    loras = folder / "loras"
    loras.mkdir()
    made["lora"] = write(lora_in_layout(lora_factors(base, seed=3), "kohya"),
                         loras / "ink.safetensors")  # fmt: skip
    made["lora-v2"] = write(lora_in_layout(lora_factors(base, seed=4), "kohya"),
                            folder / "ink-v2.safetensors")  # fmt: skip
    return made


@pytest.fixture(scope="module")
def server(start_server: StartServer, files: dict[str, Path]) -> ServerProcess:
    """Serves brand-a's weights and the LoRA folder (`reload` runs with its environment)."""
    env = {
        "HUAJIA_WEIGHTS": str(files["brand-a"]),
        "HUAJIA_LORA_DIRS": json.dumps([str(files["lora"].parent)]),
    }
    return start_server(env)


def reload(server: ServerProcess, *args: str) -> dict[str, Any]:
    command = ["reload", "--model", str(server.model_dir), *args]
    done = huajia_command(command, server.data_dir, server.env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def generated(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "a paper lantern", "seed": 5, **SMALL, **fields}
    answer = client.post("/api/v1/generate", json=body)
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    wait_for(client, task_id, {"completed"}, timeout=90)
    return dict(client.get(f"/api/v1/tasks/{task_id}").json())


def file_of(client: httpx.Client, task: dict[str, Any]) -> tuple[dict[str, object], np.ndarray]:
    data = client.get(task["images"][0]["url"]).content
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)
    return read_parameters(data), pixels


def wait_for_revision(client: httpx.Client, revision: int) -> dict[str, Any]:
    """Health once a worker reports serving that revision."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = client.get("/api/v1/health").json()
        served = [w["engine"].get("revision") for w in health["workers"] if w.get("engine")]
        if any(r and r["revision"] == revision for r in served):
            return dict(health)
        time.sleep(0.1)
    raise AssertionError(f"no worker took up revision {revision}: {health}")


def test_new_weights_serve_tasks_submitted_after_the_reload(
    server: ServerProcess, client: httpx.Client, files: dict[str, Path]
) -> None:
    before = generated(client)
    first = before["request"]["model_revision"]
    shown = client.get("/api/v1/health").json()["model_revision"]
    assert shown["revision"] == first and "brand-a" in shown["weights"]

    report = reload(server, "--weights", str(files["brand-b"]))
    after = generated(client)

    second = report["revision"]["revision"]
    assert report["changed"] is True and second > first
    assert after["request"]["model_revision"] == second
    assert after["cached"] is False  # same seed and prompt: the cache does not mix weights
    old_params, old_pixels = file_of(client, before)
    new_params, new_pixels = file_of(client, after)
    assert old_params["weights"] == "brand-a.safetensors"
    assert new_params["weights"] == "brand-b.safetensors"
    assert np.abs(old_pixels - new_pixels).mean() > 1.0
    health = wait_for_revision(client, second)
    assert health["model_revision"]["revision"] == second
    assert health["reload_error"] is None
    assert reload(server)["changed"] is False  # nothing new: no new revision


def test_a_file_that_fails_to_load_leaves_the_old_one_serving(
    server: ServerProcess, client: httpx.Client, files: dict[str, Path]
) -> None:
    serving = client.get("/api/v1/health").json()["model_revision"]["revision"]

    broken = reload(server, "--weights", str(files["broken"]))["revision"]["revision"]
    task = generated(client)  # pinned to the broken revision, then moved back when it fails

    health = client.get("/api/v1/health").json()
    assert health["reload_error"] and "broken" not in json.dumps(health["model_revision"])
    assert "shape" in health["reload_error"] or "match" in health["reload_error"]
    assert health["model_revision"]["revision"] == serving != broken
    assert task["status"] == "completed"
    params, _ = file_of(client, task)
    assert params["weights"] == "brand-b.safetensors"


def test_a_changed_lora_file_is_taken_up_by_reload(
    server: ServerProcess, client: httpx.Client, files: dict[str, Path]
) -> None:
    registered = client.post("/api/v1/loras", json={"name": "ink", "path": str(files["lora"])})
    assert registered.status_code in (200, 201), registered.text
    ink = [{"name": "ink", "weight": 1.0}]
    before = generated(client, loras=ink)

    files["lora"].write_bytes(files["lora-v2"].read_bytes())  # the artist's new version
    same = generated(client, loras=ink)
    report = reload(server)
    after = generated(client, loras=ink)

    assert same["cached"] is True  # not reloaded yet: still the registered version
    assert report["loras_changed"] == ["ink"]
    assert after["cached"] is False
    assert np.abs(file_of(client, before)[1] - file_of(client, after)[1]).mean() > 1.0
