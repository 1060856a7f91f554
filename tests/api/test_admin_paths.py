"""Admin routes that take a file path (reload weights, register a LoRA) answer a bad path
with a 4xx that names the file within its folder: never the server's folders, and nothing
about files outside them (not even whether they exist)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.api.deps import Services
from huajia.auth.keys import Principal
from huajia.composition import build_services
from huajia.errors import PathNotAllowed
from huajia.settings import Settings

RELOAD, LORAS = "/api/v1/admin/reload", "/api/v1/loras"


@pytest.fixture
def served(tiny_model_dir: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    services = build_services(Settings(data_dir=tmp_path / "data", model=str(tiny_model_dir)))
    try:
        app = create_app(services)
        yield TestClient(app, base_url="http://localhost", client=("127.0.0.1", 50000)), services
    finally:
        services.store.close()


def refused(response: httpx.Response, *codes: str) -> str:
    """The refusal's message, after checking it is a 4xx with one of `codes`, path-free."""
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] in codes, response.text
    assert "/tmp" not in response.text and "/data/" not in response.text, response.text
    return str(response.json()["error"]["message"])


def test_weights_outside_the_weights_folders_are_refused_without_a_path(
    served: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, _ = served
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes(b"not weights")

    there = refused(client.post(RELOAD, json={"weights": str(outside)}), "path_not_allowed")
    missing = client.post(RELOAD, json={"weights": str(tmp_path / "nothing.safetensors")})

    assert "weights_dirs" in there
    assert refused(missing, "path_not_allowed") == there  # no hint whether the file exists


def test_weights_inside_the_folder_that_are_not_weights_are_named_by_file(
    served: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, _ = served
    folder = tmp_path / "data" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")

    broken = client.post(RELOAD, json={"weights": str(folder / "broken.safetensors")})
    missing = client.post(RELOAD, json={"weights": str(folder / "gone.safetensors")})

    assert "broken.safetensors" in refused(broken, "model_file_rejected")
    assert "gone.safetensors" in refused(missing, "model_file_rejected")


def test_a_lora_outside_the_lora_folders_is_refused_alike_whether_it_exists_or_not(
    served: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, _ = served
    real = tmp_path / "real.safetensors"
    real.write_bytes(b"x")

    there = client.post(LORAS, json={"name": "real", "path": str(real)})
    missing = client.post(LORAS, json={"name": "real", "path": str(tmp_path / "no.safetensors")})

    assert "lora_dirs" in refused(there, "path_not_allowed")
    assert there.json() == missing.json()


def test_a_lora_inside_a_folder_is_named_within_it(
    served: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, _ = served
    folder = tmp_path / "data" / "loras"
    (folder / "brand").mkdir(parents=True)

    missing = client.post(LORAS, json={"name": "x", "path": str(folder / "brand/x.safetensors")})
    wrong = client.post(LORAS, json={"name": "x", "path": str(folder / "brand/x.bin")})

    assert "'brand/x.safetensors'" in refused(missing, "path_not_allowed")
    assert "'brand/x.bin'" in refused(wrong, "path_not_allowed")


def test_a_nul_in_a_path_is_refused_below_the_http_layer_too(
    served: tuple[TestClient, Services],
) -> None:
    _, services = served
    with pytest.raises(PathNotAllowed):
        services.reloads.reload(Principal.local(), weights="weights/\x00.safetensors")
    with pytest.raises(PathNotAllowed):
        services.loras.register_path(Principal.local(), "nul", "\x00")
