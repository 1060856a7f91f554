"""API keys: random secrets shown once, stored only as hashes, and the principals they name."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "hj_"
# 32 random bytes (256 bits) as url-safe base64: 43 characters after the prefix.
_SECRET_BYTES = 32
# Shown in key lists and logs so people can tell keys apart; 8 characters of the random
# part (48 bits) identify a key without helping anyone guess the other 35.
_VISIBLE_CHARACTERS = len(KEY_PREFIX) + 8
_KEY_SHAPE = re.compile(r"hj_[A-Za-z0-9_-]{32,128}", re.ASCII)
LOCAL_KEY_ID = "local"


class Role(StrEnum):
    """What a key may do: editors generate and see their own tasks; admins see everything.

    Reviewers may do what editors may, and review results waiting for review."""

    EDITOR = "editor"
    ADMIN = "admin"
    REVIEWER = "reviewer"


@dataclass(frozen=True)
class Principal:
    """The caller behind a request. It holds no secret, so its repr is safe to log."""

    key_id: str
    name: str
    role: Role
    is_local: bool = False

    @classmethod
    def local(cls) -> Principal:
        """The caller on this machine when authentication is off (localhost use)."""
        return cls(key_id=LOCAL_KEY_ID, name="local user", role=Role.ADMIN, is_local=True)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN or self.is_local


def generate_key() -> tuple[str, str]:
    """A new secret (`hj_` + 43 url-safe characters) and its displayable prefix."""
    secret = KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    return secret, key_prefix(secret)


def key_prefix(secret: str) -> str:
    """The part of a key that may be shown in lists and logs."""
    return secret[:_VISIBLE_CHARACTERS]


def looks_like_key(secret: str) -> bool:
    """Whether `secret` has the shape of a Huajia key; anything else needs no lookup."""
    return _KEY_SHAPE.fullmatch(secret) is not None


def hash_key(secret: str) -> str:
    """The stored form of a key: SHA-256, hex.

    A slow password hash (bcrypt, argon2) protects low-entropy human passwords from guessing;
    these keys carry 256 random bits, which no amount of guessing reaches, so a fast hash
    loses nothing and lets every request be checked by one indexed lookup.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_matches(secret: str, stored_hash: str) -> bool:
    """Whether `secret` is the key stored as `stored_hash`, compared in constant time."""
    return hmac.compare_digest(hash_key(secret), stored_hash.lower())
