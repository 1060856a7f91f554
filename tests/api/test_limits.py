"""Body limits and the per-key event-stream cap, through real HTTP against `huajia serve`.

The server runs without its worker, so submitted tasks stay pending and their event streams
stay open for as long as a test holds them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.raw_http import (
    connect,
    memory_kib,
    read_response,
    read_until_closed,
    reset_peak_memory,
    status_of,
)
from tests.support.server import ServerProcess, huajia_command, start_huajia

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024  # max_json_bytes' default
BODY_TIMEOUT_S = 3.0  # header_timeout_seconds, also the deadline for a body that stalls
GENERATE = "/api/v1/generate"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A data folder holding two editor keys (so every call needs one)."""
    data = tmp_path_factory.mktemp("limits-data")
    made = {}
    for name in ("alice", "bob"):
        result = huajia_command(["keys", "create", name, "--role", "editor"], data)
        assert result.returncode == 0, result.stderr
        made[name] = result.stdout.strip()
    return data, made


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, keys: tuple[Path, dict[str, str]]) -> Iterator[ServerProcess]:
    env = {
        "HUAJIA_MAX_STREAMS_PER_KEY": "2",
        "HUAJIA_HEADER_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
    }
    process = start_huajia(keys[0], tiny_model_dir, env, ["--no-worker"])
    yield process
    process.stop()


def auth(keys: tuple[Path, dict[str, str]], name: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[1][name]}", "Content-Type": "application/json"}


def prompt_body(size: int) -> bytes:
    """A valid generate request of exactly `size` bytes (JSON padded with spaces)."""
    body = b'{"prompt": "a lantern", "width": 64, "height": 64, "steps": 2}'
    return body + b" " * (size - len(body))


def test_a_30_mb_body_without_a_key_is_refused_before_it_is_read(server: ServerProcess) -> None:
    """413, not 401: the size is checked before the body is parsed or the key looked at."""
    assert server.process is not None
    pid = server.process.pid
    httpx.post(server.url + GENERATE, content=prompt_body(LIMIT + 1))  # warm the path
    before = memory_kib(pid)
    reset_peak_memory(pid)
    body = b'{"prompt": "' + b"a" * (30 * 1024 * 1024) + b'"}'
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(httpx.post, server.url + GENERATE, content=body, timeout=30)
        slowest_health = 0.0
        while not upload.done():
            started = time.monotonic()
            assert httpx.get(server.url + "/api/v1/health", timeout=10).status_code == 200
            slowest_health = max(slowest_health, time.monotonic() - started)
        response = upload.result()
    assert response.status_code == 413, response.text
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "request body is larger than 64 KiB",
    }
    grown_mib = (max(memory_kib(pid), memory_kib(pid, "VmHWM")) - before) / 1024
    assert grown_mib < 20, f"the server grew by {grown_mib:.0f} MiB"
    assert slowest_health < 1.0


def test_a_body_at_the_limit_is_served_and_one_byte_more_is_not(
    server: ServerProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    at_limit = httpx.post(server.url + GENERATE, content=prompt_body(LIMIT), headers=auth(keys))
    assert at_limit.status_code == 202, at_limit.text
    over = httpx.post(server.url + GENERATE, content=prompt_body(LIMIT + 1), headers=auth(keys))
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "payload_too_large"


def test_the_json_route_below_the_upload_route_keeps_the_json_limit(
    server: ServerProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    """/api/v1/uploads/from-url takes a URL in a small JSON body, not a 32 MiB file."""
    body = b'{"url": "https://images.example/a.png"}'
    body += b" " * (100 * 1024 - len(body))
    response = httpx.post(server.url + "/api/v1/uploads/from-url", content=body,
                          headers=auth(keys))  # fmt: skip
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "request body is larger than 64 KiB",
    }


def test_a_chunked_body_over_the_limit_is_refused(
    server: ServerProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield prompt_body(LIMIT // 2)
        for _ in range(64):
            yield b" " * 4096

    response = httpx.post(server.url + GENERATE, content=chunks(), headers=auth(keys))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(server: ServerProcess) -> None:
    """The answer comes while the client is still sending: the body is never held whole."""
    with connect(server.url) as sock:
        head = f"POST {GENERATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b" " * (LIMIT + 4096)
        sock.sendall(head.encode() + b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        response = read_response(sock, within=BODY_TIMEOUT_S - 1)  # before any stall deadline
    assert status_of(response) == 413
    assert b'"payload_too_large"' in response


def test_a_body_shorter_than_its_content_length_does_not_hold_the_server(
    server: ServerProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    with connect(server.url) as sock:
        sock.sendall(
            f"POST {GENERATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            f'{keys[1]["alice"]}\r\nContent-Length: 1000\r\n\r\n{{"prompt"'.encode()
        )
        assert httpx.get(server.url + "/api/v1/health").status_code == 200
        response, waited = read_until_closed(sock, within=BODY_TIMEOUT_S + 5)
    assert status_of(response) == 408, response
    assert b'"request_timeout"' in response
    assert waited > BODY_TIMEOUT_S - 0.5


def open_stream(stack: ExitStack, client: httpx.Client, task_id: str) -> httpx.Response:
    return stack.enter_context(client.stream("GET", f"/api/v1/tasks/{task_id}/events"))


def test_a_key_holds_at_most_its_event_streams(
    server: ServerProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    with ExitStack() as stack:
        alice = stack.enter_context(httpx.Client(base_url=server.url, headers=auth(keys)))
        bob = stack.enter_context(httpx.Client(base_url=server.url, headers=auth(keys, "bob")))
        mine = alice.post(GENERATE, content=prompt_body(100)).json()["task_id"]
        theirs = bob.post(GENERATE, content=prompt_body(100)).json()["task_id"]
        held = [open_stream(stack, alice, mine) for _ in range(2)]
        assert [stream.status_code for stream in held] == [200, 200]

        third = alice.get(f"/api/v1/tasks/{mine}/events")
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "too_many_streams"
        assert int(third.headers["Retry-After"]) > 0
        assert open_stream(stack, bob, theirs).status_code == 200  # each key has its own

        held[0].close()  # the client leaves: its slot comes back once the server notices
        deadline = time.monotonic() + 5
        while (again := open_stream(stack, alice, mine)).status_code == 429:
            assert time.monotonic() < deadline, "a closed stream never gave its slot back"
            time.sleep(0.05)
        assert again.status_code == 200
        assert next(again.iter_lines()) == "event: status"
