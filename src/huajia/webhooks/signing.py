"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", so a receiver can check both
that Huajia sent the request and that it is fresh (replays are refused after a tolerance).

    Huajia-Signature: t=1764000000,v1=5f1c...e9
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

SIGNATURE_HEADER = "Huajia-Signature"
DEFAULT_TOLERANCE_S = 300
MAX_HEADER_CHARS = 1000
# ASCII only: \d and int() would also take other scripts' digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for `body` sent at `timestamp` (now by default)."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = _digest(secret, moment, body)
    return f"t={moment},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = DEFAULT_TOLERANCE_S,
           now: int | None = None) -> bool:  # fmt: skip
    """Whether `header` signs `body` with `secret` within `tolerance_s` of now.

    Any malformed header is simply not a valid signature: this never raises on what a sender put
    in the header, however odd (non-ASCII, huge numbers, missing or repeated parts).
    """
    parsed = _parse(header)
    if parsed is None:
        return False
    moment, given = parsed
    current = int(time.time()) if now is None else now
    if abs(current - moment) > tolerance_s:
        return False
    expected = _digest(secret, moment, body)
    return any(hmac.compare_digest(each, expected) for each in given)


def _parse(header: object) -> tuple[int, list[str]] | None:
    """The timestamp and the v1 signatures of a well-formed header, else None."""
    if not isinstance(header, str) or len(header) > MAX_HEADER_CHARS:
        return None
    fields = [part.strip().partition("=") for part in header.split(",")]
    moments = [value for key, _, value in fields if key == "t"]
    given = [value for key, _, value in fields if key == "v1" and _HEX_DIGEST.fullmatch(value)]
    if len(moments) != 1 or not _TIMESTAMP.fullmatch(moments[0]) or not given:
        return None
    return int(moments[0]), given


def _digest(secret: str, moment: int, body: bytes) -> str:
    message = str(moment).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
