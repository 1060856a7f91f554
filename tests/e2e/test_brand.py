"""Brand at run time on a real server: presets and LoRAs added through the API are used by
the next request, on a second API process too, without a restart."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from tests.e2e.flows import submit, wait_for
from tests.engine.conftest import fused_qkv_lora, lora_factors, lora_in_layout, write
from tests.support.server import ServerProcess, free_port, server_env, start_huajia

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loras")


@pytest.fixture(scope="module")
def loras(tiny_model_dir: Path, lora_dir: Path) -> dict[str, Path]:
    """Tiny LoRAs for the tiny model: one that fits, one that only partly fits (fused qkv)."""
    base = load_file(str(tiny_model_dir / "transformer" / "diffusion_pytorch_model.safetensors"))
    factors = lora_factors(base, seed=1)
    outside = lora_dir.parent / "outside.safetensors"
    return {
        "fits": write(lora_in_layout(factors, "kohya"), lora_dir / "ink.safetensors"),
        "partial": write(fused_qkv_lora(factors), lora_dir / "comfy.safetensors"),
        "outside": write(lora_in_layout(factors, "diffusers"), outside),
    }


@pytest.fixture(scope="module")
def servers(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, lora_dir: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A server with its worker, and a second API process (no worker) on the same database."""
    data = tmp_path_factory.mktemp("brand-data")
    env = {"HUAJIA_LORA_DIRS": f'["{lora_dir}"]'}
    first = start_huajia(data, tiny_model_dir, env)
    second = ServerProcess(data, tiny_model_dir, free_port(), server_env(env), ["--no-worker"])
    second.start(wait_for_model=False)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture
def clients(servers: tuple[ServerProcess, ServerProcess]) -> Iterator[tuple[httpx.Client, ...]]:
    with (
        httpx.Client(base_url=servers[0].url, timeout=30) as one,
        httpx.Client(base_url=servers[1].url, timeout=30) as two,
    ):
        yield one, two


def preset(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "labels": {"zh-CN": "水墨", "en": "Ink"},
            "prompt_template": "{prompt}, drawn in ink", **fields}  # fmt: skip


def pixels(client: httpx.Client, task_id: str) -> np.ndarray:
    result = wait_for(client, task_id, {"completed", "failed"})
    assert result["status"] == "completed", result
    url = client.get(f"/api/v1/tasks/{task_id}/result").json()["image_urls"][0]
    image = Image.open(io.BytesIO(client.get(url).content)).convert("RGB")
    return np.asarray(image).astype(np.int16)


def test_a_preset_created_on_one_process_is_used_on_the_other(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    one, two = clients
    assert one.post("/api/v1/presets", json=preset("ink")).status_code == 201
    listed = two.get("/api/v1/presets").json()["presets"]
    assert "ink" in [style["name"] for style in listed]
    assert "photorealistic" in [style["name"] for style in listed], "the TOML seeded the rest"
    first = submit(two, style_preset="ink", seed=5)
    done = one.get(f"/api/v1/tasks/{first['task_id']}").json()["request"]
    assert done["style_preset"] == "ink" and done["preset_version"] == 1
    assert done["resolved"]["prompt"] == "a lighthouse at dusk, drawn in ink"

    edited = two.put("/api/v1/presets/ink", json={**preset("ink"), "name": None} | {
        "prompt_template": "{prompt}, etched in copper"})  # fmt: skip
    assert edited.status_code == 422, "the name is the path's, not the body's"
    body = {k: v for k, v in preset("ink").items() if k != "name"}
    body["prompt_template"] = "{prompt}, etched in copper"
    assert two.put("/api/v1/presets/ink", json=body).json()["version"] == 2
    second = submit(one, style_preset="ink", seed=5)["task_id"]
    request = one.get(f"/api/v1/tasks/{second}").json()["request"]
    assert (request["preset_version"], request["resolved"]["prompt"]) == (
        2, "a lighthouse at dusk, etched in copper",
    )  # fmt: skip

    retired = one.delete("/api/v1/presets/ink")
    assert retired.status_code == 200 and retired.json()["retired"]
    refused = two.post("/api/v1/generate", json={"prompt": "x", "style_preset": "ink"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "preset_retired"
    assert "ink" not in [s["name"] for s in two.get("/api/v1/presets").json()["presets"]]
    old = one.get(f"/api/v1/tasks/{first['task_id']}").json()["request"]
    assert (old["style_preset"], old["preset_version"]) == ("ink", 1)
    history = one.get("/api/v1/presets/ink").json()
    assert [v["version"] for v in history["versions"]] == [1, 2, 3]
    actions = [
        e["action"] for e in one.get("/api/v1/audit", params={"limit": 200}).json()["events"]
    ]
    assert {"preset.create", "preset.update", "preset.retire"} <= set(actions)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"prompt_template": "no slot here"}, 422, "invalid_request"),
        ({"lora": "nobody"}, 422, "invalid_request"),
        ({"defaults": {"width": 100000}}, 422, "invalid_request"),
        ({"name": "Bad Name"}, 422, "invalid_request"),
        ({"name": "photorealistic"}, 409, "already_exists"),
    ],
)
def test_bad_presets_are_refused_and_change_nothing(
    clients: tuple[httpx.Client, httpx.Client], change: dict[str, Any], status: int, code: str
) -> None:
    one, _ = clients
    before = one.get("/api/v1/presets").json()
    answer = one.post("/api/v1/presets", json=preset("broken") | change)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert one.get("/api/v1/presets").json() == before
    assert one.get("/api/v1/presets/broken").status_code == 404


