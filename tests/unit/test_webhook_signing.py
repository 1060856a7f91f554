"""Webhook signatures as a receiving CMS checks them."""

from __future__ import annotations

from huajia.webhooks.signing import sign, verify

SECRET = "whsec-test-0123456789"
BODY = b'{"event":"task.completed"}'


def test_a_signature_verifies_with_the_same_secret_and_body() -> None:
    header = sign(SECRET, BODY, timestamp=1_764_000_000)
    assert header.startswith("t=1764000000,v1=")
    assert verify(SECRET, header, BODY, now=1_764_000_010)


def test_tampering_a_wrong_secret_or_a_stale_timestamp_fail() -> None:
    header = sign(SECRET, BODY, timestamp=1_764_000_000)
    assert not verify(SECRET, header, BODY + b" ", now=1_764_000_010)
    assert not verify("another-secret", header, BODY, now=1_764_000_010)
    assert not verify(SECRET, header, BODY, now=1_764_000_000 + 301), "replayed too late"
    assert not verify(SECRET, "t=abc,v1=00", BODY)
    assert not verify(SECRET, "", BODY)
