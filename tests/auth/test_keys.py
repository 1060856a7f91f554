"""API keys: unguessable, stored only as hashes, never shown by a principal."""

from __future__ import annotations

import hashlib
import re

from huajia.auth.keys import (
    Principal,
    Role,
    generate_key,
    hash_key,
    key_matches,
    key_prefix,
    looks_like_key,
)


def test_generated_key_is_long_random_and_url_safe() -> None:
    secret, prefix = generate_key()
    assert re.fullmatch(r"hj_[A-Za-z0-9_-]{32,}", secret)
    assert secret.startswith(prefix)
    assert len(prefix) < len(secret) // 2
    assert looks_like_key(secret)


def test_keys_and_prefixes_do_not_repeat() -> None:
    keys = [generate_key() for _ in range(500)]
    assert len({secret for secret, _ in keys}) == 500
    assert len({prefix for _, prefix in keys}) == 500


def test_hash_is_sha256_hex_and_not_the_secret() -> None:
    secret, _ = generate_key()
    stored = hash_key(secret)
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored
    assert hash_key(secret) == stored  # deterministic: looked up by an index


def test_key_matches_only_its_own_hash() -> None:
    secret, _ = generate_key()
    other, _ = generate_key()
    stored = hash_key(secret)
    assert key_matches(secret, stored)
    assert key_matches(secret, stored.upper())
    assert not key_matches(other, stored)
    assert not key_matches(secret[:-1], stored)
    assert not key_matches(secret, "")


def test_prefix_of_a_given_key() -> None:
    assert key_prefix("hj_ABCDEFGHijklmnop") == "hj_ABCDEFGH"


def test_things_that_are_not_keys() -> None:
    for candidate in ["", "hj_", "hj_short", "sk-" + "a" * 40, "hj_" + "a" * 40 + " ", "x" * 50]:
        assert not looks_like_key(candidate)


def test_principal_shows_no_secret_and_names_its_role() -> None:
    secret, prefix = generate_key()
    editor = Principal(key_id=prefix, name="王编辑", role=Role.EDITOR)
    assert secret not in repr(editor)
    assert "王编辑" in repr(editor)
    assert not editor.is_admin
    assert Principal(key_id="k2", name="ops", role=Role.ADMIN).is_admin


def test_local_principal_is_an_unauthenticated_admin() -> None:
    local = Principal.local()
    assert local.is_local
    assert local.is_admin
    assert local == Principal.local()


def test_role_values_are_the_stored_strings() -> None:
    assert Role("editor") is Role.EDITOR
    assert str(Role.ADMIN) == "admin"
