"""Authentication that never falls open, Host checks and absolute URLs, through real HTTP.

Each test here is an attack that worked on the design before: revoking the last key opened
the service, a lost database opened it, a local forwarder or a rebound DNS name passed as
"localhost", and a forged Host became the base of the URLs handed out.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from huajia.auth.gate import KEYS_MARKER
from tests.e2e.flows import SMALL, wait_for
from tests.support.server import ServerProcess, free_port, huajia_command, server_env, start_huajia

pytestmark = pytest.mark.e2e

START_REFUSED_TIMEOUT_S = 60
KEY_CACHE_S = 1


def create_key(data_dir: Path, name: str, role: str = "editor") -> str:
    result = huajia_command(["keys", "create", name, "--role", role], data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def key_id(data_dir: Path, name: str) -> str:
    listed = huajia_command(["keys", "list"], data_dir)
    assert listed.returncode == 0, listed.stderr
    return next(line.split()[0] for line in listed.stdout.splitlines() if line.endswith(name))


def serve_expecting_refusal(data_dir: Path, model_dir: Path, env: dict[str, str] | None = None,
                            worker: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`huajia serve` run as an operator would; it must exit by itself instead of serving."""
    command = [
        sys.executable, "-m", "huajia", "serve", "--model", str(model_dir),
        "--worker" if worker else "--no-worker", "--port", str(free_port()),
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    return subprocess.run(
        command, env=server_env(env), capture_output=True, text=True,
        timeout=START_REFUSED_TIMEOUT_S, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def open_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[ServerProcess]:  # fmt: skip
    """A fresh server in the default mode: no key yet, so open to this machine only."""
    cache = {"HUAJIA_API_KEY_CACHE_SECONDS": str(KEY_CACHE_S)}
    server = start_huajia(tmp_path_factory.mktemp("open"), tiny_model_dir, cache, ["--no-worker"])
    yield server
    server.stop()


def test_without_keys_only_direct_loopback_callers_are_served(open_server: ServerProcess) -> None:
    url = f"{open_server.url}/api/v1/tasks"
    assert httpx.get(url).status_code == 200, "a program on this machine, called as localhost"
    assert httpx.get(url, headers={"Host": "localhost:1234"}).status_code == 200
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded", "Via"):
        relayed = httpx.get(url, headers={header: "127.0.0.1"})
        assert relayed.status_code == 401, f"{header}: a local forwarder or proxy relays others"
        assert relayed.json()["error"]["code"] == "unauthorized"
    rebound = httpx.get(url, headers={"Host": "attacker.example"})
    assert rebound.status_code == 400, "a page whose DNS name was rebound to 127.0.0.1"
    assert rebound.json()["error"]["code"] == "host_not_allowed"
    assert "attacker.example" not in rebound.text
    openai = httpx.get(f"{open_server.url}/v1/models", headers={"Host": "attacker.example"})
    assert openai.status_code == 400, "the OpenAI routes refuse it too, in OpenAI's shape"
    error = openai.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error", "host_not_allowed", None
    )  # fmt: skip


def test_a_host_name_on_the_list_is_answered_but_not_trusted_as_local(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    env = {"HUAJIA_ALLOWED_HOSTS": '["localhost", "127.0.0.1", "huajia.internal"]'}
    server = start_huajia(tmp_path, tiny_model_dir, env, ["--no-worker"])
    try:
        named = httpx.get(f"{server.url}/api/v1/tasks", headers={"Host": "huajia.internal"})
        assert named.status_code == 401, "keyless use needs a loopback Host, not any listed one"
        assert httpx.get(f"{server.url}/api/v1/health").status_code == 200
    finally:
        server.stop()


def test_revoking_the_last_key_locks_the_service_rather_than_opening_it(
    open_server: ServerProcess,
) -> None:
    data = open_server.data_dir
    secret = create_key(data, "only-key")
    tasks = f"{open_server.url}/api/v1/tasks"
    assert httpx.get(tasks).status_code == 401, "a key exists: keys are required from now on"
    assert httpx.get(tasks, headers={"X-API-Key": secret}).status_code == 200
    revoked = huajia_command(["keys", "revoke", key_id(data, "only-key")], data)
    assert revoked.returncode == 0, revoked.stderr
    # Revoked by another process: refused once this server's key cache expires (1 s here).
    deadline = time.monotonic() + KEY_CACHE_S + 2
    while httpx.get(tasks, headers={"X-API-Key": secret}).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key must be refused within the cache"
        time.sleep(0.1)
    anonymous = httpx.get(tasks)
    assert anonymous.status_code == 401, "revoking every key must not reopen the service"
    assert httpx.get(f"{open_server.url}/api/v1/health").json()["auth_required"] is True


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_lost_database_does_not_open_a_service_that_had_keys(
    tiny_model_dir: Path, tmp_path: Path, damage: str
) -> None:
    create_key(tmp_path, "cms")
    assert (tmp_path / KEYS_MARKER).exists()
    database = tmp_path / "huajia.db"
    for leftover in tmp_path.glob("huajia.db*"):
        leftover.unlink()
    if damage == "emptied":
        database.write_bytes(b"")
    refused = serve_expecting_refusal(tmp_path, tiny_model_dir)
    assert refused.returncode == 2, refused.stderr
    assert "API keys were created" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("worker", [False, True], ids=["api-only", "with-its-worker"])
def test_auth_keys_with_no_key_in_the_database_refuses_to_start(
    tiny_model_dir: Path, tmp_path: Path, worker: bool
) -> None:
    refused = serve_expecting_refusal(tmp_path, tiny_model_dir, {"HUAJIA_AUTH": "keys"}, worker)
    assert refused.returncode == 2, refused.stderr
    assert "huajia keys create" in refused.stderr
    # The worker starts before the API checks its settings: it must not outlive the refusal
    # (serve stops it; a supervised worker also gets SIGTERM when its parent exits).
    assert processes_naming(tmp_path) == []


def processes_naming(data_dir: Path) -> list[str]:
    """Command lines of the processes still running with `data_dir` among their arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not a process
            continue
        if str(data_dir).encode() in arguments:
            found.append(b" ".join(arguments).decode(errors="replace"))
    return found


def test_auth_keys_needs_a_key_even_from_localhost(tiny_model_dir: Path, tmp_path: Path) -> None:
    secret = create_key(tmp_path, "ops", role="admin")
    server = start_huajia(tmp_path, tiny_model_dir, {"HUAJIA_AUTH": "keys"}, ["--no-worker"])
    try:
        assert httpx.get(f"{server.url}/api/v1/models").status_code == 401
        with_key = httpx.get(f"{server.url}/api/v1/models", headers={"X-API-Key": secret})
        assert with_key.status_code == 200
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[ServerProcess, dict[str, str]]]:  # fmt: skip
    """A server with a worker, two editors and an admin; it answers any Host header."""
    data = tmp_path_factory.mktemp("keyed")
    keys = {name: create_key(data, name, role) for name, role in
            [("alice", "editor"), ("bob", "editor"), ("ops", "admin")]}  # fmt: skip
    server = start_huajia(data, tiny_model_dir, {"HUAJIA_ALLOWED_HOSTS": '["*"]'})
    yield server, keys
    server.stop()


def as_key(server: ServerProcess, secret: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": secret}, timeout=60)


def test_the_result_cache_never_answers_with_another_editors_image(
    keyed_server: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = keyed_server
    body = {"prompt": "the unannounced spring phone in teal", "seed": 4242, **SMALL}
    with as_key(server, keys["alice"]) as alice, as_key(server, keys["bob"]) as bob:
        first = alice.post("/api/v1/generate", json=body).json()
        wait_for(alice, first["task_id"], {"completed"})
        probe = bob.post("/api/v1/generate", json=body).json()
        assert probe["status"] == "pending", "bob's guess must not confirm alice's prompt"
        assert "cache" not in probe["message"]
        again = alice.post("/api/v1/generate", json=body).json()
        assert again["status"] == "completed", "alice's own repeat still comes from the cache"


def test_absolute_urls_never_come_from_an_unlisted_host_header(
    keyed_server: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = keyed_server
    with as_key(server, keys["alice"]) as alice:
        answer = alice.post(
            "/v1/images/generations",
            json={"prompt": "a kite", "size": "64x64", "n": 1},
            headers={"Host": "evil.example"},
        )
    assert answer.status_code == 200, answer.text
    url = answer.json()["data"][0]["url"]
    assert url.startswith(f"http://127.0.0.1:{server.port}/"), url
    assert "evil.example" not in answer.text


def test_public_health_names_no_host_or_process_but_admins_see_them(
    keyed_server: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = keyed_server
    with as_key(server, keys["ops"]) as ops:
        full = ops.get("/api/v1/health").json()
    host, worker_pid = full["workers"][0]["worker_id"].split(":")[:2]
    assert host == socket.gethostname() and worker_pid.isdigit(), "admins see which process"
    public = httpx.get(f"{server.url}/api/v1/health")
    assert public.status_code == 200
    assert public.json()["workers"], "the worker is listed"
    with as_key(server, keys["alice"]) as alice:
        as_editor = alice.get("/api/v1/health").text
    for shown in (public.text, as_editor):
        assert host not in shown
        assert f":{worker_pid}:" not in shown and f'"{worker_pid}"' not in shown


def test_the_openapi_document_declares_how_to_authenticate(open_server: ServerProcess) -> None:
    document = httpx.get(f"{open_server.url}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}
    generate = document["paths"]["/api/v1/generate"]["post"]
    assert generate["security"], "the generate route says it takes a key"
    assert "401" in generate["responses"]
