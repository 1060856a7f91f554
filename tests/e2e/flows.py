"""Small helpers the end-to-end tests share: submit, follow SSE, wait."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tests.support.hold import Workers

SMALL = {"width": 64, "height": 64, "steps": 2}


def submit(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "a lighthouse at dusk", **SMALL, **fields}
    response = client.post("/api/v1/generate", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_for(
    client: httpx.Client, task_id: str, states: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/tasks/{task_id}/status").json()
        if status["status"] in states:
            return dict(status)
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {states}: {status}")


TASK_ENDS = frozenset({"completed", "failed", "canceled"})


def read_events(client: httpx.Client, task_id: str, timeout: float = 60, previews: bool = False
                ) -> list[tuple[str, Any]]:  # fmt: skip
    """Every SSE event of one task, up to and including the terminal one (with `previews`:
    the stream that asked for preview events)."""
    params = {"previews": "true"} if previews else None
    path = f"/api/v1/tasks/{task_id}/events"
    return stream_events(client, path, TASK_ENDS, timeout=timeout, params=params)


def stream_events(
    client: httpx.Client,
    path: str,
    until: frozenset[str] = frozenset(),
    into: list[tuple[str, Any]] | None = None,
    timeout: float = 60,
    params: dict[str, str] | None = None,
) -> list[tuple[str, Any]]:
    """The (name, data) of each SSE event at `path`, up to and including the first named in
    `until`, or until the server ends the stream. Each is appended to `into` as it arrives,
    so that another thread can watch the stream progress."""
    events = [] if into is None else into
    with client.stream("GET", path, params=params, timeout=timeout) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name is not None:
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name in until:
                    break
                name = None
    return events


def follow_while_held(
    submit_to: httpx.Client, workers: Workers, follow_on: httpx.Client | None = None,
    previews: Sequence[bool] = (False,), timeout: float = 120, **fields: Any,
) -> tuple[dict[str, Any], list[list[tuple[str, Any]]], float]:  # fmt: skip
    """Submit while the `workers` are held, open one event stream per entry of
    `previews` (on `follow_on`, else the same API; True: asking for previews), and let the
    workers go once every stream is open: a tiny task may otherwise end before a follower
    comes, who then sees its end only. The accepted answer, each stream's events up to the
    task's end, and the seconds from the workers' release to the last stream's end."""
    workers.hold()  # what they are told waits in their socket or connection
    streams: list[list[tuple[str, Any]]] = [[] for _ in previews]
    followers: list[threading.Thread] = []
    try:
        accepted = submit(submit_to, **fields)
        path = f"/api/v1/tasks/{accepted['task_id']}/events"
        for seen, asked in zip(streams, previews, strict=True):
            params = {"previews": "true"} if asked else None
            followers.append(threading.Thread(target=stream_events, args=(
                follow_on or submit_to, path, TASK_ENDS, seen, timeout, params)))  # fmt: skip
            followers[-1].start()
        deadline = time.monotonic() + 30
        while not all(streams) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        workers.release()
    released = time.monotonic()
    for follower in followers:
        follower.join(timeout)
    return accepted, streams, time.monotonic() - released
