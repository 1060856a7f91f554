"""The Host header: answered only for the names this service goes by.

A browser page whose DNS name is rebound to this machine sends its own name as Host; a
forged Host would otherwise also become the base of the absolute URLs we hand out. So Host
is checked before anything else runs, and absolute URLs come from `public_url` or from a
Host on the list, never from an unchecked one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from huajia.api.errors import error_response
from huajia.auth.gate import host_name
from huajia.settings import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """Host names answered: exact names, `*.example.com` suffixes, or any (`*`)."""

    names: frozenset[str]
    suffixes: tuple[str, ...] = ()
    any_host: bool = False

    @classmethod
    def of(cls, patterns: list[str]) -> AllowedHosts:
        cleaned = [pattern.strip().lower().rstrip(".") for pattern in patterns if pattern.strip()]
        return cls(
            names=frozenset(host_name(p) for p in cleaned if not p.startswith("*")),
            suffixes=tuple(p[1:] for p in cleaned if p.startswith("*.")),
            any_host="*" in cleaned,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowedHosts:
        """`allowed_hosts`, or: loopback names, public_url's host and the listening address.

        Listening on every address (0.0.0.0) with neither set answers any Host, since the
        names the machine is reached by are unknown; `huajia serve` warns about it.
        """
        if settings.allowed_hosts:
            return cls.of(settings.allowed_hosts)
        patterns = list(LOOPBACK_NAMES)
        if settings.public_url:
            patterns.append(urlsplit(settings.public_url).hostname or "")
        if settings.host not in WILDCARD_ADDRESSES:
            patterns.append(settings.host)
        elif not settings.public_url:
            patterns.append("*")
        return cls.of(patterns)

    def listed(self, host_header: str | None) -> bool:
        """Whether the Host names this service by a listed name (not merely by `*`)."""
        name = host_name(host_header)
        return bool(name) and (name in self.names or name.endswith(self.suffixes))

    def accepts(self, host_header: str | None) -> bool:
        return self.any_host or self.listed(host_header)


class HostCheck:
    """ASGI middleware: 400 host_not_allowed for a Host that is not on the list."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.allowed.any_host:
            host = _header(scope, b"host")
            if not self.allowed.accepts(host):
                response = error_response(
                    scope["path"], 400, "host_not_allowed",
                    "this server does not answer to that host name; an operator may add it "
                    "to allowed_hosts (HUAJIA_ALLOWED_HOSTS)",
                )  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def public_base(settings: Settings, allowed: AllowedHosts, host_header: str | None,
                scheme: str) -> str:  # fmt: skip
    """The base of absolute URLs: public_url, else a listed Host, else the listening address."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if host_header and allowed.listed(host_header):
        return f"{scheme}://{host_header.strip()}"
    host = "127.0.0.1" if settings.host in WILDCARD_ADDRESSES else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None
