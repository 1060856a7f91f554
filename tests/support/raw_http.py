"""HTTP spoken byte by byte over a plain socket, for clients no HTTP library would imitate."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path


def connect(url: str) -> socket.socket:
    """A TCP connection to a server at http://HOST:PORT."""
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took.

    Fails if the connection is still open after `within` seconds.
    """
    started = time.monotonic()
    received = b""
    sock.settimeout(0.1)
    while time.monotonic() - started < within:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    raise AssertionError(f"still open after {within} s; received {received[:200]!r}")


def read_response(sock: socket.socket, within: float) -> bytes:
    """One response's status line, headers and Content-Length body (connection left open)."""
    sock.settimeout(within)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    """The status code of a raw response (0 for no response at all)."""
    if not response.startswith(b"HTTP/1.1 "):
        return 0
    return int(response.split(b" ")[1])


def quiet(sock: socket.socket) -> bool:
    """Whether the server has neither said anything more nor closed the connection."""
    sock.settimeout(0.05)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False
    return False


def send_while_open(sock: socket.socket, data: bytes) -> bool:
    """Send `data`; False if the server has closed the connection already."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory (VmRSS) or its peak since the last reset (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak_memory(pid: int) -> None:
    """Start VmHWM afresh from the current resident size (Linux 4.0+; a no-op where refused)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
