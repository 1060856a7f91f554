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


def test_a_malformed_header_is_false_never_an_exception() -> None:
    header = sign(SECRET, BODY, timestamp=1_764_000_000)
    digest = header.split("v1=")[1]
    malformed = [
        "t=1764000000,v1=" + "é" * 64,
        "t=1764000000,v1=" + digest[:-1] + "\u00ff",
        "t=1764000000,v1=\udcff",
        "t=99999999999999999999999," + "v1=" + digest,
        "t=" + "9" * 5000 + ",v1=" + digest,
        "t=١٧٦٤٠٠٠٠٠٠,v1=" + digest,  # digits of another script
        "t=-1764000000,v1=" + digest,
        "t=1764000000",
        "v1=" + digest,
        "t=1764000000,v1=",
        "t=1764000000,t=1764000000,v1=" + digest,
        "t=1764000000,v1=" + digest.upper(),
        ",,,,=,=",
        "x" * 100_000,
    ]
    for value in malformed:
        assert verify(SECRET, value, BODY, now=1_764_000_010) is False, value[:40]


def test_one_of_several_v1_signatures_may_match() -> None:
    header = sign(SECRET, BODY, timestamp=1_764_000_000)
    rotated = header.replace("v1=", "v1=" + "0" * 64 + ",v1=")
    assert verify(SECRET, rotated, BODY, now=1_764_000_010)
