"""A database that does not answer in time is a 503 with Retry-After, not a 500.

On SQLite, another process holding the write lock past the busy timeout (a worker frozen in
the middle of a write, a long `huajia purge`) makes the API's writes wait and then give up.
The caller is told to retry; nothing was stored; the log names the cause in one line, without
the statement or its values.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.api.deps import Services
from huajia.auth.keys import generate_key, hash_key
from huajia.composition import build_services
from huajia.jobs import database
from huajia.jobs.model import Role
from huajia.settings import Settings

BODY = {"prompt": "a secret product launch", "width": 64, "height": 64, "steps": 2}


@pytest.fixture
def services(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Services]:  # fmt: skip
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)  # not 30 s of waiting
    built = build_services(Settings(data_dir=tmp_path, model=str(tiny_model_dir)))
    yield built
    built.store.close()


def test_a_write_that_cannot_get_the_lock_is_a_503_with_retry_after(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    secret, prefix = generate_key()
    services.store.keys.create("cms", Role.EDITOR, hash_key(secret), prefix)
    http = TestClient(create_app(services), base_url="http://localhost",
                      headers={"X-API-Key": secret})  # fmt: skip
    other = sqlite3.connect(services.settings.sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.ERROR):
            refused = http.post("/api/v1/generate", json=BODY)
        openai = http.post("/v1/images/generations", json={"prompt": "a kite", "size": "64x64"})
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert "retry" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) > 0
    assert openai.status_code == 503
    assert openai.json()["error"]["type"] == "server_error"  # OpenAI's shape on /v1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "database is locked" in logged
    assert "a secret product launch" not in logged and "INSERT" not in logged
    assert not any(record.exc_info for record in caplog.records), "one line, no traceback"

    assert http.get("/api/v1/tasks").json()["tasks"] == [], "nothing was stored"
    accepted = http.post("/api/v1/generate", json=BODY)
    assert accepted.status_code == 202, "the same request goes through once the lock is free"
