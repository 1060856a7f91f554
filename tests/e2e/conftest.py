"""End-to-end fixtures: a real `huajia serve` (uvicorn + worker child) on the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_huajia


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


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
