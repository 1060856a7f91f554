"""Clients that connect and stall are cut off by `huajia serve`; prompt ones are served.

Each test speaks HTTP over a plain socket, the way a slowloris attack does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.raw_http import (
    connect,
    quiet,
    read_response,
    read_until_closed,
    send_while_open,
    status_of,
)
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT_S = 1.5
KEEP_ALIVE_S = 1.0
SLACK_S = 2.0
HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "HUAJIA_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
        "HUAJIA_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_S),
    }
    data = tmp_path_factory.mktemp("slow-clients-data")
    process = start_huajia(data, tiny_model_dir, env, ["--no-worker"])
    yield process
    process.stop()


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with connect(server.url) as sock:
        received, waited = read_until_closed(sock, within=HEADER_TIMEOUT_S + SLACK_S)
    assert received == b""
    assert waited > HEADER_TIMEOUT_S - 0.5


def test_headers_sent_a_byte_a_second_are_cut_off(server: ServerProcess) -> None:
    """The whole request would take 45 s; the server gives it the header timeout."""
    started = time.monotonic()
    with connect(server.url) as sock:
        for byte in HEALTH:
            if not quiet(sock) or not send_while_open(sock, bytes([byte])):
                break
            assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S, "never cut off"
            time.sleep(1.0)
        received, _waited = read_until_closed(sock, within=SLACK_S)
    assert status_of(received) == 408, received
    assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S + 1.0


def test_a_prompt_client_is_served_and_an_idle_one_let_go(server: ServerProcess) -> None:
    """Two requests on one connection, then keep_alive_seconds of silence closes it."""
    with connect(server.url) as sock:
        for _ in range(2):
            sock.sendall(HEALTH)
            assert status_of(read_response(sock, within=5)) == 200
        received, waited = read_until_closed(sock, within=KEEP_ALIVE_S + SLACK_S)
    assert received == b""
    assert waited > KEEP_ALIVE_S - 0.5


def test_headers_too_large_are_refused(server: ServerProcess) -> None:
    with connect(server.url) as sock:
        sock.sendall(HEALTH.removesuffix(b"\r\n") + b"X-Filler: " + b"a" * 80_000 + b"\r\n\r\n")
        received, _waited = read_until_closed(sock, within=SLACK_S)
    assert status_of(received) == 431


def test_the_rest_of_a_refused_body_must_come_soon(server: ServerProcess) -> None:
    """After a 413 the server drops the body as it comes, but not for ever."""
    started = time.monotonic()
    with connect(server.url) as sock:
        sock.sendall(
            b"POST /api/v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        assert status_of(read_response(sock, within=5)) == 413
        # A trickle, each piece well inside keep_alive_seconds of the one before.
        while quiet(sock) and send_while_open(sock, b" " * 100):
            assert time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S, "never cut off"
            time.sleep(KEEP_ALIVE_S / 4)
        assert read_until_closed(sock, within=SLACK_S)[0] == b""


def test_a_refused_body_sent_in_full_leaves_a_connection_that_idles_out(
    server: ServerProcess,
) -> None:
    with connect(server.url) as sock:
        sock.sendall(
            b"POST /api/v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
        )
        assert status_of(read_response(sock, within=5)) == 413
        sock.sendall(b" " * 100_000)  # the rest, dropped by the server
        received, waited = read_until_closed(sock, within=KEEP_ALIVE_S + SLACK_S)
    assert received == b""
    assert waited > KEEP_ALIVE_S - 0.5
