"""A task's files are stored together; when one put fails, the others stored are named so the
worker can remove them (no orphan bytes), and the failure is raised."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from huajia.storage.base import new_image_key
from huajia.storage.local import LocalBlobStore
from huajia.worker.uploads import BlobFile, Uploads

NOW = datetime(2026, 11, 29, tzinfo=UTC)
FILES = [
    BlobFile(new_image_key("0" * 32, index, "png", NOW), f"image {index}".encode(), "image/png")
    for index in range(4)
]


def test_every_file_is_stored_with_the_puts_overlapping(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    together = threading.Barrier(len(FILES), timeout=10)

    class Overlapping(LocalBlobStore):
        def put(self, key: str, data: bytes, content_type: str) -> None:
            together.wait()  # passes only if every put is in flight at once
            super().put(key, data, content_type)

    uploads = Uploads(Overlapping(tmp_path))
    written: list[str] = []
    uploads.put_all(FILES, written)
    uploads.close()

    assert sorted(written) == sorted(file.key for file in FILES)
    assert [blobs.get(file.key) for file in FILES] == [file.data for file in FILES]


def test_a_failed_put_is_raised_and_the_stored_ones_are_named(tmp_path: Path) -> None:
    class Refusing(LocalBlobStore):
        def put(self, key: str, data: bytes, content_type: str) -> None:
            if key == FILES[2].key:
                raise OSError("disk full")
            super().put(key, data, content_type)

    uploads = Uploads(Refusing(tmp_path))
    written: list[str] = []
    with pytest.raises(OSError, match="disk full"):
        uploads.put_all(FILES, written)
    uploads.close()

    assert sorted(written) == sorted(file.key for file in FILES if file is not FILES[2])
