"""A real `huajia serve` process on a free port, for end-to-end and browser tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.support.hold import Workers

READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One `huajia serve` in its own process group (so kill -9 can take every process)."""

    data_dir: Path
    model_dir: Path
    port: int
    env: dict[str, str]
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_for_model: bool = True) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "huajia", "serve", "--model", str(self.model_dir),
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready(wait_for_model and "--no-worker" not in self.extra_args)
        return self

    def wait_ready(self, wait_for_model: bool = True) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        path = "/api/v1/ready" if wait_for_model else "/api/v1/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"huajia serve exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"huajia serve not ready after {READY_TIMEOUT_S}s:\n{self.log()}")

    @property
    def sqlite_database(self) -> Path | None:
        """The SQLite file it writes, or None when it runs on PostgreSQL."""
        return None if self.env.get("HUAJIA_DATABASE_URL") else self.data_dir / "huajia.db"

    def workers(self) -> Workers:
        """Its worker children, to hold (SIGSTOP) where a test needs their work to wait."""
        assert self.process is not None
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                               text=True, check=False)  # fmt: skip
        pids = [int(pid) for pid in found.stdout.split()]
        assert pids, f"huajia serve has no worker child:\n{self.log()}"
        return Workers(pids, self.sqlite_database)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def log_records(self) -> list[dict[str, Any]]:
        """Every line of the log file as JSON (the server's format when stderr is a file)."""
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON log line: {line!r}") from None
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def kill_group(self) -> None:
        """kill -9 of every Huajia process: the server and its worker child."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_group()


def server_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUAJIA_")}
    env.update({"HF_HUB_OFFLINE": "1", "HUAJIA_LEASE_SECONDS": "4", "PYTHONUNBUFFERED": "1",
                "HUAJIA_DRAIN_SECONDS": "2"})  # fmt: skip
    env.update(extra_env or {})
    return env


def start_huajia(
    data_dir: Path,
    model_dir: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> ServerProcess:
    """Start `huajia serve` on the given model and wait until its worker has loaded it."""
    server = ServerProcess(
        data_dir, model_dir, free_port(), server_env(extra_env), extra_args or []
    )
    return server.start()


class StartServer(Protocol):
    """`start_huajia` with the model and a fresh data folder already chosen."""

    def __call__(self, extra_env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None) -> ServerProcess: ...  # fmt: skip


def huajia_command(args: list[str], data_dir: Path, extra_env: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run one `huajia ...` command against a data folder, as an operator would."""
    env = server_env({"HUAJIA_DATA_DIR": str(data_dir), **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "-m", "huajia", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
