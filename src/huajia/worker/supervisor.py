"""`huajia serve` runs the GPU worker as a supervised child process, restarted if it dies."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A worker that ran this long before exiting was healthy: its restart waits start over.
HEALTHY_AFTER_S = 60.0


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the parent dies, so no orphan keeps the GPU."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the worker also watches its parent pid
        pass


class WorkerSupervisor:
    """Starts one `huajia worker` and restarts it with back-off whenever it exits."""

    def __init__(self, args: list[str], extra_env: Mapping[str, str] | None = None,
                 command: list[str] | None = None, healthy_after_s: float = HEALTHY_AFTER_S
                 ) -> None:  # fmt: skip
        self._command = command or [sys.executable, "-m", "huajia", "worker", *args]
        self.healthy_after_s = healthy_after_s
        # The child inherits this process's environment, plus e.g. its CUDA_VISIBLE_DEVICES.
        self._env = {**os.environ, **extra_env} if extra_env else None
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(
            target=self._supervise, name="worker-supervisor", daemon=True
        )
        self.restarts = 0
        self.waits: list[float] = []  # each restart's wait, for health and tests

    def start(self) -> None:
        self._thread.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _supervise(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stopping.is_set():
            started = time.monotonic()
            self._process = subprocess.Popen(
                self._command, env=self._env, preexec_fn=_die_with_parent
            )
            code = self._process.wait()
            if self._stopping.is_set() or code == 0:
                # 0: it drained and stopped on a signal (systemd or docker stopping the whole
                # group): this process is stopping too, so that is no crash to restart.
                log.info("worker stopped (status %s)", code)
                return
            if time.monotonic() - started >= self.healthy_after_s:
                backoff = FIRST_BACKOFF_S  # it ran fine for a while: a fresh failure, not a loop
            self.restarts += 1
            log.error("worker exited with status %s; restarting in %.1fs", code, backoff)
            self.waits.append(backoff)
            self._stopping.wait(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
