"""Request body limits, enforced before the body is read, parsed or authenticated.

A JSON body is parsed whole before any dependency (the API key check included) runs, so
without a limit anyone who can reach the port can make the server hold and parse any number
of bytes. This pure ASGI middleware sits outside everything else: a declared Content-Length
over the route's limit is answered 413 before the app is called; a body without one
(chunked) is counted as it streams and cut the moment it passes the limit. A body that
stops arriving while the app waits for it is answered 408 rather than held forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huajia.api.errors import error_response
from huajia.errors import HuajiaError, PayloadTooLarge
from huajia.settings import Settings


class BodyKind(Enum):
    JSON = "json"
    UPLOAD = "upload"


# Routes (path prefixes) whose bodies are not JSON; every other route is held to the JSON
# limit. A new multipart route only needs its line here.
ROUTE_BODIES: Mapping[str, BodyKind] = {
    "/v1/images/edits": BodyKind.UPLOAD,
    "/api/v1/batches": BodyKind.UPLOAD,
    "/api/v1/loras": BodyKind.UPLOAD,
}


# Routes (exact paths) whose bodies are not JSON, where JSON routes live below them
# (/api/v1/uploads/from-url takes a URL, never a file).
EXACT_ROUTE_BODIES: Mapping[str, BodyKind] = {
    "/api/v1/uploads": BodyKind.UPLOAD,
}


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest body, in bytes, of each kind of route."""

    json_bytes: int
    upload_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(json_bytes=settings.max_json_bytes, upload_bytes=settings.max_upload_bytes)

    def for_path(self, path: str) -> int:
        kind = EXACT_ROUTE_BODIES.get(path) or next(
            (kind for prefix, kind in ROUTE_BODIES.items() if _under(path, prefix)), BodyKind.JSON
        )
        return self.upload_bytes if kind is BodyKind.UPLOAD else self.json_bytes


class BodyLimitMiddleware:
    """413 for bodies over the route's limit, 408 for bodies that stall (pure ASGI)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits, stall_timeout_s: float) -> None:
        self.app = app
        self.limits = limits
        self.stall_timeout_s = stall_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        try:
            declared = declared_length(scope)
        except ValueError as problem:
            refusal = error_response(scope["path"], 400, "bad_request", str(problem))
            await refusal(scope, receive, send)
            return
        if declared is not None and declared > limit:
            await _answer(scope, too_large(limit))(scope, receive, send)
            return
        body = _GuardedBody(scope, receive, send, limit, self.stall_timeout_s)
        try:
            await self.app(scope, body.receive, body.send)
        except ClientDisconnect:
            if not body.cut:
                raise
            # The app read on after we cut its body off; the client has had its answer.


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {human_size(limit)}")


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number; ValueError if it is not one plain number."""
    values = {value.strip() for name, value in scope["headers"] if name == b"content-length"}
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("conflicting Content-Length headers")
    value = values.pop()
    if not value.isdigit():
        raise ValueError("Content-Length is not a number")
    return int(value)


_UNITS = (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def human_size(size: int) -> str:
    """64 KiB, 32 MiB, 1.5 KiB, 900 bytes."""
    for unit, scale in _UNITS:
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


class _GuardedBody:
    """One request's body as the app sees it: counted, cut at the limit, timed while awaited."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, limit: int, stall_timeout_s: float
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._limit = limit
        self._stall_timeout_s = stall_timeout_s
        self._received = 0
        self._complete = False
        self.cut = False  # the app has been told the client left (it was answered for)
        self._answered = False  # our refusal went out, so the app's own answer is dropped
        self._response_started = False

    async def receive(self) -> Message:
        if self.cut:
            return {"type": "http.disconnect"}
        if self._complete:  # e.g. a stream waiting for its client to leave: no deadline
            return await self._receive()
        try:
            async with asyncio.timeout(self._stall_timeout_s):
                message = await self._receive()
        except TimeoutError:
            why = f"the request body stopped arriving for {self._stall_timeout_s:g} s"
            # The client went quiet mid-body: the connection cannot carry another request.
            await self._refuse(error_response(
                self._scope["path"], 408, "request_timeout", why, headers={"Connection": "close"}
            ))  # fmt: skip
            return {"type": "http.disconnect"}
        if message["type"] != "http.request":
            return message
        self._received += len(message.get("body", b""))
        self._complete = not message.get("more_body", False)
        if self._received > self._limit:
            # Not "Connection: close": the server reads and drops the rest of the body, so
            # the client, still sending, gets to read this answer (the HTTP protocol class
            # closes the connection if the rest does not come soon).
            await self._refuse(_answer(self._scope, too_large(self._limit)))
            return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self._answered:
            return
        if message["type"] == "http.response.start":
            self._response_started = True
        await self._send(message)

    async def _refuse(self, refusal: JSONResponse) -> None:
        """Answer in the app's place (unless it has begun answering) and cut its body off."""
        self.cut = True
        if not self._response_started:
            self._answered = True
            await refusal(self._scope, self._receive, self._send)


def _answer(scope: Scope, error: HuajiaError) -> JSONResponse:
    return error_response(scope["path"], error.status, error.code, error.message)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
