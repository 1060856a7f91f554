"""The shipped nginx configuration: Debian's `nginx -t` accepts it, and a real nginx built from
it in front of `huajia serve` streams progress as it happens, takes uploads up to
max_upload_bytes, refuses larger bodies itself and caches generated images for good."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from huajia.settings import Settings
from tests.deploy.nginx import SHIPPED, Nginx, nginx_prefix, require_nginx
from tests.support.server import ServerProcess, free_port, huajia_command, start_huajia

pytestmark = pytest.mark.e2e

IMMUTABLE = "public, max-age=31536000, immutable"
# Long enough on the tiny model that progress is worth streaming; the worker is also held
# (SIGSTOP) right after the first progress event, so nothing relies on its speed.
SLOW = {"prompt": "a lighthouse", "width": 512, "height": 512, "steps": 8, "seed": 5}


def test_debian_nginx_accepts_the_shipped_configuration() -> None:
    require_nginx()
    with nginx_prefix(free_port()) as nginx:
        checked = nginx.test_config()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_the_limits_match_huajia_settings() -> None:
    text = SHIPPED.read_text()
    mebibytes = Settings.model_fields["max_upload_bytes"].default // (1024 * 1024)
    assert f"client_max_body_size {mebibytes}m;" in text
    events = text.split("location ~ ^/api/v1/tasks/[^/]+/events$", 1)[1].split("}", 1)[0]
    assert "proxy_buffering off;" in events and "proxy_read_timeout 1h;" in events


@pytest.fixture(scope="module")
def huajia(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:  # fmt: skip
    proxies = {"HUAJIA_TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
    server = start_huajia(tmp_path_factory.mktemp("huajia-data"), tiny_model_dir, proxies)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx(huajia: ServerProcess) -> Iterator[Nginx]:
    require_nginx()
    with nginx_prefix(huajia.port) as proxy:
        proxy.start()
        yield proxy
        proxy.stop()


@pytest.fixture(scope="module")
def client(huajia: ServerProcess, nginx: Nginx) -> Iterator[httpx.Client]:
    """A client that reaches Huajia only through nginx, with an editor's key."""
    created = huajia_command(["keys", "create", "through-nginx"], huajia.data_dir)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=nginx.url, headers=headers, timeout=60) as http:
        yield http


def test_a_caller_behind_nginx_is_not_local(nginx: Nginx) -> None:
    answer = httpx.post(nginx.url + "/api/v1/generate", json={"prompt": "a cat"}, timeout=30)
    assert answer.status_code == 401, "forwarded callers need a key, although nginx is local"


def test_progress_events_arrive_while_the_task_is_still_running(
    client: httpx.Client, huajia: ServerProcess
) -> None:
    task_id = client.post("/api/v1/generate", json=SLOW).json()["task_id"]
    workers = huajia.workers()
    names: list[str] = []
    status_at_first_progress = None
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if not line.startswith("event: "):
                continue
            names.append(line.removeprefix("event: "))
            if names[-1] == "progress" and status_at_first_progress is None:
                with workers.held():  # the task cannot finish behind our back
                    status = client.get(f"/api/v1/tasks/{task_id}/status").json()
                    status_at_first_progress = status["status"]
            if names[-1] in {"completed", "failed", "canceled"}:
                break
    assert names[-1] == "completed", names
    assert status_at_first_progress == "processing", "progress was held back until the end"


def test_an_upload_through_nginx_comes_back_cached_for_good(client: httpx.Client) -> None:
    uploaded = client.post("/api/v1/uploads", files={"file": ("photo.png", png(), "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    url = uploaded.json()["url"]
    first, second = client.get(url), client.get(url)
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers.get_list("cache-control") == [IMMUTABLE]
        assert Image.open(io.BytesIO(answer.content)).size == (64, 48)
    assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
    missing = client.get("/generated-images/uploads/not-there.png")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", ""), "a 404 is not for good"


def test_uploads_pass_up_to_the_limit_and_nginx_refuses_beyond(client: httpx.Client) -> None:
    limit = Settings.model_fields["max_upload_bytes"].default
    near = client.post("/api/v1/uploads", files={"file": ("big.png", b"x" * (limit - 4096))})
    assert near.status_code != 413 and near.headers["content-type"].startswith("application/json")
    assert near.status_code < 500, near.text  # Huajia read it and judged it (not an image)
    over = client.post("/api/v1/uploads", files={"file": ("big.png", b"x" * (limit + 1))})
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("text/html"), "nginx refused it, not Huajia"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()
