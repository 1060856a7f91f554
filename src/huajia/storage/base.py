"""The blob store interface and the key scheme every implementation shares.

Keys are `YYYYMMDD/<name>` with a strict character set, so a key is also a safe relative path
and a safe object name; anything else is refused before it reaches a disk or a bucket.
"""

from __future__ import annotations

import re
import secrets
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path

from huajia.errors import InvalidRequest, NotFound

# One date folder, then a name of letters, digits, '-' and '_' with dot-separated suffixes:
# no '..', no slashes or backslashes, no '%', no NUL, nothing absolute. ASCII only, because
# Unicode digits and look-alike letters must not slip through.
KEY_PATTERN = re.compile(r"[0-9]{8}/[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*", re.ASCII)
MAX_KEY_LENGTH = 200
_EXTENSION = re.compile(r"[a-z0-9]{1,8}", re.ASCII)
_TASK_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]", re.ASCII)
# 128 random bits: image URLs may be shared without a login, so names must not be guessable.
_RANDOM_BYTES = 16


def is_valid_key(key: str) -> bool:
    """Whether `key` follows the key scheme (and so cannot escape a store's root)."""
    return len(key) <= MAX_KEY_LENGTH and KEY_PATTERN.fullmatch(key) is not None


def checked_key(key: str) -> str:
    """`key` itself, or NotFound: a key outside the scheme names no blob (HTTP 404)."""
    if not is_valid_key(key):
        raise NotFound("no image is stored under this key")
    return key


def new_image_key(task_id: str, index: int, extension: str, now: datetime) -> str:
    """A fresh key `YYYYMMDD/<task>-<index>-<random>.<ext>`, dated by `now` in UTC."""
    if _EXTENSION.fullmatch(extension) is None:
        raise InvalidRequest(f"image extension {extension!r} is not 1-8 lowercase letters/digits")
    if index < 0:
        raise InvalidRequest(f"image index must not be negative, not {index}")
    day = now.astimezone(UTC) if now.tzinfo is not None else now
    task = _TASK_ID_UNSAFE.sub("", task_id)[:64] or "task"
    return f"{day:%Y%m%d}/{task}-{index}-{secrets.token_hex(_RANDOM_BYTES)}.{extension}"


def thumbnail_key(image_key: str) -> str:
    """The key of an image's preview, kept beside it in the same date folder."""
    stem = checked_key(image_key).rsplit(".", 1)[0]
    return f"{stem}.thumb.webp"


# Bytes of an image waiting for (or refused by) a reviewer live under a held name in the same
# folder; /generated-images never serves one. Hex task ids never start with 'h', so a held
# name cannot collide with a public one.
HELD_PREFIX = "held-"


def is_held(key: str) -> bool:
    """Whether `key` names held bytes (not publishable: awaiting review, or rejected)."""
    return key.partition("/")[2].startswith(HELD_PREFIX)


def held_key(key: str) -> str:
    """The held name of a public key (a held key is returned unchanged)."""
    if is_held(key):
        return key
    folder, _, name = checked_key(key).partition("/")
    return f"{folder}/{HELD_PREFIX}{name}"


def public_key(key: str) -> str:
    """The public name of a held key (a public key is returned unchanged)."""
    if not is_held(key):
        return key
    folder, _, name = checked_key(key).partition("/")
    return f"{folder}/{name.removeprefix(HELD_PREFIX)}"


class BlobStore(ABC):
    """Bytes by key. Implementations never hand out locations a caller could misuse."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there, all or nothing."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under `key`; NotFound when there are none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether bytes are stored under `key` (False for keys outside the scheme)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; deleting what is already gone is not an error."""

    @abstractmethod
    def size(self, key: str) -> int:
        """How many bytes are stored under `key`; NotFound when there are none."""

    def local_path(self, key: str) -> Path | None:
        """A file on this machine holding `key`, for zero-copy serving; None if there is none."""
        checked_key(key)
        return None