def test_a_registered_lora_is_used_without_a_restart(
    clients: tuple[httpx.Client, httpx.Client], loras: dict[str, Path]
) -> None:
    one, two = clients
    plain = pixels(one, submit(one, seed=9)["task_id"])
    refused = one.post("/api/v1/generate", json={"prompt": "x", "loras": [{"name": "ink"}]})
    assert refused.status_code == 422, "not registered yet"
    answer = two.post("/api/v1/loras", json={"name": "ink", "path": str(loras["fits"])})
    assert answer.status_code == 201, answer.text
    report = answer.json()["report"]
    assert report["modules_applied"] == report["modules_targeted"] > 0
    assert answer.json()["identity"].startswith("sha256:")
    styled = pixels(one, submit(one, seed=9, loras=[{"name": "ink", "weight": 1.0}])["task_id"])
    assert np.abs(styled - plain).mean() > 5, "the LoRA did not change the image"
    assert one.post("/api/v1/presets", json=preset("inked", lora="ink")).status_code == 201
    via_preset = pixels(one, submit(two, seed=9, style_preset="inked")["task_id"])
    assert np.abs(via_preset - plain).mean() > 5
    assert [lora["name"] for lora in two.get("/api/v1/loras").json()["loras"]] == ["ink"]
    assert "ink" in one.get("/api/v1/models").json()["loras"]
    events = one.get("/api/v1/audit", params={"action": "lora.register"}).json()["events"]
    assert [event["target"] for event in events] == ["ink"]


def test_a_partial_lora_is_refused_with_its_report(
    clients: tuple[httpx.Client, httpx.Client], loras: dict[str, Path]
) -> None:
    one, _ = clients
    answer = one.post("/api/v1/loras", json={"name": "comfy", "path": str(loras["partial"])})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "lora_misfit"
    assert 0 < error["report"]["modules_applied"] < error["report"]["modules_targeted"]
    assert all(name.endswith(".attention.qkv") for name in error["report"]["not_applied"])
    assert "comfy" not in [lora["name"] for lora in one.get("/api/v1/loras").json()["loras"]]


def test_paths_outside_the_lora_folders_are_refused(
    clients: tuple[httpx.Client, httpx.Client], loras: dict[str, Path], lora_dir: Path
) -> None:
    one, _ = clients
    for path in (str(loras["outside"]), f"{lora_dir}/../outside.safetensors", "/etc/passwd"):
        answer = one.post("/api/v1/loras", json={"name": "sneaky", "path": path})
        assert answer.status_code == 422, path
        assert answer.json()["error"]["code"] == "path_not_allowed"
    listed = one.get("/api/v1/loras", params={"include_retired": True}).json()["loras"]
    assert "sneaky" not in [lora["name"] for lora in listed]


def test_an_uploaded_lora_is_saved_checked_and_retired(
    clients: tuple[httpx.Client, httpx.Client], loras: dict[str, Path], lora_dir: Path
) -> None:
    one, _ = clients
    files = {"file": ("mine.safetensors", loras["fits"].read_bytes())}
    answer = one.post("/api/v1/loras", data={"name": "uploaded"}, files=files)
    assert answer.status_code == 201, answer.text
    saved = Path(answer.json()["path"])
    assert saved.parent == lora_dir.resolve() and saved.read_bytes() == loras["fits"].read_bytes()
    bad = {"file": ("bad.safetensors", loras["partial"].read_bytes())}
    refused = one.post("/api/v1/loras", data={"name": "bad"}, files=bad)
    assert refused.json()["error"]["code"] == "lora_misfit"
    assert (
        sorted(p.name for p in lora_dir.iterdir() if "bad" in p.name or p.suffix == ".part") == []
    )
    assert one.delete("/api/v1/loras/uploaded").json()["retired"]
    again = one.post("/api/v1/generate", json={"prompt": "x", "loras": [{"name": "uploaded"}]})
    assert again.status_code == 422
