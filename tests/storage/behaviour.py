"""One behaviour suite for every BlobStore; each backend's test module subclasses it."""

from __future__ import annotations

import threading

import pytest

from huajia.errors import NotFound
from huajia.storage.base import BlobStore

KEY = "20250314/task42-0-0123456789abcdef.png"
OTHER = "20250314/task42-1-fedcba9876543210.webp"

TRAVERSALS = [
    "../x",
    "../../etc/passwd",
    "%2e%2e/etc/passwd",
    "%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "20250101/../../etc/passwd",
    "20250101/../20250102/a.png",
    "20250101\\..\\..\\etc\\passwd",
    "20250101/a.png\x00.txt",
    "20250101/.hidden",
    "20250101/a.png\n",
    "20250101//a.png",
    "2025010١/a.png",  # an Arabic-Indic digit
    "",
    ".",
    "20250101",
    "20250101/",
    "C:/Windows/win.ini",
    "20250101/" + "a" * 300 + ".png",
]


class BlobStoreBehaviour:
    """Subclasses provide a `store` fixture returning an empty store."""

    def test_put_then_get_returns_the_same_bytes(self, store: BlobStore) -> None:
        data = bytes(range(256)) * 40
        store.put(KEY, data, "image/png")
        assert store.get(KEY) == data
        assert store.exists(KEY)
        assert store.size(KEY) == len(data)

    def test_put_replaces_what_was_there(self, store: BlobStore) -> None:
        store.put(KEY, b"first version", "image/png")
        store.put(KEY, b"second", "image/png")
        assert store.get(KEY) == b"second"
        assert store.size(KEY) == 6

    def test_keys_are_independent(self, store: BlobStore) -> None:
        store.put(KEY, b"png bytes", "image/png")
        store.put(OTHER, b"webp bytes", "image/webp")
        store.delete(KEY)
        assert not store.exists(KEY)
        assert store.get(OTHER) == b"webp bytes"

    def test_empty_blob_is_still_a_blob(self, store: BlobStore) -> None:
        store.put(KEY, b"", "image/png")
        assert store.exists(KEY)
        assert store.get(KEY) == b""
        assert store.size(KEY) == 0

    def test_missing_key_is_not_found(self, store: BlobStore) -> None:
        assert not store.exists(KEY)
        with pytest.raises(NotFound):
            store.get(KEY)
        with pytest.raises(NotFound):
            store.size(KEY)

    def test_delete_is_idempotent(self, store: BlobStore) -> None:
        store.put(KEY, b"x", "image/png")
        store.delete(KEY)
        store.delete(KEY)
        assert not store.exists(KEY)
        with pytest.raises(NotFound):
            store.get(KEY)

    @pytest.mark.parametrize("key", TRAVERSALS)
    def test_keys_outside_the_scheme_name_nothing(self, store: BlobStore, key: str) -> None:
        assert not store.exists(key)
        with pytest.raises(NotFound):
            store.get(key)
        with pytest.raises(NotFound):
            store.size(key)
        with pytest.raises(NotFound):
            store.delete(key)
        with pytest.raises(NotFound):
            store.local_path(key)

    def test_concurrent_writers_leave_one_whole_version(self, store: BlobStore) -> None:
        versions = [bytes([n]) * 200_000 for n in range(8)]
        threads = [
            threading.Thread(target=store.put, args=(KEY, data, "image/png")) for data in versions
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.get(KEY) in versions
