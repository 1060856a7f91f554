"""Name lookups for outbound URLs, on a few threads of their own and each within a deadline.

`getaddrinfo` blocks and takes no time limit: a host whose DNS server never answers holds the
thread that asked for as long as the system resolver keeps trying (often 10 s or more). Asked
from the thread pool that serves requests, a handful of such URLs would stall every request.
`Lookups` runs them on its own small pool instead: a lookup waits for a free thread and the
caller waits at most `deadline_s` in all (a lookup still waiting for a thread then is dropped).
At most `BACKLOG` times as many lookups as threads are outstanding; past that a new one is
refused at once, so neither callers nor lookups pile up however many slow names arrive, while a
burst of good ones (a webhook dispatcher's deliveries connecting together) only waits its turn.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

Resolver = Callable[[str, int], Sequence[str]]
BACKLOG = 4  # lookups outstanding (running or waiting for a thread) per thread, at most


class LookupRefused(Exception):
    """A lookup that was not answered: past its deadline, or no thread free to ask."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def system_resolver(host: str, port: int) -> list[str]:
    """Every address a TCP connection to `host` would try, as getaddrinfo answers."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class Lookups:
    """A resolver that asks `resolver` on at most `threads` threads, answering within
    `deadline_s` or raising LookupRefused; usable wherever a plain resolver is."""

    def __init__(self, resolver: Resolver = system_resolver, *, threads: int = 4,
                 deadline_s: float = 3.0) -> None:  # fmt: skip
        if threads < 1 or deadline_s <= 0:
            raise ValueError("Lookups needs at least one thread and a positive deadline")
        self.deadline_s = deadline_s
        self.threads = threads
        self._resolver = resolver
        self._slots = threading.BoundedSemaphore(threads * BACKLOG)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="huajia-lookup")

    def __repr__(self) -> str:
        return f"Lookups(deadline_s={self.deadline_s:g})"

    def __call__(self, host: str, port: int) -> Sequence[str]:
        """The resolver's answer, waiting at most the deadline (blocks the calling thread)."""
        future = self._start(host, port)
        try:
            return future.result(timeout=self.deadline_s)
        except FutureTimeout as error:
            future.cancel()  # still waiting for a thread: never run (a running one ends alone)
            raise LookupRefused(self._late()) from error

    async def resolve_async(self, host: str, port: int) -> Sequence[str]:
        """The resolver's answer, awaited at most the deadline (blocks no thread)."""
        future = self._start(host, port)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline_s)
        except TimeoutError as error:
            future.cancel()  # as above (cancelling the wrapper does too; said here plainly)
            raise LookupRefused(self._late()) from error

    def _start(self, host: str, port: int) -> Future[Sequence[str]]:
        # A slot is given back when the lookup really ends (or is dropped before it ran), not
        # when its caller stops waiting: stuck lookups keep theirs, and new ones are refused.
        if not self._slots.acquire(blocking=False):
            raise LookupRefused("too many host names are being looked up at once; try again")
        try:
            future = self._pool.submit(self._resolver, host, port)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return future

    def _late(self) -> str:
        return f"its host name was not resolved within {self.deadline_s:g} seconds"
