"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", so a receiver can check both
that Huajia sent the request and that it is fresh (replays are refused after a tolerance).

    Huajia-Signature: t=1764000000,v1=5f1c...e9
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Huajia-Signature"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for `body` sent at `timestamp` (now by default)."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = _digest(secret, moment, body)
    return f"t={moment},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = DEFAULT_TOLERANCE_S,
           now: int | None = None) -> bool:  # fmt: skip
    """Whether `header` signs `body` with `secret` within `tolerance_s` of now."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        moment = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    current = int(time.time()) if now is None else now
    if abs(current - moment) > tolerance_s:
        return False
    return hmac.compare_digest(given, _digest(secret, moment, body))


def _digest(secret: str, moment: int, body: bytes) -> str:
    message = str(moment).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
