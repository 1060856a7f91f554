"""uvicorn's HTTP/1.1 protocol (httptools), with deadlines for clients that stall.

uvicorn closes idle keep-alive connections, but it waits forever for a request's headers
and keeps any amount of them: a client that connects and sends nothing, or a byte a
second, holds a connection (and a file descriptor) for as long as it likes. This subclass
gives each request `header_timeout_s` from its first byte (from the connection itself for
the first request) to finish its headers, caps their size, and gives a body that the app
refused (413) as long again to finish arriving, since uvicorn reads and drops the rest.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Request line and headers together; browsers with large cookies stay well below this.
MAX_HEADER_BYTES = 64 * 1024


class DeadlineHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes connections whose client is too slow or too large."""

    header_timeout_s: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES

    _header_deadline: asyncio.TimerHandle | None = None
    _drain_deadline: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _request_begun = False  # bytes of a request arrived, its headers have not finished
    _body_arriving = False  # the current request's body has not been read to its end

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_deadline()
        self._stop_drain_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Only chunks that begin inside the headers are counted: if the headers are still
        # unfinished once such a chunk is parsed, every byte of it was a header byte.
        if self._header_deadline is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._header_deadline is not None and self._header_bytes > self.max_header_bytes:
            self._answer_and_close(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._body_arriving = True
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._stop_header_deadline()
        self._header_bytes = 0
        self._request_begun = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size <= self.max_header_bytes:
            super().on_headers_complete()
            return
        # Headers that arrived whole in one read: answered like uvicorn's own 503, by
        # running a stand-in app for this one request.
        app, self.app = self.app, _headers_too_large
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        self._body_arriving = False
        if self._drain_deadline is not None:
            # The refused body has all come. uvicorn dropped its keep-alive timer when the
            # body's bytes arrived and would not arm it again: from here the connection
            # idles out like any other.
            self._stop_drain_deadline()
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._body_arriving and not self.transport.is_closing():
            # Answered before its body was read (413): the rest must come soon.
            self._drain_deadline = self.loop.call_later(self.header_timeout_s, self._give_up)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:  # a deadline already running is kept, not extended
            self._header_deadline = self.loop.call_later(
                self.header_timeout_s, self._headers_too_slow
            )

    def _stop_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _stop_drain_deadline(self) -> None:
        if self._drain_deadline is not None:
            self._drain_deadline.cancel()
            self._drain_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._request_begun and (self.cycle is None or self.cycle.response_complete):
            self._answer_and_close(HTTPStatus.REQUEST_TIMEOUT)
        else:
            self._give_up()

    def _give_up(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _answer_and_close(self, status: HTTPStatus) -> None:
        """A plain-text answer the client may read before the connection closes."""
        if self.transport.is_closing():
            return
        message = status.phrase.encode("ascii")
        head = [STATUS_LINE[status.value]]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(message),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + message)
        self.transport.close()


async def _headers_too_large(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
                             ) -> None:  # fmt: skip
    message = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.phrase.encode("ascii")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 431, "headers": headers})
    await send({"type": "http.response.body", "body": message, "more_body": False})


def deadline_protocol(header_timeout_s: float) -> type[DeadlineHttpProtocol]:
    """The protocol class for uvicorn.run(http=...), with the configured header deadline."""

    class ConfiguredHttpProtocol(DeadlineHttpProtocol):
        pass

    ConfiguredHttpProtocol.header_timeout_s = header_timeout_s
    return ConfiguredHttpProtocol
