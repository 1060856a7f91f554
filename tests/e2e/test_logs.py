"""The server's log as an operator's log shipper reads it: JSON lines from the API and its
worker child, each request's id on its lines and on the worker's lines for the task it made,
and no API key anywhere. One real `huajia serve` with its worker, one log file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.flows import SMALL, wait_for
from tests.e2e.test_auth import create_key
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e

TRACE = "cms-7f3a:req/0001"
LOG_WAIT_S = 15.0


@pytest.fixture(scope="module")
def keyed_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[ServerProcess, str]]:  # fmt: skip
    """A server whose log format is left to its default (stderr is a file here: JSON)."""
    data = tmp_path_factory.mktemp("logs")
    secret = create_key(data, "newsroom")
    server = start_huajia(data, tiny_model_dir)
    yield server, secret
    server.stop()


def records(server: ServerProcess) -> list[dict[str, Any]]:
    """Every line of the log file, each of which must be one JSON object."""
    parsed = server.log_records()
    for record in parsed:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert datetime.fromisoformat(record["time"]).utcoffset() == UTC.utcoffset(None), record
    return parsed


def wait_for_line(server: ServerProcess, **wanted: object) -> list[dict[str, Any]]:
    """The log's records once one has all the wanted fields (the worker writes it last)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        found = records(server)
        if any(all(record.get(k) == v for k, v in wanted.items()) for record in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line with {wanted}:\n{server.log()}")
        time.sleep(0.1)


def test_json_lines_carry_request_and_task_ids_and_never_a_key(
    keyed_server: tuple[ServerProcess, str],
) -> None:
    server, secret = keyed_server
    with httpx.Client(base_url=server.url, timeout=30) as client:
        accepted = client.post(
            "/api/v1/generate", json={"prompt": "a red kite", **SMALL},
            headers={"X-API-Key": secret, "X-Request-ID": TRACE},
        )  # fmt: skip
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["X-Request-ID"] == TRACE, "the client's id comes back"
        task_id = accepted.json()["task_id"]
        auth = {"Authorization": f"Bearer {secret}"}
        client.headers.update(auth)
        assert wait_for(client, task_id, {"completed"})["status"] == "completed"

        invalid = "x" * 129
        listed = client.get(f"/api/v1/tasks?api_key={secret}", headers={"X-Request-ID": invalid})
        assert listed.status_code == 200
        replaced = listed.headers["X-Request-ID"]
        assert replaced != invalid and 0 < len(replaced) <= 128, "a bad id is replaced"
        unprintable = client.get("/api/v1/health", headers={"X-Request-ID": "a\tb"})
        assert unprintable.headers["X-Request-ID"] not in {"a\tb", replaced}
        anonymous = httpx.get(server.url + "/api/v1/health")
        assert len(anonymous.headers["X-Request-ID"]) >= 16, "one is made when none is sent"

    found = wait_for_line(server, task_id=task_id, request_id=TRACE, logger="huajia.worker.loop")
    ours = [record for record in found if record.get("request_id") == TRACE]
    access = [record for record in ours if record["logger"] == "huajia.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [
        ("POST", "/api/v1/generate", 202)
    ]
    worker_lines = [record for record in ours if record["logger"].startswith("huajia.worker")]
    assert len(worker_lines) >= 2, "started and finished, at least"
    assert all(record["task_id"] == task_id for record in worker_lines)
    assert any("done" in record["message"] for record in worker_lines)

    listed_line = [r for r in found if r.get("request_id") == replaced]
    assert [(r["path"], r["status"]) for r in listed_line] == [("/api/v1/tasks", 200)]
    text = server.log_path.read_text()
    assert secret not in text and secret[12:] not in text, "no API key in the log"
