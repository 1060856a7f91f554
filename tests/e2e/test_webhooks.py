"""Signed webhooks to a CMS back end: delivered when the task ends, retried until accepted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from huajia.webhooks.signing import verify
from tests.e2e.flows import submit, wait_for
from tests.support.server import start_huajia

pytestmark = pytest.mark.e2e

SECRET = "whsec-e2e-test-secret"


class Receiver(ThreadingHTTPServer):
    """A CMS endpoint that fails its first delivery (status 500), then accepts."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.received: list[dict[str, Any]] = []
        self.fail_first = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/huajia-hook"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append({"headers": dict(self.headers), "body": body})
        status = 500 if self.server.fail_first else 204
        self.server.fail_first = False
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_signed_webhook_arrives_and_a_failed_delivery_is_retried(
    tiny_model_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    env = {
        "HUAJIA_WEBHOOK_SECRET": SECRET,
        "HUAJIA_WEBHOOK_RETRY_SECONDS": "0.3",
        # The receiver is on loopback over plain http: both need the operator's consent.
        "HUAJIA_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
        "HUAJIA_WEBHOOK_ALLOW_HTTP": "true",
    }
    server = start_huajia(tmp_path / "data", tiny_model_dir, env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            task = submit(client, seed=5, num_images=2, webhook_url=receiver.url)
            wait_for(client, task["task_id"], {"completed"})
            deadline = time.monotonic() + 20
            while len(receiver.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(receiver.received) == 2, "one failed delivery, then one accepted"
            # The receiver holds the request before the server has its answer and records the
            # delivery: the record says so a moment after.
            record = client.get(f"/api/v1/tasks/{task['task_id']}").json()
            while record["webhook"]["delivered_at"] is None and time.monotonic() < deadline:
                time.sleep(0.05)
                record = client.get(f"/api/v1/tasks/{task['task_id']}").json()
            assert record["webhook"]["delivered_at"] is not None
            assert record["webhook"]["attempts"] == 2
            delivery = receiver.received[-1]
            headers = {key.lower(): value for key, value in delivery["headers"].items()}
            assert verify(SECRET, headers["huajia-signature"], delivery["body"])
            assert not verify("not-the-secret", headers["huajia-signature"], delivery["body"])
            assert headers["huajia-event"] == "task.completed"
            payload = json.loads(delivery["body"])
            assert payload["event"] == "task.completed"
            assert payload["task"]["task_id"] == task["task_id"]
            urls = [image["url"] for image in payload["task"]["images"]]
            assert [image["seed"] for image in payload["task"]["images"]] == [5, 6]
            for url in urls:
                assert url.startswith("http://")
                assert httpx.get(url).status_code == 200
            time.sleep(1)
            assert len(receiver.received) == 2, "an accepted delivery is not sent again"

            # A campaign batch says once that its last row ended.
            body = {"lines": "a cup\na saucer", "webhook_url": receiver.url, "name": "crockery"}
            batch = client.post("/api/v1/batches", json=body).json()
            deadline = time.monotonic() + 60
            while len(receiver.received) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(receiver.received) == 3
            announced = receiver.received[-1]
            headers = {key.lower(): value for key, value in announced["headers"].items()}
            assert verify(SECRET, headers["huajia-signature"], announced["body"])
            assert headers["huajia-event"] == "batch.completed"
            news = json.loads(announced["body"])["batch"]
            assert (news["batch_id"], news["name"]) == (batch["batch_id"], "crockery")
            assert news["counts"] == {"completed": 2}
            assert news["zip_url"] == f"{server.url}/api/v1/batches/{batch['batch_id']}/zip"
            time.sleep(2.5)
            assert len(receiver.received) == 3, "announced once"
    finally:
        server.stop()


def test_a_webhook_to_loopback_is_refused_at_submission_and_nothing_is_queued(
    tiny_model_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    env = {"HUAJIA_WEBHOOK_SECRET": SECRET, "HUAJIA_WEBHOOK_ALLOW_HTTP": "true"}
    server = start_huajia(tmp_path / "data", tiny_model_dir, env, ["--no-worker"])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for url in (receiver.url, f"{server.url}/api/v1/generate", "http://2130706433/"):
                body = {"prompt": "a lighthouse at dusk", "webhook_url": url}
                response = client.post("/api/v1/generate", json=body)
                assert response.status_code == 422, response.text
                assert response.json()["error"]["code"] == "url_refused"
            assert client.get("/api/v1/tasks").json()["total"] == 0, "nothing queued"
        assert receiver.received == []
    finally:
        server.stop()
