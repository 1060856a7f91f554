"""The body-limit middleware and the stream slots as pure units, with no server."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from huajia.api.app import create_app
from huajia.api.limits import BodyLimitMiddleware, BodyLimits, human_size
from huajia.api.streams import SlottedStream, StreamSlots
from huajia.composition import build_services
from huajia.errors import TooManyStreams
from huajia.settings import Settings

LIMITS = BodyLimits(json_bytes=1024, upload_bytes=4096)


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, as FastAPI does before any dependency runs."""
    body = await Request(scope, receive).body()
    await JSONResponse({"length": len(body)})(scope, receive, send)


def request(
    chunks: list[bytes],
    headers: list[tuple[bytes, bytes]],
    path: str = "/api/v1/generate",
    ends: bool = True,
) -> tuple[int, dict[str, object], int]:
    """Status, JSON body and body bytes the app was handed, for one request."""
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pending = [
        {"type": "http.request", "body": chunk, "more_body": not ends or i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    handed = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal handed
        if not pending:
            await asyncio.sleep(3600)  # a client that stopped sending
        message = pending.pop(0)
        handed += len(message["body"])
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    app = BodyLimitMiddleware(echo_length, LIMITS, stall_timeout_s=0.2)
    asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], json.loads(sent[1]["body"]), handed


def length(n: int) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(n).encode())]


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    status, body, handed = request([b"x" * 2000], length(2000))
    assert status == 413 and handed == 0
    assert body == {
        "error": {"code": "payload_too_large", "message": "request body is larger than 1 KiB"}
    }


def test_a_refusal_on_an_openai_route_takes_openais_error_shape() -> None:
    status, body, _handed = request([b"x" * 2000], length(2000), path="/v1/images/generations")
    assert status == 413
    assert body == {
        "error": {
            "message": "request body is larger than 1 KiB",
            "type": "invalid_request_error",
            "param": None,
            "code": "payload_too_large",
        }
    }
    status, body, _handed = request([b"{}"], [(b"content-length", b"abc")], path="/v1/models")
    assert status == 400 and body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_a_body_at_the_limit_reaches_the_app() -> None:
    assert request([b"x" * 1024], length(1024))[:2] == (200, {"length": 1024})
    assert request([b"x" * 500, b"x" * 524], [])[:2] == (200, {"length": 1024})


def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit() -> None:
    chunks = [b"x" * 600, b"x" * 600, b"x" * 600, b"x" * 600]
    status, body, handed = request(chunks, [(b"transfer-encoding", b"chunked")])
    assert status == 413 and body["error"]["code"] == "payload_too_large"  # type: ignore[index]
    assert handed == 1200  # the third and fourth chunks were never asked for


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1e3", b""])
def test_a_malformed_content_length_is_a_bad_request(value: bytes) -> None:
    status, body, handed = request([b"{}"], [(b"content-length", value)])
    assert status == 400 and body["error"]["code"] == "bad_request" and handed == 0  # type: ignore[index]


def test_two_different_content_lengths_are_a_bad_request() -> None:
    status, _body, _handed = request([b"{}"], [*length(2), *length(3)])
    assert status == 400


def test_a_body_that_stops_arriving_is_answered_408() -> None:
    status, body, handed = request([b'{"prompt"'], length(1000), ends=False)
    assert status == 408 and handed == 9
    assert body["error"]["code"] == "request_timeout"  # type: ignore[index]


def test_upload_routes_get_the_upload_limit() -> None:
    assert LIMITS.for_path("/api/v1/generate") == 1024
    assert LIMITS.for_path("/v1/images/generations") == 1024
    assert LIMITS.for_path("/api/v1/uploads") == 4096
    assert LIMITS.for_path("/api/v1/batches/abc") == 4096
    assert LIMITS.for_path("/v1/images/edits") == 4096
    assert LIMITS.for_path("/api/v1/uploadsX") == 1024
    assert request([b"x" * 3000], length(3000), path="/api/v1/uploads")[0] == 200


def test_json_routes_below_the_upload_route_keep_the_json_limit() -> None:
    """/api/v1/uploads/from-url takes a small JSON body, not a file."""
    assert LIMITS.for_path("/api/v1/uploads/from-url") == 1024
    status, body, handed = request([b"x" * 2000], length(2000), path="/api/v1/uploads/from-url")
    assert (status, handed) == (413, 0)
    assert body["error"]["code"] == "payload_too_large"


def test_sizes_are_said_the_human_way() -> None:
    assert human_size(64 * 1024) == "64 KiB"
    assert human_size(32 * 1024 * 1024) == "32 MiB"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(900) == "900 bytes"


@pytest.fixture
def settings(tiny_model_dir: Path, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, model=str(tiny_model_dir))


def test_the_body_limit_is_the_outermost_middleware(settings: Settings) -> None:
    """Added last in create_app: CORS, host checks and proxies all run inside it."""
    everything = {"cors_origins": ["https://cms.example"], "trusted_proxies": ["10.0.0.1"]}
    services = build_services(settings.with_overrides(**everything))
    try:
        app = create_app(services)
    finally:
        services.store.close()
    assert app.user_middleware[0].cls is BodyLimitMiddleware
    assert len(app.user_middleware) >= 3


def test_a_key_holds_at_most_its_streams() -> None:
    slots = StreamSlots(per_key=2)
    first, _second = slots.take("a"), slots.take("a")
    with pytest.raises(TooManyStreams) as refused:
        slots.take("a")
    assert refused.value.status == 429 and refused.value.retry_after > 0
    slots.take("b")  # another key has its own slots
    first.release()
    first.release()  # twice is harmless
    assert slots.open_streams("a") == 1
    slots.take("a")


async def _events() -> AsyncIterator[str]:
    yield "event: status\n\n"
    await asyncio.sleep(3600)
    yield "never"


def test_a_stream_never_sent_gives_its_slot_back() -> None:
    slots = StreamSlots(per_key=1)
    response = SlottedStream(slots.take("a"), _events(), "text/event-stream", {})
    assert slots.open_streams("a") == 1
    del response
    gc.collect()
    assert slots.open_streams("a") == 0


def test_a_stream_whose_client_leaves_gives_its_slot_back() -> None:
    slots = StreamSlots(per_key=1)
    response = SlottedStream(slots.take("a"), _events(), "text/event-stream", {})
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(0.05)  # the client goes away while the stream waits
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "asgi": {"spec_version": "2.3"}}
    asyncio.run(response(scope, receive, send))
    assert sent[1]["body"] == b"event: status\n\n"
    assert slots.open_streams("a") == 0
