"""Request ids and the access log: one line per HTTP request, with the request's id.

A client's `X-Request-ID` is kept when it is 1-128 visible ASCII characters (else a new id is
made); the id comes back in the response's `X-Request-ID` and is on every line logged while
the request is served, and on the tasks it creates. Only the path is logged, never the query
string (it may carry a key or a signature).
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huajia.logs import accepted_request_id, bind_request, new_request_id

log = logging.getLogger("huajia.access")

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")


class RequestLog:
    """Pure ASGI middleware (streams pass through untouched), outermost on the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(_sent_id(scope)) or new_request_id()
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(HEADER, request_id)
            await send(message)

        # Set for the rest of this request's task (uvicorn runs one task per request), so the
        # error handler outside this middleware still logs an unexpected error with the id.
        bind_request(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _access_line(scope, status, time.perf_counter() - started)


def _sent_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            text: str = value.decode("latin-1")
            return text
    return None


def _access_line(scope: Scope, status: int, seconds: float) -> None:
    method, path = scope["method"], scope["path"]
    duration_ms = round(seconds * 1000, 1)
    log.info(
        "%s %s %d %.1f ms", method, path, status, duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )  # fmt: skip
