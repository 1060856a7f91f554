"""Stopping without dropping work: SIGTERM or SIGINT drains, a second one stops at once.

Draining, in order: submits answer 503 `draining` and readiness turns 503 (the load balancer
moves away) while status, results and event streams keep answering; the workers finish their
batch (or hand it back to the queue after `drain_seconds`) and exit; open event streams end
with a `reconnect` event; then the HTTP server closes and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

log = logging.getLogger("huajia.serve")

# Open event streams have ended by the time connections close; this bounds the rest.
CLOSE_SECONDS = 5
# After a second signal: how long the application's background tasks get to stop.
FORCED_STOP_SECONDS = 2


class DrainingServer(uvicorn.Server):
    """uvicorn that drains on the first signal and exits 0 (it re-raises no signal)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI,
                 drain: Callable[[], None]) -> None:  # fmt: skip
        super().__init__(config)
        self._app = app
        self._drain = drain
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining:
            log.warning("second %s: stopping now", signal.Signals(sig).name)
            self.should_exit = self.force_exit = True
            return
        self._draining = True
        log.info("%s: draining (no new work; running tasks finish)", signal.Signals(sig).name)
        threading.Thread(target=self._drain_then_close, name="drain", daemon=True).start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        if self.force_exit:
            # uvicorn skips the application's shutdown when forced: its background tasks (the
            # task watcher, purges, webhooks) would be cancelled mid-wait, and the lifespan
            # would log that as a traceback. They stop on their own in a moment.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.lifespan.shutdown(), FORCED_STOP_SECONDS)

    def _drain_then_close(self) -> None:
        started = time.monotonic()
        self._app.state.services.generation.draining = True
        self._drain()
        log.info("workers stopped after %.1f s; closing event streams", time.monotonic() - started)
        loop = getattr(self._app.state, "loop", None)
        # A second signal may have stopped the server (and closed its loop) meanwhile.
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                loop.call_soon_threadsafe(self._app.state.watcher.close)
        self.should_exit = True
