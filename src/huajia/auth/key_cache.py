"""Valid API keys remembered for a few seconds, and their last use written once a minute.

Without it every authenticated request reads `api_keys` and writes `last_used_at`. A key found
is trusted for `ttl` seconds: a key revoked by another process (the CLI, another API process)
is refused within that bound; one revoked through this process (`revoke`) is refused at once.
Keys not found are never remembered, so a key created elsewhere works on its first request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from huajia.jobs.model import ApiKey
from huajia.jobs.store import ApiKeyStore

TOUCH_EVERY_S = 60.0
MAX_KEYS = 10_000  # more distinct keys than this in one TTL: the cache starts over


class KeyCache:
    """Lookups by secret hash through a short-lived cache; `touch` throttled per key."""

    def __init__(self, keys: ApiKeyStore, ttl: float, touch_every: float = TOUCH_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._keys = keys
        self._ttl = ttl
        self._touch_every = touch_every
        self._clock = clock
        self._found: dict[str, tuple[ApiKey, float]] = {}  # hash -> key, looked up at
        self._touched: dict[str, float] = {}  # key id -> last written at
        self._lock = threading.Lock()

    def remembered(self, key_hash: str) -> ApiKey | None:
        """The key with this hash when the cache holds it fresh and its use needs no write
        now: an answer without the store (None: ask `find` and `used`)."""
        now = self._clock()
        with self._lock:
            cached = self._found.get(key_hash)
            if cached is None or now - cached[1] >= self._ttl:
                return None
            key = cached[0]
            last = self._touched.get(key.id)
        if last is None or now - last >= self._touch_every:
            return None
        return key

    def find(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash, from the cache while fresh, else from the store."""
        now = self._clock()
        with self._lock:
            cached = self._found.get(key_hash)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        key = self._keys.find_by_hash(key_hash)
        with self._lock:
            if key is None or self._ttl <= 0:
                self._found.pop(key_hash, None)
            else:
                if len(self._found) >= MAX_KEYS:
                    self._found.clear()
                self._found[key_hash] = (key, now)
        return key

    def used(self, key_id: str) -> None:
        """Record a use in the store unless one was recorded less than a minute ago."""
        now = self._clock()
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < self._touch_every:
                return
            self._touched[key_id] = now
        self._keys.touch(key_id)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key in the store and forget it here: refused from the next request."""
        revoked = self._keys.revoke(key_id)
        self.forget(key_id)
        return revoked

    def forget(self, key_id: str) -> None:
        with self._lock:
            for key_hash, (key, _) in list(self._found.items()):
                if key.id == key_id:
                    del self._found[key_hash]
