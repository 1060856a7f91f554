"""A worker finds an edit's source even when a review decision moved its bytes after submit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from huajia.errors import NotFound
from huajia.storage.base import held_key, new_image_key
from huajia.storage.local import LocalBlobStore
from huajia.worker.edits import source_bytes


def test_a_source_approved_or_rejected_after_submit_is_still_found(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    public = new_image_key("a" * 32, 0, "png", datetime.now(UTC))
    held = held_key(public)

    blobs.put(public, b"approved since", "image/png")
    assert source_bytes(blobs, held) == b"approved since"
    blobs.delete(public)
    blobs.put(held, b"rejected since", "image/png")
    assert source_bytes(blobs, public) == b"rejected since"
    blobs.delete(held)
    with pytest.raises(NotFound):
        source_bytes(blobs, public)
