"""Debian's nginx run on the shipped deploy/nginx/huajia.conf, without root and without /etc.

The shipped file is included, as on a server, from a small nginx.conf in a temporary prefix;
only what must differ on a test machine is rewritten: the listening port, the upstream ports
and the cache folder. Run as root (a container), nginx runs as `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "huajia.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

WRAPPER = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/huajia.conf;
}}
"""


def require_nginx() -> None:
    if not Path(NGINX).is_file():
        pytest.skip("nginx not installed (apt-get install nginx; scripts/ensure-chromium.sh)")


def rewrite(text: str, listen_port: int, upstream_port: int, cache_dir: Path) -> str:
    """The shipped text with this machine's ports and cache folder; fails if one is gone."""
    swaps = [
        (r"(?m)^(\s*)listen 80;", rf"\1listen 127.0.0.1:{listen_port};"),
        (r"server 127\.0\.0\.1:\d+", f"server 127.0.0.1:{upstream_port}"),
        (r"/var/cache/nginx/huajia", str(cache_dir)),
    ]
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text)
        assert count > 0, f"the shipped nginx configuration no longer has {pattern!r}"
    return text


@dataclass
class Nginx:
    """One nginx prefix: its configuration, logs and (once started) its master process."""

    prefix: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                "-e", str(self.prefix / "error.log"), *extra]  # fmt: skip

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command("-t"), capture_output=True, text=True, timeout=30, check=False,
            user=_run_as(),
        )  # fmt: skip

    def start(self) -> None:
        quiet = subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), user=_run_as(), stdout=quiet, stderr=quiet)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.url + "/nginx-not-a-route", timeout=1)
                return
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _run_as() -> str | None:
    return "nobody" if os.geteuid() == 0 else None


@contextlib.contextmanager
def nginx_prefix(upstream_port: int) -> Iterator[Nginx]:
    """A prefix holding the wrapper and the rewritten shipped file (readable by nginx's user)."""
    prefix = Path(tempfile.mkdtemp(prefix="huajia-nginx-"))
    try:
        port = free_port()
        text = rewrite(SHIPPED.read_text(), port, upstream_port, prefix / "cache")
        (prefix / "huajia.conf").write_text(text)
        (prefix / "nginx.conf").write_text(WRAPPER.format(prefix=prefix))
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(prefix, nobody.pw_uid, nobody.pw_gid)
        yield Nginx(prefix, port)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
