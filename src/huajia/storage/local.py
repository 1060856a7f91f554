"""Blobs as files in a local folder, one sub-folder per day."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from huajia.errors import InvalidRequest, NotFound
from huajia.storage.base import BlobStore, checked_key, is_valid_key


class LocalBlobStore(BlobStore):
    """Files under `root`; writes are atomic, keys can never reach outside `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # The content type lives in the image record; a file needs none.
        if not is_valid_key(key):
            raise InvalidRequest(f"{key!r} is not a valid blob key")
        folder = (self.root / key).parent
        folder.mkdir(parents=True, exist_ok=True)
        target = self._inside_root(self.root / key)
        # Readers see either the old file or the whole new one, never a half-written one;
        # the temporary name starts with '.' so it can never match a key.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def get(self, key: str) -> bytes:
        path = self._existing_file(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError) as error:
            raise NotFound("no image is stored under this key") from error

    def exists(self, key: str) -> bool:
        try:
            self._existing_file(key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        path = self._resolved(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def size(self, key: str) -> int:
        return self._existing_file(key).stat().st_size

    def local_path(self, key: str) -> Path | None:
        return self._existing_file(key)

    def _existing_file(self, key: str) -> Path:
        path = self._resolved(key)
        if not path.is_file():
            raise NotFound("no image is stored under this key")
        return path

    def _resolved(self, key: str) -> Path:
        return self._inside_root(self.root / checked_key(key))

    def _inside_root(self, path: Path) -> Path:
        # The key pattern rules out '..'; resolving catches symlinks planted inside the root.
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise NotFound("no image is stored under this key")
        return resolved
