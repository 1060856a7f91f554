"""Storing a batch's files together: each put waits on its own I/O (a file's fsync, an S3
PUT), so the files of a batch go out at once rather than one after another."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from huajia.storage.base import BlobStore

AT_ONCE = 8  # puts in flight at most (a batch of four: each image and its thumbnail)


class BlobFile(NamedTuple):
    key: str
    data: bytes
    content_type: str


class Uploads:
    """Puts files on one blob store, several at a time, from a pool kept for the worker."""

    def __init__(self, blobs: BlobStore, at_once: int = AT_ONCE) -> None:
        self.blobs = blobs
        self._pool = ThreadPoolExecutor(at_once, thread_name_prefix="upload")

    def put_all(self, files: Sequence[BlobFile], written: list[str]) -> None:
        """Store every file; `written` receives the key of each one stored, also when another
        failed (its error is raised once all have ended), so the caller can remove them."""
        if len(files) == 1:  # nothing to overlap: no hop through the pool
            self.blobs.put(*files[0])
            written.append(files[0].key)
            return
        running = [(file.key, self._pool.submit(self.blobs.put, *file)) for file in files]
        failure: BaseException | None = None
        for key, future in running:
            error = future.exception()
            if error is None:
                written.append(key)
            elif failure is None:
                failure = error
        if failure is not None:
            raise failure

    def close(self) -> None:
        self._pool.shutdown()
