"""Shared fixtures: the tiny random-weight Z-Image model, written once per test run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from xdist.remote import Producer

from tests.support.scheduling import LongestFirstScheduling, longest_first


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown where xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> object | None:
    """`--dist loadfile` hands out the slowest files first (tests/support/scheduling.py)."""
    if config.getoption("dist") != "loadfile":
        return None
    return LongestFirstScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An xdist worker (its own dist option reads "no") collects the slowest files first."""
    if hasattr(config, "workerinput"):
        longest_first(items)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model folder written by our own `create_tiny_model` (the CLI's code path)."""
    from huajia.engine.tiny import create_tiny_model

    return create_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir: Path) -> Iterator[object]:
    """One loaded engine shared by read-only engine tests (loading takes ~1 s)."""
    from huajia.engine.models import spec_for_folder
    from huajia.engine.zimage import EngineOptions, ZImageEngine

    return ZImageEngine.load(spec_for_folder(tiny_model_dir), EngineOptions(local_files_only=True))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on a free port; skipped without one."""
    from tests.support.s3 import running_s3_server

    with running_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL on a brand-new schema (dropped after the test); skipped if unreachable."""
    from tests.support.postgres import new_postgres_schema

    yield from new_postgres_schema()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'huajia.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url
