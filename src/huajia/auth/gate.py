"""Who is calling: the holder of an API key, or a caller provably on this machine.

The `auth` setting chooses:

- ``keys``: every call needs a valid key.
- ``open-local``: a call without a valid key is served as the local user (an admin) only when
  the socket's peer is a loopback address, no proxy forwarding header is present and the Host
  header names a loopback address. A local TCP forwarder or reverse proxy adds a forwarding
  header or brings another Host; a web page rebinding its DNS name to 127.0.0.1 sends its own
  name as Host. All of those are refused.
- ``auto`` (the default): open-local until the first key is created, keys from then on. The
  switch is one way: revoked keys still count, so revoking the last key locks the service
  rather than opening it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huajia.auth.key_cache import KeyCache
from huajia.auth.keys import Principal, hash_key, looks_like_key
from huajia.errors import ConfigurationError, Unauthorized
from huajia.jobs.model import ApiKey
from huajia.jobs.store import ApiKeyStore
from huajia.settings import AuthMode

# Headers a proxy or forwarder adds; any of them means the peer is not the real caller.
FORWARDING_HEADERS = frozenset(
    {"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
     "x-forwarded-port", "x-real-ip", "x-client-ip", "true-client-ip", "via"}
)  # fmt: skip
# Written beside the data when keys exist: a database that later comes up without keys
# (missing, emptied, pointed elsewhere) must not quietly open the service.
KEYS_MARKER = "auth-keys-expected"


@dataclass(frozen=True, slots=True)
class Caller:
    """What a request says about its sender (the secret stays out of repr)."""

    peer: str | None
    host_header: str | None
    forwarded: bool
    secret: str | None = None

    def __repr__(self) -> str:
        return f"Caller(peer={self.peer!r}, host={self.host_header!r}, forwarded={self.forwarded})"

    @property
    def is_local(self) -> bool:
        """Loopback peer, no forwarding header, and a loopback Host."""
        return (
            not self.forwarded
            and is_loopback_address(self.peer)
            and is_loopback_host(self.host_header)
        )


class AuthGate:
    """Turns a caller into a principal, or refuses it; never falls open."""

    def __init__(self, mode: AuthMode, keys: ApiKeyStore, cache_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._mode = mode
        self._keys = keys
        self._cache = KeyCache(keys, cache_seconds, clock=clock)  # 0: every request reads keys
        self._keys_required = mode == "keys"

    def keys_required(self) -> bool:
        """Whether every call needs a key now (once true in auto mode, true for good)."""
        if not self._keys_required and self._mode == "auto":
            self._keys_required = self._keys.ever_created()
        return self._keys_required

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key; this process refuses it from its next request (others within the
        cache's seconds)."""
        return self._cache.revoke(key_id)

    def principal_at_once(self, caller: Caller) -> Principal | None:
        """The caller's principal when a remembered key answers without the database (an
        event loop may call this); None: call `principal`, which may read and write it."""
        if caller.secret is None or not looks_like_key(caller.secret):
            return None
        key = self._cache.remembered(hash_key(caller.secret))
        return None if key is None else Principal(key_id=key.id, name=key.name, role=key.role)

    def principal(self, caller: Caller) -> Principal:
        if caller.secret is not None:
            found = self._find(caller.secret)
            if found is not None:
                return found
        if self.keys_required():
            if caller.secret is None:
                raise Unauthorized(
                    "an API key is required: send 'Authorization: Bearer <key>' or "
                    "'X-API-Key: <key>'"
                )
            raise Unauthorized("this API key is not valid (revoked or mistyped)")
        if caller.is_local:
            return Principal.local()
        raise Unauthorized(
            "without an API key this server answers only to programs on its own machine, "
            "called directly as localhost; create a key with "
            "'huajia keys create NAME --role editor'"
        )

    def _find(self, secret: str) -> Principal | None:
        if not looks_like_key(secret):
            return None
        key = self._cache.find(hash_key(secret))
        if key is None:
            return None
        self._cache.used(key.id)
        return Principal(key_id=key.id, name=key.name, role=key.role)


def is_loopback_address(address: str | None) -> bool:
    try:
        parsed = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback


def host_name(host_header: str | None) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    value = (host_header or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    name, _, port = value.rpartition(":")
    if name and port.isdigit():
        value = name
    return value.rstrip(".")


def is_loopback_host(host_header: str | None) -> bool:
    name = host_name(host_header)
    return name == "localhost" or is_loopback_address(name)


def check_auth_at_start(mode: AuthMode, keys: ApiKeyStore, data_dir: Path) -> None:
    """Refuse to start open when keys are expected but the database has none."""
    if keys.ever_created():
        remember_keys_exist(data_dir)
        return
    if mode == "keys":
        raise ConfigurationError(
            "auth = 'keys' but the database holds no API key: create one with "
            "'huajia keys create NAME --role admin' (or check database_url)"
        )
    marker = data_dir / KEYS_MARKER
    if mode == "auto" and marker.exists():
        raise ConfigurationError(
            f"API keys were created for {data_dir} but its database has none (missing, empty "
            "or another database_url?): restore it, or delete "
            f"{marker} to serve this machine without keys"
        )


def remember_keys_exist(data_dir: Path) -> None:
    marker = data_dir / KEYS_MARKER
    if not marker.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(
            "API keys exist for this data folder: 'huajia serve' will not start without keys "
            "if its database loses them.\n"
        )
