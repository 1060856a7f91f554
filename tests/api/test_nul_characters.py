"""A NUL (or another control character) in any field a client sends is a 4xx naming the
field, on both databases; PostgreSQL refuses NUL in text, which once surfaced as a 500."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.composition import build_services
from huajia.settings import Settings

NUL = "\x00"
SOME_ID = "0" * 32


def png() -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 150)).save(data, "PNG")
    return data.getvalue()


@pytest.fixture
def client(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    """The app on `store_url`, called as the local admin (open mode, from loopback)."""
    settings = Settings(
        data_dir=tmp_path / "data", model=str(tiny_model_dir), database_url=store_url
    )
    services = build_services(settings)
    try:
        app = create_app(services)
        yield TestClient(app, base_url="http://localhost", client=("127.0.0.1", 50000))
    finally:
        services.store.close()


REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "prefs": ("PUT", "/api/v1/me/prefs", {"json": {"style": NUL}}),
    "prefs negative prompt": ("PUT", "/api/v1/me/prefs", {"json": {"negative_prompt": NUL}}),
    "batch name": ("POST", "/api/v1/batches", {"json": {"name": NUL, "lines": "a kite"}}),
    "batch lines": ("POST", "/api/v1/batches", {"json": {"lines": f"a{NUL}kite"}}),
    "batch item": ("POST", "/api/v1/batches", {"json": {"items": [{"prompt": NUL}]}}),
    "batch item key": ("POST", "/api/v1/batches", {"json": {"items": [{NUL: "x"}]}}),
    "batch model": ("POST", "/api/v1/batches", {"json": {"lines": "a", "model": NUL}}),
    "batch form name": (
        "POST", "/api/v1/batches",
        {"files": {"file": ("a.csv", b"prompt\na kite\n")}, "data": {"name": NUL}},
    ),
    "openai edit prompt": (
        "POST", "/v1/images/edits", {"files": {"image": ("a.png", png())}, "data": {"prompt": NUL}}
    ),
    "review reason": (
        "POST", f"/api/v1/images/{SOME_ID}/review", {"json": {"decision": "reject", "reason": NUL}}
    ),
    "policy term": ("PUT", "/api/v1/policy", {"json": {"blocked_terms": [f"x{NUL}"]}}),
    "policy negative": ("PUT", "/api/v1/policy", {"json": {"negative_prompt": NUL}}),
    "preset template": (
        "POST", "/api/v1/presets",
        {"json": {"name": "nul", "labels": {"en": "Nul"}, "prompt_template": f"{NUL}{{prompt}}"}},
    ),
    "preset label": (
        "POST", "/api/v1/presets",
        {"json": {"name": "nul", "labels": {"en": NUL}, "prompt_template": "{prompt}"}},
    ),
    "tasks owner": ("GET", "/api/v1/tasks", {"params": {"owner": NUL}}),
    "audit actor": ("GET", "/api/v1/audit", {"params": {"actor": NUL}}),
    "audit action": ("GET", "/api/v1/audit", {"params": {"action": NUL}}),
    "reload weights": ("POST", "/api/v1/admin/reload", {"json": {"weights": NUL}}),
    "reload model": ("POST", "/api/v1/admin/reload", {"json": {"model": NUL}}),
    "lora path": ("POST", "/api/v1/loras", {"json": {"name": "nul", "path": NUL}}),
    "key policy": ("GET", "/api/v1/keys/%00/policy", {}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_nul_character_is_refused_with_a_4xx(client: TestClient, name: str) -> None:
    method, path, arguments = REQUESTS[name]

    response = client.request(method, path, **arguments)

    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] in {"invalid_request", "invalid_policy", "invalid_preset"}, error
    assert "control characters" in error["message"] or "NUL" in error["message"], error


def test_a_nul_in_a_sheet_cell_is_a_row_error_and_in_a_file_name_is_dropped(
    client: TestClient,
) -> None:
    sheet = f"prompt,alt\na kite,fine\na{NUL}lamp,x\nok,al{NUL}t\n".encode()

    # Written by hand: httpx would escape the NUL in the file name; a browser may not.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="sale\x00.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + sheet + b"\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = client.post("/api/v1/batches", content=body, headers=headers)

    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["name"] == "sale.csv"
    errors = [row["error"] for row in batch["rows"]]
    assert errors[0] is None
    assert all("NUL" in error for error in errors[1:])
    listed = client.get(f"/api/v1/batches/{batch['batch_id']}")
    assert listed.status_code == 200
