"""Real HTTP receivers on 127.0.0.1 for outbound tests: a prompt one and one that drips."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    """Answers every POST with `status` at once, or drips it a byte at a time if `drip_s`."""

    def __init__(self, status: int = 204, drip_s: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.status = status
        self.drip_s = drip_s
        self.connections = 0
        self.requests: list[dict[str, str]] = []
        self.arrived = threading.Event()
        self.closing = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/hook"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def setup(self) -> None:
        self.server.connections += 1
        super().setup()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append(dict(self.headers))
        self.server.arrived.set()
        if self.server.drip_s is None:
            self.send_response(self.server.status)
            if 300 <= self.server.status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._drip(f"HTTP/1.1 {self.server.status} OK\r\nContent-Length: 0\r\n\r\n".encode())

    def _drip(self, answer: bytes) -> None:
        for byte in answer:
            if self.server.closing.wait(self.server.drip_s):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:  # the sender hung up: what the deadline is for
                return

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def receiving(status: int = 204, drip_s: float | None = None) -> Iterator[Receiver]:
    """A receiver serving on a thread for the duration of the block."""
    server = Receiver(status, drip_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just freed)."""
    server = Receiver()
    port = server.port
    server.server_close()
    return port
