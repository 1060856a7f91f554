"""End-to-end fixtures: a real `huajia serve` (uvicorn + worker child) on the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, StartServer, start_huajia


@pytest.fixture(scope="session")
def server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server on the default settings, shared by the files that use it (they are one
    work unit: tests/support/scheduling.py). Each test submits its own tasks and reads only
    those; a file that changes the server for good (a key ends open mode) has its own."""
    process = start_huajia(tmp_path_factory.mktemp("huajia-data"), tiny_model_dir)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def start_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartServer]:
    """Starts a file's own server: `start_huajia(data_dir, tiny model, extra_env, extra_args)`
    with a fresh data folder; each is stopped once the file's tests are done. A file whose
    tests need settings of their own defines its `server` fixture with it (module scope),
    in the shared server's place, and the `client` below then talks to that one."""
    started: list[ServerProcess] = []

    def start(extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None
              ) -> ServerProcess:  # fmt: skip
        data_dir = tmp_path_factory.mktemp("huajia-data")
        started.append(start_huajia(data_dir, tiny_model_dir, extra_env, extra_args))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    # Long enough for a synchronous OpenAI call or a request that waits for a model to load.
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http
