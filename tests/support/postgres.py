"""PostgreSQL for the tests: the server at HUAJIA_TEST_POSTGRES_URL (default: the local `test`
database with trust auth); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from urllib.parse import quote

import pytest
from sqlalchemy import make_url

POSTGRES_URL = os.environ.get(
    "HUAJIA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    import psycopg

    try:
        with psycopg.connect(_libpq_dsn(POSTGRES_URL), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}".strip()
    return None


def new_postgres_schema() -> Iterator[str]:
    """A URL whose connections use a brand-new schema (dropped after the test)."""
    import psycopg

    reason = _postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"huajia_test_{uuid.uuid4().hex[:12]}"
    dsn = _libpq_dsn(POSTGRES_URL)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
